"""A small HTTP(S) client for the live tests: connect to an IP, verify TLS for a service *name*.

Services are reached at their loopback address, but their certificates name them as the stack does
(prometheus, alertmanager, monitoring.localhost), so the client connects to the IP and sends SNI and
checks the certificate for the name, exactly as a client inside the stack would.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.live import progress


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `ip` while SNI, certificate check and Host header use the service name."""

    def __init__(self, ip: str, name: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(name, port, context=context, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def tls_context(ca_file: str | None, minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    return context


class Endpoint:
    """One server; `base` is the path it serves under (Prometheus's --web.route-prefix, "/prometheus"),
    put before every request path, so callers write API paths as the API documents them."""

    def __init__(
        self,
        ip: str,
        port: int,
        *,
        name: str | None = None,
        ca_file: str | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float = 5.0,
        base: str = "",
    ) -> None:
        self.ip, self.port, self.name = ip, port, name
        self.ca_file, self.auth, self.timeout, self.base = ca_file, auth, timeout, base

    @property
    def tls(self) -> bool:
        return self.name is not None

    def with_auth(self, auth: tuple[str, str] | None) -> Endpoint:
        return Endpoint(self.ip, self.port, name=self.name, ca_file=self.ca_file, auth=auth, timeout=self.timeout, base=self.base)

    def _connection(self, context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(self.ip, self.port, timeout=self.timeout)
        return _PinnedHTTPSConnection(self.ip, self.name, self.port, context or tls_context(self.ca_file), self.timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None, context: ssl.SSLContext | None = None
    ) -> Response:
        all_headers = dict(headers or {})
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        connection = self._connection(context)
        try:
            connection.request(method, self.base + path, body=body, headers=all_headers)
            reply = connection.getresponse()
            return Response(reply.status, tuple(reply.getheaders()), reply.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: bytes = b"", **kwargs) -> Response:
        return self.request("POST", path, body=body, **kwargs)

    def handshake(self, context: ssl.SSLContext) -> str:
        """Complete a TLS handshake only; returns the negotiated protocol (raises ssl.SSLError if refused)."""
        with socket.create_connection((self.ip, self.port), self.timeout) as sock:
            with context.wrap_socket(sock, server_hostname=self.name) as tls:
                return tls.version()


class PrometheusAPI:
    """The parts of Prometheus's (and Alertmanager's) HTTP API the tests read."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def _data(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        reply = self.endpoint.get(f"{path}?{query}" if query else path)
        if reply.status != 200:
            raise AssertionError(f"GET {path} -> {reply.status}: {reply.body[:300]!r}")
        document = reply.json()
        if document.get("status") != "success":
            raise AssertionError(f"GET {path}: {document}")
        return document["data"]

    def query(self, expr: str, time_: float | None = None) -> list[dict]:
        return self._data("/api/v1/query", query=expr, time=time_)["result"]

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, None when the result is empty."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise AssertionError(f"{expr} returned {len(result)} series, expected one: {result}")
        return float(result[0]["value"][1])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self._data("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"]

    def targets(self) -> list[dict]:
        return self._data("/api/v1/targets", state="active")["activeTargets"]

    def alerts(self) -> list[dict]:
        return self._data("/api/v1/alerts")["alerts"]

    def rules(self) -> list[dict]:
        return self._data("/api/v1/rules")["groups"]


class AlertmanagerAPI:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        reply = self.endpoint.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else None)
        if reply.status not in (200, 201):
            raise AssertionError(f"{method} {path} -> {reply.status}: {reply.body[:300]!r}")
        return reply.json() if reply.body else None

    def alerts(self) -> list[dict]:
        return self._json("GET", "/api/v2/alerts")

    def groups(self) -> list[dict]:
        return self._json("GET", "/api/v2/alerts/groups")

    def post_alerts(self, alerts: list[dict]) -> None:
        """POST /api/v2/alerts, as Prometheus sends them."""
        self._json("POST", "/api/v2/alerts", alerts)

    def silences(self) -> list[dict]:
        return self._json("GET", "/api/v2/silences")

    def add_silence(self, matchers: Mapping[str, str], hours: float, comment: str) -> str:
        now = time.time()
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": _rfc3339(now),
            "endsAt": _rfc3339(now + hours * 3600),
            "createdBy": "tests/live",
            "comment": comment,
        }
        return self._json("POST", "/api/v2/silences", body)["silenceID"]


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    """Call `check` until it returns something truthy; bounded by `timeout` seconds.

    Exceptions from `check` count as "not yet" (a server that is still starting refuses connections);
    the last one is reported if time runs out. A long wait says what it waits for (tests/live/progress.py).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    attempts = 0
    wait = progress.Wait(what, timeout)
    while True:
        attempts += 1
        try:
            result = check()
            if result:
                wait.done()
                return result
            last_error = None
        except (OSError, AssertionError, ValueError, http.client.HTTPException) as error:
            last_error = error
        if time.monotonic() >= deadline:
            wait.done(reached=False)
            detail = f"; last error: {last_error!r}" if last_error else ""
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s ({attempts} attempts){detail}")
        wait.tick()
        time.sleep(interval)
