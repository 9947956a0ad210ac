"""The admin-password resource against a local HTTPS stand-in for Grafana's user API.

Grafana applies GF_SECURITY_ADMIN_PASSWORD only on its first start; these tests prove a changed
password is really set through the API (with the previous one from state), that a re-run is harmless,
that an impossible situation fails with an actionable message, and that the password never goes to
a server the roots it was given did not certify: only the stack CA (`trust: ca`), or the system store
plus an optional extra CA (`trust: system`; the system store is modelled with SSL_CERT_FILE).
"""

from __future__ import annotations

import pytest

from components.grafana import admin
from components.grafana.admin import AdminPasswordError, AdminPasswordProvider
from tests.certs import ThrowawayCA
from tests.grafana_stub import UserAPI
from tests.http_stub import StubServer

USER = "ngx-admin"


@pytest.fixture
def grafana(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    api = UserAPI(USER, "first-password")
    server = StubServer(api.respond, tls=ca.server_context("grafana", ["localhost"], ["127.0.0.1"]))
    props = {"url": f"{server.url}/grafana/", "trust": admin.TRUST_CA, "ca_pem": ca.ca_pem, "user": USER}
    yield props, api
    server.close()


def test_create_checks_that_grafana_accepts_the_password(grafana):
    props, api = grafana
    result = AdminPasswordProvider().create({**props, "password": "first-password"})
    assert result.id == USER and result.outs["password"] == "first-password"
    with pytest.raises(AdminPasswordError, match="grafana.adminPassword"):
        AdminPasswordProvider().create({**props, "password": "not-the-password"})


def test_a_changed_password_is_set_through_the_api_with_the_previous_one(grafana):
    props, api = grafana
    olds, news = {**props, "password": "first-password"}, {**props, "password": "second-password"}
    assert AdminPasswordProvider().diff(USER, olds, news).changes is True
    result = AdminPasswordProvider().update(USER, olds, news)
    assert api.password == "second-password" and result.outs["password"] == "second-password"
    assert ("PUT", "/grafana/api/user/password") in api.requests


def test_update_is_idempotent_when_grafana_already_has_the_new_password(grafana):
    """A run that stopped after the API call must not fail the next one."""
    props, api = grafana
    api.password = "second-password"
    AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "second-password"})
    assert api.password == "second-password"
    assert ("PUT", "/grafana/api/user/password") not in api.requests


def test_a_password_changed_outside_the_stack_is_reported_not_guessed(grafana):
    props, api = grafana
    api.password = "set-in-the-ui"
    with pytest.raises(AdminPasswordError, match="neither the previous nor the new"):
        AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "second-password"})


def test_grafana_refusing_the_new_password_is_reported(grafana):
    props, api = grafana
    with pytest.raises(AdminPasswordError, match="too short"):
        AdminPasswordProvider().update(USER, {**props, "password": "first-password"}, {**props, "password": "x"})
    assert api.password == "first-password"


def test_an_unchanged_password_is_no_change_and_a_renamed_admin_is_refused(grafana):
    props, _ = grafana
    same = {**props, "password": "first-password"}
    assert AdminPasswordProvider().diff(USER, same, dict(same)).changes is False
    with pytest.raises(AdminPasswordError, match="grafana.adminUser cannot change"):
        AdminPasswordProvider().diff(USER, same, {**same, "user": "someone-else"})


def test_the_password_only_goes_to_a_server_the_stacks_ca_certified(grafana, tmp_path):
    props, api = grafana
    other = ThrowawayCA(tmp_path / "other")
    with pytest.raises(AdminPasswordError, match="cannot verify"):
        admin.accepts({**props, "ca_pem": other.ca_pem}, "first-password")
    with pytest.raises(AdminPasswordError, match="only https"):
        admin.accepts({**props, "url": props["url"].replace("https://", "http://")}, "first-password")
    assert api.requests == []


def test_system_trust_uses_the_system_store_and_adds_the_extra_ca(grafana, tmp_path, monkeypatch):
    """`trust: system` is what the public-URL clients get when the public certificate is not the
    stack's. The stand-in's CA plays the public CA: in the system store (SSL_CERT_FILE) it is trusted
    with no ca_pem; outside it, only as the extra CA; the old `cadata`-only context would have
    ignored the store and refused."""
    props, _ = grafana
    stand_in_ca = props["ca_pem"]
    unrelated = ThrowawayCA(tmp_path / "unrelated").ca_pem
    store = tmp_path / "store.pem"
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    monkeypatch.setenv("SSL_CERT_FILE", str(store))

    store.write_text(stand_in_ca)
    assert admin.accepts({**props, "trust": admin.TRUST_SYSTEM, "ca_pem": ""}, "first-password")
    assert admin.accepts({**props, "trust": admin.TRUST_SYSTEM, "ca_pem": unrelated}, "first-password")
    with pytest.raises(AdminPasswordError, match="cannot verify"):
        admin.accepts({**props, "trust": admin.TRUST_CA, "ca_pem": unrelated}, "first-password")

    store.write_text(unrelated)
    monkeypatch.setattr(admin.time, "sleep", lambda seconds: None)  # it waits for a verifiable certificate first
    with pytest.raises(AdminPasswordError, match="cannot verify"):
        admin.accepts({**props, "trust": admin.TRUST_SYSTEM, "ca_pem": ""}, "first-password")
    assert admin.accepts({**props, "trust": admin.TRUST_SYSTEM, "ca_pem": stand_in_ca}, "first-password")


def test_a_changed_trust_is_a_diff_and_an_unknown_one_is_refused(grafana):
    props, _ = grafana
    olds = {**props, "password": "first-password"}
    assert AdminPasswordProvider().diff(USER, olds, {**olds, "trust": admin.TRUST_SYSTEM}).changes is True
    with pytest.raises(AdminPasswordError, match="unknown trust"):
        admin.accepts({**props, "trust": "anything"}, "first-password")
    with pytest.raises(AdminPasswordError, match="given none"):
        admin.accepts({**props, "ca_pem": ""}, "first-password")


def test_system_trust_waits_for_the_issued_certificate_and_ca_trust_does_not(tmp_path, monkeypatch):
    """A first deploy with cert-manager: the Ingress serves the controller's placeholder until the
    certificate is issued. The public-URL client (`trust: system`) keeps trying until it can verify,
    without counting those tries as attempts; a client that trusts only the stack CA fails at once."""
    public = ThrowawayCA(tmp_path / "public")
    placeholder = ThrowawayCA(tmp_path / "placeholder")
    context = placeholder.server_context("fake", ["localhost"], ["127.0.0.1"])
    public.issue("grafana", ["localhost"], ["127.0.0.1"])
    api = UserAPI(USER, "first-password")
    server = StubServer(api.respond, tls=context)
    store = tmp_path / "store.pem"
    store.write_text(public.ca_pem)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    monkeypatch.setenv("SSL_CERT_FILE", str(store))
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:  # cert-manager stores the certificate; the controller serves it
            context.load_cert_chain(public.dir / "grafana.crt", public.dir / "grafana.key")

    monkeypatch.setattr(admin.time, "sleep", sleep)
    props = {"url": f"{server.url}/grafana/", "user": USER, "ca_pem": ""}
    try:
        with pytest.raises(AdminPasswordError, match="cannot verify"):
            admin.accepts({**props, "trust": admin.TRUST_CA, "ca_pem": public.ca_pem}, "first-password")
        assert waits == []
        assert admin.accepts({**props, "trust": admin.TRUST_SYSTEM}, "first-password")
        assert waits == [admin.CERTIFICATE_RETRY_SECONDS] * 3
        assert len(api.requests) == 1
    finally:
        server.close()
