"""The deploy-annotation command against a local stub of Grafana's API that records each request."""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops import annotate_deploy
from tests.certs import ThrowawayCA
from tests.conftest import ROOT


class _Recorder(BaseHTTPRequestHandler):
    requests: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"method": "POST", "path": self.path, "auth": self.headers["Authorization"],
                                    "type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": 42, "message": "Annotation added"}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def grafana_stub(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    leaf = ca.issue("grafana", ["localhost"], ["127.0.0.1"])
    (tmp_path / "tls.crt").write_text(leaf.cert)
    (tmp_path / "tls.key").write_text(leaf.key)
    handler = type("Handler", (_Recorder,), {"requests": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll: shutdown() waits up to one poll interval (0.5 s by default) in every teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    (tmp_path / "ca.pem").write_text(ca.ca_pem)
    yield f"https://127.0.0.1:{server.server_address[1]}/grafana", handler, tmp_path / "ca.pem"
    server.shutdown()
    server.server_close()


def _run(*args, env=None):
    return subprocess.run([sys.executable, "ops/annotate_deploy.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, env=env)


def test_posts_one_deploy_annotation_with_bearer_token(grafana_stub):
    url, handler, ca = grafana_stub
    result = _run("--url", url, "--ca-file", str(ca), "--version", "1.4.2", "--environment", "prod",
                  "--commit", "0123456789abcdef", env={"GRAFANA_TOKEN": "glsa_test_token", "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    assert "annotation 42" in result.stdout
    [request] = handler.requests
    assert request["method"] == "POST" and request["path"] == "/grafana/api/annotations"
    assert request["auth"] == "Bearer glsa_test_token" and request["type"] == "application/json"
    assert request["body"]["tags"] == ["deploy", "env:prod", "version:1.4.2"]
    assert "0123456789ab" in request["body"]["text"] and isinstance(request["body"]["time"], int)


def test_refuses_an_untrusted_certificate(grafana_stub, tmp_path):
    url, handler, _ = grafana_stub
    other = ThrowawayCA(tmp_path / "other")
    (tmp_path / "other.pem").write_text(other.ca_pem)
    result = _run("--url", url, "--ca-file", str(tmp_path / "other.pem"), "--version", "1", "--environment", "dev",
                  "--commit", "abc", env={"GRAFANA_TOKEN": "t", "PATH": "/usr/bin"})
    assert result.returncode == 1 and "cannot reach Grafana" in result.stderr
    assert handler.requests == []


def test_reports_an_http_error(grafana_stub):
    url, handler, ca = grafana_stub
    handler.status = 403
    result = _run("--url", url, "--ca-file", str(ca), "--version", "1", "--environment", "dev", "--commit", "abc",
                  env={"GRAFANA_TOKEN": "t", "PATH": "/usr/bin"})
    assert result.returncode == 1 and "403" in result.stderr


def test_missing_token_is_a_usage_error():
    result = _run("--url", "https://x", "--version", "1", "--environment", "dev", "--commit", "abc", env={"PATH": "/usr/bin"})
    assert result.returncode == 2 and "GRAFANA_TOKEN" in result.stderr


def test_uses_only_the_standard_library():
    source = (ROOT / "ops" / "annotate_deploy.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "json", "os", "ssl", "sys", "time", "urllib"}
    assert annotate_deploy.TAG == "deploy"
