"""The live nginx test's driver (tests/test_render_nginx.py): runs inside a private network namespace
and mount sandbox, starts stand-in upstreams, the real nginx on the rendered file, sends it real
requests and prints their results as one JSON line.

Copied into the sandbox and run there with the base interpreter (the venv, and this repository, may
be hidden by the sandbox's private /tmp), so it uses the standard library only and imports nothing
from tests/ (not even tests/http_stub.py).
"""

import base64
import http.client
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"service": self.server.name, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # Headers the proxy must replace with its own.
        self.send_header("X-Frame-Options", "sameorigin")
        self.send_header("Strict-Transport-Security", "max-age=1")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, *args):
        pass


def serve(name, ip, port, cert=None, key=None):
    server = ThreadingHTTPServer((ip, port), Echo)
    server.name = name
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(spec_path: str) -> None:
    spec = json.load(open(spec_path))
    for upstream in spec["upstreams"]:
        serve(**upstream)

    log = open("/tmp/nginx.out", "w")
    proc = subprocess.Popen(["nginx", "-c", spec["config"], "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", 8443), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        results = {}

        def client_context(**options):
            context = ssl.create_default_context(cafile=spec["ca"])
            for name, value in options.items():
                if name == "ciphers":
                    context.set_ciphers(value)
                elif name == "alpn":
                    context.set_alpn_protocols(value)
                else:
                    setattr(context, name, value)
            return context

        def request(name, path, method="GET", port=8443, headers=None, authenticated=False, source=None):
            headers = dict(headers or {})
            if authenticated:
                token = base64.b64encode(f"{spec['user']}:{spec['password']}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            host = spec["domain"] if source is None else source
            if port == 8443:
                connection = http.client.HTTPSConnection(host, port, context=client_context(), timeout=10)
            else:
                connection = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0) if source else None)
            try:
                connection.request(method, path, headers=headers)
                response = connection.getresponse()
                body = response.read().decode(errors="replace")
                results[name] = {"status": response.status, "headers": [[k.lower(), v] for k, v in response.getheaders()], "body": body}
            except Exception as error:  # recorded, asserted by the test
                results[name] = {"error": repr(error)}
            finally:
                connection.close()

        def handshake(name, **options):
            try:
                with socket.create_connection(("127.0.0.1", 8443), timeout=5) as raw:
                    with client_context(**options).wrap_socket(raw, server_hostname=spec["domain"]) as tls:
                        results[name] = {"version": tls.version(), "alpn": tls.selected_alpn_protocol(), "cipher": tls.cipher()[0]}
            except Exception as error:
                results[name] = {"error": repr(error)}

        for item in spec["requests"]:
            request(**item)
        results["login_burst"] = []
        for _ in range(9):
            request("_login", "/grafana/login")
            results["login_burst"].append(results.pop("_login").get("status"))
        handshake("tls_default", alpn=["h2", "http/1.1"])
        handshake("tls12_gcm", maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
        handshake("tls12_cbc", maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
        handshake("tls11", minimum_version=ssl.TLSVersion.TLSv1_1, maximum_version=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")
    finally:
        proc.send_signal(15)
        proc.wait(timeout=10)
        log.close()
    results["nginx_log"] = open("/tmp/nginx.out").read()
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
