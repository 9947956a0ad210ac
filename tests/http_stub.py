"""One stub HTTP(S) server for tests: threaded, on 127.0.0.1, recording every request it receives.

A test gives it `respond(request) -> (status, headers, body)`; the stand-ins for Grafana's API
(tests/grafana_stub.py), a Pushgateway and Prometheus's snapshot API (tests/backup_fakes.py) are such
functions. With `tls=` (an ssl.SSLContext, e.g. ThrowawayCA.server_context) it speaks HTTPS.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes


Respond = Callable[[Recorded], "tuple[int, dict[str, str], bytes]"]


class StubServer:
    """A threaded HTTP server on 127.0.0.1 whose handler is `respond(request) -> (status, headers, body)`."""

    def __init__(self, respond: Respond, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length) if length else b"")
                outer.requests.append(request)
                status, headers, body = respond(request)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _any

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
