"""Where the live stack's notifications land: Slack, PagerDuty, webhooks and e-mail, with arrival times.

Alertmanager sends to the receivers exactly as rendered (https://hooks.slack.com/...,
https://events.pagerduty.com/v2/enqueue, smtp host:587 with STARTTLS and AUTH). The live harness maps
those host names to the sink's loopback address in the processes' private /etc/hosts and makes them
trust the throwaway CA that issued the sink's certificate, so nothing is rewritten and nothing leaves
the machine.

Every notification becomes a `Notification` with its arrival time (time.time(), and monotonic for
latency), the integration, the status (firing / resolved) and the alert name, parsed from the title the
rendered templates write ("[FIRING:1] APIDown (ngx-api)").
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.live import progress

_TITLE = re.compile(r"^\[(?P<status>FIRING|RESOLVED)(?::(?P<count>\d+))?\]\s+(?P<alertname>[^\s(]*)")


@dataclass(frozen=True)
class Notification:
    arrived: float  # time.time() on arrival
    arrived_monotonic: float
    integration: str  # slack | pagerduty | webhook | email
    status: str  # firing | resolved | "" when the title could not be read
    alertname: str
    title: str
    payload: Any = field(repr=False)
    meta: dict = field(default_factory=dict, repr=False)  # e.g. SMTP envelope and AUTH credentials


def _parse_title(title: str) -> tuple[str, str]:
    match = _TITLE.match(title.strip())
    if not match:
        return "", ""
    return match.group("status").lower(), match.group("alertname")


class Sink:
    HTTPS_PORT = 443
    SMTP_PORT = 587

    def __init__(self, ip: str, cert_file: str, key_file: str, https_port: int = HTTPS_PORT, smtp_port: int = SMTP_PORT, name: str = "") -> None:
        self.ip = ip
        self.label = f"{name}: " if name else ""  # the stack's name, in progress lines of long waits
        self.https_port, self.smtp_port = https_port, smtp_port  # 0: any free port (read them back after start)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert_file, key_file)
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    # --- recording ---------------------------------------------------------------------------------

    def _record(self, integration: str, title: str, payload: Any, status: str | None = None, **meta: Any) -> None:
        parsed_status, alertname = _parse_title(title)
        item = Notification(time.time(), time.monotonic(), integration, status or parsed_status, alertname, title, payload, meta)
        with self._lock:
            self._received.append(item)

    def notifications(self, integration: str | None = None, alertname: str | None = None, status: str | None = None, since: float = 0.0) -> list[Notification]:
        with self._lock:
            items = list(self._received)
        return [
            n
            for n in items
            if (integration is None or n.integration == integration)
            and (alertname is None or n.alertname == alertname)
            and (status is None or n.status == status)
            and n.arrived >= since
        ]

    def wait_for(self, timeout: float, interval: float = 0.2, **filters: Any) -> Notification:
        """The first notification matching `filters` (see `notifications`); bounded by `timeout` seconds."""
        deadline = time.monotonic() + timeout
        described = " ".join(str(value) for key, value in filters.items() if key != "since")
        wait = progress.Wait(f"{self.label}{described} notification", timeout)
        while True:
            found = self.notifications(**filters)
            if found:
                wait.done()
                return found[0]
            if time.monotonic() >= deadline:
                wait.done(reached=False)
                seen = [(n.integration, n.status, n.alertname) for n in self.notifications()]
                raise TimeoutError(f"no notification matching {filters} within {timeout:.0f}s; received: {seen}")
            wait.tick()
            time.sleep(interval)

    # --- servers -----------------------------------------------------------------------------------

    def start(self) -> Sink:
        https = ThreadingHTTPServer((self.ip, self.https_port), self._http_handler())
        https.socket = self._context.wrap_socket(https.socket, server_side=True)
        smtp = _SMTPServer((self.ip, self.smtp_port), _SMTPHandler)
        smtp.sink, smtp.tls_context = self, self._context
        self.https_port, self.smtp_port = https.server_address[1], smtp.server_address[1]
        for server in (https, smtp):
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name=f"sink-{type(server).__name__}-{self.ip}")
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _http_handler(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    payload = raw.decode(errors="replace")
                host = (self.headers.get("Host") or "").split(":")[0]
                reply: dict = {"ok": True}
                status = 200
                if host == "events.pagerduty.com":
                    action = payload.get("event_action", "") if isinstance(payload, dict) else ""
                    title = (payload.get("payload") or {}).get("summary", "") if isinstance(payload, dict) else ""
                    sink._record("pagerduty", title, payload, {"trigger": "firing", "resolve": "resolved"}.get(action, ""), path=self.path)
                    reply, status = {"status": "success", "message": "Event processed", "dedup_key": payload.get("dedup_key")}, 202
                elif host == "hooks.slack.com":
                    attachments = payload.get("attachments") or [{}] if isinstance(payload, dict) else [{}]
                    sink._record("slack", attachments[0].get("title", ""), payload, path=self.path)
                else:
                    status_ = payload.get("status", "") if isinstance(payload, dict) else ""
                    labels = payload.get("commonLabels", {}) if isinstance(payload, dict) else {}
                    title = f"[{status_.upper()}] {labels.get('alertname', '')}"
                    sink._record("webhook", title, payload, path=self.path, host=host)
                body = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def _address(argument: str) -> str:
    """The address of `FROM:<a@b> BODY=8BITMIME` or `TO:<a@b>`."""
    match = re.search(r"<([^>]*)>", argument)
    return match.group(1) if match else argument.partition(":")[2].split()[0]


class _SMTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    sink: Sink
    tls_context: ssl.SSLContext


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for Alertmanager: EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT."""

    timeout = 30
    MAX_COMMANDS = 200  # one message needs about ten; a runaway client is cut off

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def _read(self) -> str:
        return self.rfile.readline(65536).decode(errors="replace").rstrip("\r\n")

    def handle(self) -> None:
        server: _SMTPServer = self.server  # type: ignore[assignment]
        tls = False
        envelope: dict[str, Any] = {"from": None, "to": [], "auth": None}
        self._send("220 sink.livetest ESMTP")
        for _ in range(self.MAX_COMMANDS):
            line = self._read()
            if not line:
                return
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                # STARTTLS first; AUTH only once encrypted, as real submission servers do.
                lines = ["sink.livetest", "8BITMIME", "AUTH PLAIN LOGIN" if tls else "STARTTLS"]
                for index, text in enumerate(lines):
                    self._send(f"250{' ' if index == len(lines) - 1 else '-'}{text}")
            elif verb == "STARTTLS" and not tls:
                self._send("220 2.0.0 ready to start TLS")
                self.connection = server.tls_context.wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                tls = True
            elif verb == "AUTH" and tls:
                envelope["auth"] = self._auth(argument)
                self._send("235 2.7.0 authentication successful")
            elif verb == "MAIL":
                envelope["from"] = _address(argument)
                self._send("250 2.1.0 ok")
            elif verb == "RCPT":
                envelope["to"].append(_address(argument))
                self._send("250 2.1.5 ok")
            elif verb == "DATA":
                self._send("354 end data with <CR><LF>.<CR><LF>")
                message = self._data()
                parsed = email.message_from_bytes(message, policy=email.policy.default)
                server.sink._record("email", str(parsed.get("Subject", "")), parsed, tls=tls, **envelope)
                self._send("250 2.0.0 queued")
                envelope = {"from": None, "to": [], "auth": envelope["auth"]}
            elif verb in ("RSET", "NOOP"):
                self._send("250 2.0.0 ok")
            elif verb == "QUIT":
                self._send("221 2.0.0 bye")
                return
            else:
                self._send("502 5.5.2 command not implemented")

    def _auth(self, argument: str) -> tuple[str, str]:
        mechanism, _, initial = argument.partition(" ")
        if mechanism.upper() == "PLAIN":
            if not initial:
                self._send("334 ")
                initial = self._read()
            _, user, password = base64.b64decode(initial).decode().split("\0")
            return user, password
        self._send("334 " + base64.b64encode(b"Username:").decode())
        user = base64.b64decode(self._read()).decode()
        self._send("334 " + base64.b64encode(b"Password:").decode())
        return user, base64.b64decode(self._read()).decode()

    def _data(self) -> bytes:
        lines = []
        for _ in range(100_000):  # a notification is a few hundred lines at most
            line = self.rfile.readline(65536)
            if line in (b".\r\n", b".\n", b""):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)
