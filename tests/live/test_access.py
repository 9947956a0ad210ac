"""Scenario 1: the running stack is reachable only as intended.

Every target is scraped through the TLS and basic auth the rendered files configure; the proxy
refuses anonymous users, old TLS and the admin API, and sends its security headers on every answer.
"""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.parse

import pytest

import addresses
from renderers import auth, nginx
from tests.live.clients import Endpoint, tls_context, wait_until
from tests.live.stack import NOT_RUN, LiveStack
from topology import ALERTMANAGER, PROMETHEUS, PROXY, SERVICES

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")]

QUERY = "/prometheus/api/v1/query?" + urllib.parse.urlencode({"query": 'up{job="prometheus"}'})


def _targets_by_job(stack: LiveStack) -> dict[str, dict]:
    return {target["labels"]["job"]: target for target in stack.prometheus.targets()}


def test_every_target_whose_process_runs_here_is_up_and_the_others_are_reported_down(main_stack):
    """Down targets are exactly the services with no binary here (Grafana, Loki, Alloy): a target
    that should run but is down, or one reported up that cannot be, fails the test."""
    not_run_jobs = {SERVICES[service].job for service in NOT_RUN if SERVICES[service].job}

    def settled():
        targets = _targets_by_job(main_stack)
        return targets if all(t["health"] != "unknown" for t in targets.values()) else None

    targets = wait_until(settled, 30, what="every target scraped once")
    down = {job for job, target in targets.items() if target["health"] != "up"}
    assert down == not_run_jobs, {job: targets[job]["lastError"] for job in down ^ not_run_jobs}
    for job in not_run_jobs:
        assert "connection refused" in targets[job]["lastError"], targets[job]
    reasons = {SERVICES[service].job: why for service, why in NOT_RUN.items() if SERVICES[service].job}
    print("not run here, target down as expected: " + ", ".join(f"{job} ({reasons[job]})" for job in sorted(not_run_jobs)))


def test_prometheus_and_alertmanager_are_scraped_over_tls_with_basic_auth(main_stack):
    targets = _targets_by_job(main_stack)
    for service in (PROMETHEUS, ALERTMANAGER):
        target = targets[SERVICES[service].job]
        assert target["scrapeUrl"].startswith(f"https://{service}:"), target["scrapeUrl"]
        assert target["health"] == "up", target["lastError"]
        # ... and the same endpoint refuses a scraper without credentials.
        assert main_stack.endpoint(service).get("/metrics").status == 401


def _probe_here(stack: LiveStack, service: str) -> list[str]:
    """The exec probe Docker and Kubernetes run, for a server that listens on its loopback address
    here rather than on localhost. Alertmanager's runs as rendered (amtool as the probe user; its TLS
    config still checks the certificate for `localhost`). Debian's promtool 2.42 has no
    --http.config.file (the image's 3.x has), so Prometheus's runs with the rendered URL, the probe
    user's credentials in it and the stack CA in the trust store: the same server path and user."""
    probe = list(stack.deployment.services[service].spec.probe.command)
    if service == ALERTMANAGER:
        return [arg.replace("://localhost:", f"://{stack.ip(service)}:") for arg in probe]
    password = urllib.parse.quote(stack.password(auth.PROBE_USER), safe="")
    return [arg.replace("://localhost:", f"://{auth.PROBE_USER}:{password}@{service}:") for arg in probe if not arg.startswith("--http.config.file=")]


@pytest.mark.parametrize("service", [PROMETHEUS, ALERTMANAGER])
def test_the_rendered_health_check_passes_and_needs_the_route_prefix(main_stack, service):
    """Without the route prefix in its URL the same probe fails: the prefix is what makes it pass."""
    here = _probe_here(main_stack, service)
    result = main_stack.run_beside(service, here)
    assert result.returncode == 0, f"{here}\n{result.stdout}{result.stderr}"
    prefix = addresses.route_prefix(service)
    without = [arg.removesuffix(prefix) if "://" in arg else arg for arg in here]
    assert without != here
    assert main_stack.run_beside(service, without).returncode != 0


def test_anonymous_request_through_the_proxy_gets_401_and_the_admin_user_gets_data(main_stack):
    anonymous = main_stack.proxy().get(QUERY)
    assert anonymous.status == 401
    assert anonymous.header("WWW-Authenticate") == [f'Basic realm="{nginx.AUTH_REALM}"']
    wrong = main_stack.proxy().with_auth((main_stack.admin_user, "not-the-password")).get(QUERY)
    assert wrong.status == 401
    admin = main_stack.proxy(main_stack.admin_user).get(QUERY)
    assert admin.status == 200, admin.body[:300]
    result = admin.json()["data"]["result"]
    assert [series["value"][1] for series in result] == ["1"], "the proxy answered, but not with the real Prometheus's data"


def _tls11_client() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 only offers TLS 1.1 at security level 0
    return context


def test_the_tls11_client_really_speaks_tls11(main_stack, tmp_path):
    """Control for the next test: against a server that allows TLS 1.1 this client gets TLS 1.1, so a
    refusal by the stack is the stack's doing, not the client's."""
    leaf = main_stack.ca.issue("tls11-control", ["tls11-control"])
    (tmp_path / "c.pem").write_text(leaf.cert + leaf.key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.minimum_version = ssl.TLSVersion.TLSv1_1
    server_context.set_ciphers("DEFAULT:@SECLEVEL=0")
    server_context.load_cert_chain(tmp_path / "c.pem")
    with socket.create_server((main_stack.prefix + "99", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]

        def serve():
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        version = Endpoint(main_stack.prefix + "99", port, name="tls11-control").handshake(_tls11_client())
        thread.join(timeout=10)
    assert version == "TLSv1.1"


@pytest.mark.parametrize("service", [PROXY, PROMETHEUS, ALERTMANAGER])
def test_tls11_is_refused_and_tls12_and_tls13_are_accepted(main_stack, service):
    endpoint = main_stack.proxy() if service == PROXY else main_stack.endpoint(service)
    with pytest.raises(ssl.SSLError) as refused:
        endpoint.handshake(_tls11_client())
    assert "PROTOCOL_VERSION" in str(refused.value).upper() or "UNSUPPORTED_PROTOCOL" in str(refused.value).upper(), refused.value
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        negotiated = endpoint.handshake(tls_context(main_stack.ca_file, minimum=version, maximum=version))
        assert negotiated == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


def test_hsts_and_security_headers_on_proxied_and_refused_responses(main_stack):
    answers = {
        "proxied": main_stack.proxy(main_stack.admin_user).get(QUERY),
        "unauthorised": main_stack.proxy().get(QUERY),
        "forbidden": main_stack.proxy(main_stack.admin_user).post("/prometheus/api/v1/admin/tsdb/snapshot"),
        "not found": main_stack.proxy().get("/no-such-route"),
    }
    for what, answer in answers.items():
        for name, value in nginx.SECURITY_HEADERS:
            expected = nginx.CSP if value == "$ngx_csp" else value
            assert answer.header(name) == [expected], (what, name, answer.headers)
    assert answers["proxied"].header("Strict-Transport-Security") == [nginx.HSTS]


def test_plain_http_is_redirected_to_https(main_stack):
    answer = Endpoint(main_stack.ip(PROXY), SERVICES[PROXY].port("http").number).get("/prometheus/", headers={"Host": main_stack.settings.domain})
    assert answer.status == 301
    assert answer.header("Location")[0].startswith(f"https://{main_stack.settings.domain}")


def test_admin_api_is_denied_at_the_proxy_although_prometheus_serves_it(main_stack):
    """The admin API is enabled (snapshots for backups) and answers inside the stack; the proxy is what
    keeps it from users, whatever their credentials and however the path is spelled."""
    inside = main_stack.endpoint(PROMETHEUS, user=main_stack.admin_user).post("/api/v1/admin/tsdb/clean_tombstones")
    assert inside.status == 204, inside.body
    proxy = main_stack.proxy(main_stack.admin_user)
    for path in (
        "/prometheus/api/v1/admin/tsdb/snapshot",
        "/prometheus/api/v1/admin/tsdb/clean_tombstones",
        "/prometheus/api/v1/%61dmin/tsdb/snapshot",
        "/prometheus/api/v1/ADMIN/tsdb/snapshot",
        "/prometheus/api/v1/query/../admin/tsdb/snapshot",
    ):
        assert proxy.post(path).status == 403, path
    for path in ("/prometheus/-/reload", "/prometheus/-/quit", "/alertmanager/-/reload"):
        assert proxy.post(path).status == 403, path
