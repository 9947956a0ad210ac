"""The admin-password resource against a local HTTPS stand-in for Grafana's user API.

Grafana applies GF_SECURITY_ADMIN_PASSWORD only on its first start; these tests prove a changed
password is really set through the API (with the previous one from state), that a re-run is harmless,
that an impossible situation fails with an actionable message, and that the password never goes to
a server the stack's CA did not certify.
"""
from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.grafana import admin
from components.grafana.admin import AdminPasswordError, AdminPasswordProvider
from tests.certs import ThrowawayCA

USER = "ngx-admin"


class _Grafana(BaseHTTPRequestHandler):
    """GET /grafana/api/user and PUT /grafana/api/user/password, with basic auth like Grafana's."""

    password = "first-password"
    requests: list = []

    def _authorised(self) -> bool:
        expected = base64.b64encode(f"{USER}:{type(self).password}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).requests.append(("GET", self.path))
        if self.path != "/grafana/api/user":
            return self._reply(404, {"message": "not found"})
        if not self._authorised():
            return self._reply(401, {"message": "invalid username or password"})
        return self._reply(200, {"login": USER, "isGrafanaAdmin": True})

    def do_PUT(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(("PUT", self.path))
        if self.path != "/grafana/api/user/password" or not self._authorised():
            return self._reply(401, {"message": "invalid username or password"})
        if body["oldPassword"] != type(self).password or body["newPassword"] != body["confirmNew"]:
            return self._reply(400, {"message": "old password invalid"})
        if len(body["newPassword"]) < 4:
            return self._reply(400, {"message": "New password is too short"})
        type(self).password = body["newPassword"]
        return self._reply(200, {"message": "User password changed"})

    def log_message(self, *args):
        pass


@pytest.fixture
def grafana(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    leaf = ca.issue("grafana", ["localhost"], ["127.0.0.1"])
    (tmp_path / "tls.crt").write_text(leaf.cert)
    (tmp_path / "tls.key").write_text(leaf.key)
    handler = type("Handler", (_Grafana,), {"requests": [], "password": "first-password"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll: shutdown() waits up to one poll interval (0.5 s by default) in every teardown.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    props = {"url": f"https://127.0.0.1:{server.server_address[1]}/grafana/", "ca_pem": ca.ca_pem, "user": USER}
    yield props, handler
    server.shutdown()
    server.server_close()


def test_create_checks_that_grafana_accepts_the_password(grafana):
    props, handler = grafana
    result = AdminPasswordProvider().create({**props, "password": "first-password"})
    assert result.id == USER and result.outs["password"] == "first-password"
    with pytest.raises(AdminPasswordError, match="grafana.adminPassword"):
        AdminPasswordProvider().create({**props, "password": "not-the-password"})


def test_a_changed_password_is_set_through_the_api_with_the_previous_one(grafana):
    props, handler = grafana
    olds, news = {**props, "password": "first-password"}, {**props, "password": "second-password"}
    assert AdminPasswordProvider().diff(USER, olds, news).changes is True
    result = AdminPasswordProvider().update(USER, olds, news)
    assert handler.password == "second-password" and result.outs["password"] == "second-password"
    assert ("PUT", "/grafana/api/user/password") in handler.requests


def test_update_is_idempotent_when_grafana_already_has_the_new_password(grafana):
    """A run that stopped after the API call must not fail the next one."""
    props, handler = grafana
    handler.password = "second-password"
    AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "second-password"})
    assert handler.password == "second-password"
    assert ("PUT", "/grafana/api/user/password") not in handler.requests


def test_a_password_changed_outside_the_stack_is_reported_not_guessed(grafana):
    props, handler = grafana
    handler.password = "set-in-the-ui"
    with pytest.raises(AdminPasswordError, match="neither the previous nor the new"):
        AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "second-password"})


def test_grafana_refusing_the_new_password_is_reported(grafana):
    props, handler = grafana
    with pytest.raises(AdminPasswordError, match="too short"):
        AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "x"})
    assert handler.password == "first-password"


def test_an_unchanged_password_is_no_change_and_a_renamed_admin_is_refused(grafana):
    props, _ = grafana
    same = {**props, "password": "first-password"}
    assert AdminPasswordProvider().diff(USER, same, dict(same)).changes is False
    with pytest.raises(AdminPasswordError, match="grafana.adminUser cannot change"):
        AdminPasswordProvider().diff(USER, same, {**same, "user": "someone-else"})


def test_the_password_only_goes_to_a_server_the_stacks_ca_certified(grafana, tmp_path):
    props, handler = grafana
    other = ThrowawayCA(tmp_path / "other")
    with pytest.raises(AdminPasswordError, match="cannot verify"):
        admin.accepts({**props, "ca_pem": other.ca_pem}, "first-password")
    with pytest.raises(AdminPasswordError, match="only https"):
        admin.accepts({**props, "url": props["url"].replace("https://", "http://")}, "first-password")
    assert handler.requests == []
