"""nginx.conf of the TLS proxy, checked by the real nginx on the real rendered file.

`nginx -t` runs in a private mount namespace (tests/sandbox.py) where the certificate, key, CA and
htpasswd sit at the exact paths the file names, and a private /etc/hosts maps the upstream names the
file names to loopback addresses; /tmp is a private tmpfs, as in the read-only container. Nothing in
the file is rewritten. A second test goes further: it starts that nginx in a private network
namespace with stand-in upstreams (plain HTTP for Grafana and Loki, TLS for Prometheus and
Alertmanager) and sends it real requests, because the properties that matter most (headers that
silently stop being inherited, a client-chosen tenant header, an admin path reached through an
encoded URL) only show in responses.

Debian's nginx is 1.22 and the image's is 1.28; the renderer only uses syntax both accept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import addresses
from renderers import auth, nginx, paths
from settings import parse
from tests.certs import ThrowawayCA
from tests.nginx_conf import Directive, everywhere, locations_of, parse_conf, server_on_port, upstream_hosts
from tests.sandbox import Sandbox
from topology import ALERTMANAGER, GRAFANA, LOKI, PROMETHEUS

DEV = parse({"platform": "docker"}, stack="dev")
DEV_8443 = parse({"platform": "docker", "proxy": {"httpsPort": 8443}}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")
STACKS = {"docker": DEV, "docker-8443": DEV_8443, "kubernetes": PROD}

OPS_USER = DEV.proxy.admin_user
OPS_PASSWORD = "correct horse battery staple"
UPSTREAM_IPS = {GRAFANA: "127.0.0.2", PROMETHEUS: "127.0.0.3", ALERTMANAGER: "127.0.0.4", LOKI: "127.0.0.5"}
PUBLIC_CLIENT = "203.0.113.7"  # TEST-NET-3: a non-private source address inside the test's network namespace


def _sandbox(tmp_path: Path, settings, text: str) -> tuple[Sandbox, ThrowawayCA]:
    """The rendered file at its in-container path, and a real file at every path it names."""
    box = Sandbox(tmp_path / "sandbox")
    ca = ThrowawayCA(tmp_path / "ca")
    server = ca.issue("proxy", [settings.domain])
    box.put(nginx.CONFIG_FILE, text)
    placed = {
        paths.TLS_CERT: server.cert,
        paths.TLS_KEY: server.key,
        paths.TLS_CA: ca.ca_pem,
        nginx.HTPASSWD_PATH: nginx.render_htpasswd({OPS_USER: auth.bcrypt_hash(OPS_USER, OPS_PASSWORD, "test-salt-key")}),
    }
    named = {
        value
        for name in ("ssl_certificate", "ssl_certificate_key", "proxy_ssl_trusted_certificate", "auth_basic_user_file")
        for value in everywhere(text, name)
    }
    assert named == set(placed), f"the config names files the test does not provide: {named ^ set(placed)}"
    for path, content in placed.items():
        box.put(path, content, 0o644)
    for service, ip in UPSTREAM_IPS.items():
        box.hosts[addresses.host(settings, service)] = ip
    assert upstream_hosts(text) <= set(box.hosts), "an upstream name is not in the test's /etc/hosts"
    box.hosts[settings.domain] = "127.0.0.1"
    return box, ca


def _nginx_test(box: Sandbox) -> subprocess.CompletedProcess:
    # /tmp is the container's scratch space (pid, temp paths); a private tmpfs keeps the host's clean.
    return box.run(["sh", "-c", f"mount -t tmpfs tmpfs /tmp && exec nginx -t -c {nginx.CONFIG_FILE}"])


@pytest.fixture(scope="module", autouse=True)
def _tools():
    missing = [tool for tool in ("nginx", "openssl", "unshare", "ip") if not shutil.which(tool)]
    if missing or os.geteuid() != 0:
        pytest.fail(f"these tests run the real nginx in a private namespace: need root and {missing or 'nothing else'}")


# --- nginx -t on the real file -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_nginx_accepts_the_rendered_file(tmp_path, stack):
    """The file as rendered loads: certificate/key pair, CA, htpasswd path, every upstream name."""
    settings = STACKS[stack]
    box, _ = _sandbox(tmp_path, settings, nginx.render_nginx_config(settings))
    result = _nginx_test(box)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_fails_on_an_unresolvable_upstream(tmp_path):
    """The check above can fail: drop Loki from /etc/hosts and nginx refuses to start."""
    box, _ = _sandbox(tmp_path, DEV, nginx.render_nginx_config(DEV))
    del box.hosts[addresses.host(DEV, LOKI)]
    result = _nginx_test(box)
    assert result.returncode != 0
    assert 'host not found in upstream "loki"' in result.stderr


# --- properties of the text --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_tls_is_1_2_or_newer_with_aead_ciphers_only(stack):
    text = nginx.render_nginx_config(STACKS[stack])
    https = server_on_port(text, 8443)
    assert https.values("ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    ciphers = https.values("ssl_ciphers")[0].split(":")
    assert ciphers and all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20-POLY1305" in c) for c in ciphers)
    assert https.values("ssl_session_tickets") == ["off"]
    assert https.values("listen") == ["8443 ssl http2 default_server"]
    assert https.values("ssl_certificate") == [paths.TLS_CERT]
    assert https.values("ssl_certificate_key") == [paths.TLS_KEY]
    assert everywhere(text, "server_tokens") == ["off"]
    assert everywhere(text, "ssl_protocols") + everywhere(text, "proxy_ssl_protocols") == ["TLSv1.2 TLSv1.3"] * 5


def test_security_headers_are_set_once_at_server_level_and_never_overridden():
    """add_header in a location would drop every server-level header there; none may exist."""
    https = server_on_port(nginx.render_nginx_config(DEV), 8443)
    headers = {item.args[0]: item.args[1:] for item in https.all("add_header")}
    assert headers["Strict-Transport-Security"] == ["max-age=63072000; includeSubDomains", "always"]
    assert headers["X-Frame-Options"] == ["DENY", "always"]
    assert headers["X-Content-Type-Options"] == ["nosniff", "always"]
    assert set(headers) >= {"Referrer-Policy", "Content-Security-Policy", "Permissions-Policy"}
    assert all(args[-1] == "always" for args in headers.values()), "error responses need the headers too"
    for key, location in locations_of(https).items():
        assert not location.all("add_header"), key
        assert not location.all("proxy_hide_header"), key


def _refused_patterns(server: Directive) -> list[str]:
    return [location.args[1] for location in server.all("location") if location.args[0] == "~*" and location.values("return") == ["403"]]


def test_admin_api_lifecycle_and_log_deletion_are_refused():
    https = server_on_port(nginx.render_nginx_config(DEV), 8443)
    patterns = _refused_patterns(https)
    for path in (
        "/prometheus/api/v1/admin/tsdb/snapshot",
        "/api/v1/admin/tsdb/delete_series",
        "/prometheus/-/quit",
        "/alertmanager/-/reload",
        "/loki/api/v1/delete",
        "/grafana/api/datasources/proxy/uid/prom/api/v1/admin/tsdb/delete_series",
    ):
        assert any(re.search(pattern, path, re.IGNORECASE) for pattern in patterns), path
    for path in ("/prometheus/api/v1/query", "/prometheus/-/healthy", "/loki/api/v1/push", "/grafana/api/health"):
        assert not any(re.search(pattern, path, re.IGNORECASE) for pattern in patterns), path
    locations = locations_of(https)
    assert locations["= /grafana/metrics"].values("return") == ["403"]
    # Regex locations win over prefixes only when no `^~` prefix matches first.
    assert [key for key in locations if key.startswith("^~")] == ["^~ /grafana/metrics/"]


def test_basic_auth_on_prometheus_alertmanager_and_loki_but_not_grafana():
    proxied = {key: location for key, location in locations_of(server_on_port(nginx.render_nginx_config(DEV), 8443)).items() if location.all("proxy_pass")}
    protected = set()
    for key, location in proxied.items():
        route = key.split()[-1]
        expect = route.startswith(("/prometheus/", "/alertmanager/", "/loki/"))
        assert bool(location.all("auth_basic")) == expect, key
        assert location.values("auth_basic_user_file") == ([nginx.HTPASSWD_PATH] if expect else []), key
        if expect:
            protected.add(route)
    assert {"/prometheus/", "/alertmanager/", "/loki/"} <= protected
    assert nginx.HTPASSWD_PATH == "/etc/nginx/htpasswd"


@pytest.mark.parametrize("stack", ["docker", "kubernetes"])
def test_upstreams_come_from_addresses_and_tls_upstreams_are_verified(stack):
    settings = STACKS[stack]
    locations = locations_of(server_on_port(nginx.render_nginx_config(settings), 8443))
    for service in (PROMETHEUS, ALERTMANAGER):
        for key in (f"/{service}/", f"/{service}/api/"):
            location = locations[key]
            assert location.values("proxy_ssl_trusted_certificate") == [paths.TLS_CA]
            assert location.values("proxy_ssl_verify") == ["on"]
            assert location.values("proxy_ssl_name") == [service]
    # No URI part anywhere: each upstream serves the route itself, so the client's path passes unchanged.
    proxied = {key: location.values("proxy_pass") for key, location in locations.items() if location.all("proxy_pass")}
    assert len(proxied) == 10
    for key, targets in proxied.items():
        service = next(name for name, route in addresses.ROUTES.items() if key.split()[-1].startswith(route))
        assert targets == [addresses.url(settings, service)], key
    with pytest.raises(ValueError, match="URI part"):
        nginx._proxy(f"{addresses.url(settings, LOKI)}/loki/")
    live = locations["/grafana/api/live/"].values("proxy_set_header")
    assert "Upgrade $http_upgrade" in live and "Connection $connection_upgrade" in live


def test_open_file_limit_serves_every_connection_twice_over():
    """A worker at worker_connections would otherwise hit a 1024 soft limit before its own limit."""
    main = parse_conf(nginx.render_nginx_config(DEV))
    connections = int(main.all("events")[0].values("worker_connections")[0])
    assert int(main.values("worker_rlimit_nofile")[0]) >= 2 * connections


def test_every_proxied_location_sets_the_full_forwarding_headers():
    """proxy_set_header is inherited all-or-nothing: each location must carry the whole set."""
    for key, location in locations_of(server_on_port(nginx.render_nginx_config(DEV), 8443)).items():
        if location.all("proxy_pass"):
            names = {item.args[0] for item in location.all("proxy_set_header")}
            assert {"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP"} <= names, key


def test_loki_locations_set_the_tenant_header():
    settings = parse({"platform": "docker", "loki": {"tenant": "team-a"}}, stack="dev")
    locations = locations_of(server_on_port(nginx.render_nginx_config(settings), 8443))
    tenant = {
        key: [v for v in location.values("proxy_set_header") if v.lower().startswith("x-scope-orgid")]
        for key, location in locations.items()
        if location.all("proxy_pass")
    }
    loki = {key for key in tenant if "/loki/" in key}
    assert loki == {"/loki/", "= /loki/api/v1/tail"}
    for key, values in tenant.items():
        assert values == (["X-Scope-OrgID team-a"] if key in loki else []), key


def test_login_and_api_paths_are_rate_limited():
    text = nginx.render_nginx_config(DEV)
    locations = locations_of(server_on_port(text, 8443))
    assert locations["= /grafana/login"].values("limit_req")[0].startswith("zone=login ")
    for route in ("/grafana/api/", "/prometheus/api/", "/alertmanager/api/", "/loki/"):
        assert locations[route].values("limit_req")[0].startswith("zone=api "), route
    zones = {re.search(r"zone=(\w+):", zone).group(1) for zone in everywhere(text, "limit_req_zone")}
    assert zones == {"login", "api"}
    assert everywhere(text, "client_max_body_size") == [nginx.CLIENT_MAX_BODY_SIZE]


def test_unprivileged_image_paths_and_json_logs():
    text = nginx.render_nginx_config(DEV)
    main = parse_conf(text)
    assert main.values("pid") == ["/tmp/nginx.pid"]
    assert main.values("error_log") == ["stderr warn"]
    assert not everywhere(text, "user"), "the unprivileged image runs as its own user"
    http = main.all("http")[0]
    temp_paths = [value for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi") for value in http.values(f"{name}_temp_path")]
    assert len(temp_paths) == 5 and all(value.startswith("/tmp/") for value in temp_paths)
    log_format = http.all("log_format")[0].args
    assert log_format[:2] == ["ngx_json", "escape=json"]
    assert json.loads(log_format[2].replace("$status", "200").replace("$body_bytes_sent", "1").replace("$request_time", "0.1"))
    assert http.values("access_log") == ["/dev/stdout ngx_json"]
    listens = [value.split()[0] for value in everywhere(text, "listen")]
    assert sorted(listens) == ["8080", "8081", "8443"], "ports below 1024 need privileges"


def test_status_port_is_private_and_serves_stub_status():
    status = locations_of(server_on_port(nginx.render_nginx_config(DEV), 8081))
    location = status[f"= {nginx.STATUS_PATH}"]
    assert location.all("stub_status")
    order = [(item.name, " ".join(item.args)) for item in location.block if item.name in ("allow", "deny")]
    assert order[-1] == ("deny", "all")
    assert all(name == "allow" and re.match(r"^(127\.|10\.|172\.16\.|192\.168\.|100\.64\.)", source) for name, source in order[:-1])
    assert status[f"= {nginx.HEALTH_PATH}"].values("return") == ["200 ok\\n"]


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("docker", "301 https://$host$request_uri"),
        ("docker-8443", "301 https://$host:8443$request_uri"),
        ("kubernetes", "301 https://$host$request_uri"),
    ],
)
def test_http_redirect_keeps_the_https_port_users_reach(stack, expected):
    redirect = locations_of(server_on_port(nginx.render_nginx_config(STACKS[stack]), 8080))
    assert redirect["/"].values("return") == [expected]


def test_worker_processes_follow_the_cpu_limit():
    assert nginx.worker_processes(DEV) == 1  # 250m
    big = parse({"platform": "docker", "resources": {"proxy": {"cpu": "2500m", "memory": "256Mi"}}}, stack="dev")
    assert nginx.worker_processes(big) == 3


def test_rendering_is_deterministic():
    for settings in STACKS.values():
        assert nginx.render_nginx_config(settings) == nginx.render_nginx_config(settings)


def test_htpasswd_is_sorted_user_hash_lines():
    hashes = {user: auth.bcrypt_hash(user, "pw", "salt") for user in ("zed", "amy")}
    assert nginx.render_htpasswd(hashes) == f"amy:{hashes['amy']}\nzed:{hashes['zed']}\n"
    with pytest.raises(ValueError):
        nginx.render_htpasswd({"a:b": hashes["amy"]})
    with pytest.raises(ValueError):
        nginx.render_htpasswd({"amy": "plaintext"})


# --- the real nginx, serving requests ------------------------------------------------------------------

# The driver needs only the standard library, so it runs on the base interpreter: the venv may live
# under /tmp (a clone there), which the private tmpfs hides.
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"
DRIVER = Path(__file__).resolve().parent / "nginx_driver.py"


_REQUESTS = [
    {"name": "root", "path": "/"},
    {"name": "grafana_health", "path": "/grafana/api/health"},
    {"name": "grafana_live", "path": "/grafana/api/live/ws", "headers": {"Upgrade": "websocket", "Connection": "Upgrade"}},
    {"name": "grafana_metrics", "path": "/grafana/metrics"},
    {"name": "prom_anonymous", "path": "/prometheus/api/v1/query?query=up"},
    {"name": "prom_query", "path": "/prometheus/api/v1/query?query=up", "authenticated": True},
    {"name": "prom_ui", "path": "/prometheus/query", "authenticated": True},
    {"name": "prom_admin", "path": "/prometheus/api/v1/admin/tsdb/snapshot", "method": "POST", "authenticated": True},
    {"name": "prom_admin_encoded", "path": "/prometheus/api/v1/%61dmin/tsdb/snapshot", "method": "POST", "authenticated": True},
    {"name": "prom_admin_dotdot", "path": "/prometheus/api/v1/query/../admin/tsdb/snapshot", "method": "POST", "authenticated": True},
    # The upstream gets the path as sent: every spelling of a refused path must be refused by nginx.
    {"name": "prom_admin_encoded_slash", "path": "/prometheus/api/v1/admin%2Ftsdb%2Fsnapshot", "method": "POST", "authenticated": True},
    {"name": "prom_admin_v1_encoded_slash", "path": "/prometheus/api/v1%2Fadmin/tsdb/snapshot", "method": "POST", "authenticated": True},
    {"name": "prom_admin_double_slash", "path": "/prometheus//api/v1//admin/tsdb/snapshot", "method": "POST", "authenticated": True},
    {"name": "prom_admin_encoded_dotdot", "path": "/prometheus/api/v1/query/..%2Fadmin/tsdb/snapshot", "method": "POST", "authenticated": True},
    {"name": "prom_quit_encoded", "path": "/prometheus/-%2Fquit", "method": "POST", "authenticated": True},
    {"name": "am_reload_double_slash", "path": "/alertmanager//-//reload", "method": "POST", "authenticated": True},
    {"name": "prom_via_loki_dotdot", "path": "/loki/..%2Fprometheus/api/v1/query?query=up"},
    {"name": "grafana_encoded_slash", "path": "/grafana/api/dashboards/uid/a%2Fb"},
    {"name": "prom_admin_via_grafana", "path": "/grafana/api/datasources/proxy/uid/p/api/v1/admin/tsdb/delete_series", "method": "POST"},
    {"name": "prom_quit", "path": "/prometheus/-/quit", "method": "POST", "authenticated": True},
    {"name": "alertmanager_untrusted", "path": "/alertmanager/api/v2/status", "authenticated": True},
    {
        "name": "loki_labels",
        "path": "/loki/api/v1/labels",
        "authenticated": True,
        "headers": {"X-Scope-OrgID": "someone-else", "X_Scope_OrgID": "someone-else"},
    },
    {"name": "loki_anonymous", "path": "/loki/api/v1/labels", "headers": {"X-Scope-OrgID": "ngx"}},
    {"name": "loki_delete", "path": "/loki/api/v1/delete?query={job=%22x%22}", "method": "POST", "authenticated": True},
    {"name": "unknown_path", "path": "/etc/passwd"},
    {"name": "http_redirect", "path": "/grafana/?x=1", "port": 8080},
    {"name": "status_private", "path": "/stub_status", "port": 8081, "source": "127.0.0.1"},
    {"name": "status_public", "path": "/stub_status", "port": 8081, "source": PUBLIC_CLIENT},
    {"name": "health_public", "path": "/healthz", "port": 8081, "source": PUBLIC_CLIENT},
]


def _serve(tmp_path: Path, settings) -> dict:
    text = nginx.render_nginx_config(settings)
    box, ca = _sandbox(tmp_path, settings, text)
    # Prometheus presents a certificate of the stack CA for its service name; Alertmanager one from a
    # CA the proxy does not trust, so the test sees verification refuse it.
    prometheus = ca.issue("prometheus-upstream", addresses.tls_names(settings, PROMETHEUS))
    rogue = ThrowawayCA(tmp_path / "rogue-ca").issue("alertmanager-upstream", addresses.tls_names(settings, ALERTMANAGER))
    test_dir = "/etc/ngx-test"
    files = {
        "prometheus.crt": prometheus.cert,
        "prometheus.key": prometheus.key,
        "alertmanager.crt": rogue.cert,
        "alertmanager.key": rogue.key,
        "driver.py": DRIVER.read_text(),
    }
    for name, content in files.items():
        box.put(f"{test_dir}/{name}", content)
    upstreams = [
        {"name": GRAFANA, "ip": UPSTREAM_IPS[GRAFANA], "port": 3000},
        {"name": LOKI, "ip": UPSTREAM_IPS[LOKI], "port": 3100},
        {"name": PROMETHEUS, "ip": UPSTREAM_IPS[PROMETHEUS], "port": 9090, "cert": f"{test_dir}/prometheus.crt", "key": f"{test_dir}/prometheus.key"},
        {"name": ALERTMANAGER, "ip": UPSTREAM_IPS[ALERTMANAGER], "port": 9093, "cert": f"{test_dir}/alertmanager.crt", "key": f"{test_dir}/alertmanager.key"},
    ]
    spec = {
        "upstreams": upstreams,
        "config": nginx.CONFIG_FILE,
        "ca": paths.TLS_CA,
        "domain": settings.domain,
        "user": OPS_USER,
        "password": OPS_PASSWORD,
        "requests": _REQUESTS,
    }
    box.put(f"{test_dir}/spec.json", json.dumps(spec))
    script = " && ".join(
        [
            "ip link set lo up",
            f"ip addr add {PUBLIC_CLIENT}/32 dev lo",
            "mount -t tmpfs tmpfs /tmp",
            f"exec {BASE_PYTHON} {test_dir}/driver.py {test_dir}/spec.json",
        ]
    )
    command = box.command(["unshare", "-n", "sh", "-c", script])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the live nginx test timed out:\n{out}\n{err}")
    marker = [line for line in out.splitlines() if line.startswith("RESULTS ")]
    assert process.returncode == 0 and marker, f"the live nginx run failed:\n{out}\n{err}"
    return json.loads(marker[-1][len("RESULTS ") :])


def _header(result: dict, name: str) -> list[str]:
    return [value for key, value in result["headers"] if key == name.lower()]


def _upstream(result: dict) -> dict:
    assert result.get("status") == 200, result
    return json.loads(result["body"])


@pytest.fixture(scope="module", params=["docker-8443", "kubernetes"])
def served(request, tmp_path_factory):
    stack = request.param
    return stack, STACKS[stack], _serve(tmp_path_factory.mktemp(f"live-{stack}"), STACKS[stack])


@pytest.mark.live
def test_live_routes_reach_the_right_upstream_with_normalised_paths(served):
    _, _, results = served
    assert results["root"]["status"] == 302 and _header(results["root"], "Location") == ["/grafana/"]
    grafana = _upstream(results["grafana_health"])
    assert (grafana["service"], grafana["path"]) == (GRAFANA, "/grafana/api/health")
    prometheus = _upstream(results["prom_query"])
    assert (prometheus["service"], prometheus["path"]) == (PROMETHEUS, "/prometheus/api/v1/query?query=up")
    assert _upstream(results["prom_ui"])["path"] == "/prometheus/query"
    # Passed on as sent: an encoded slash stays encoded (a proxy_pass URI part would decode it).
    assert _upstream(results["grafana_encoded_slash"])["path"] == "/grafana/api/dashboards/uid/a%2Fb"
    assert results["unknown_path"]["status"] == 404


@pytest.mark.live
def test_live_basic_auth_guards_prometheus_and_loki(served):
    _, _, results = served
    assert results["prom_anonymous"]["status"] == 401
    assert _header(results["prom_anonymous"], "WWW-Authenticate") == [f'Basic realm="{nginx.AUTH_REALM}"']
    assert results["loki_anonymous"]["status"] == 401
    # Basic auth follows the normalised path: a detour through another route does not dodge it.
    assert results["prom_via_loki_dotdot"]["status"] == 401
    # The user's credentials travel on: Prometheus checks the same user in its own web.yml.
    assert any(k.lower() == "authorization" for k, _ in _upstream(results["prom_query"])["headers"])


@pytest.mark.live
def test_live_admin_lifecycle_deletion_and_metrics_are_refused(served):
    _, _, results = served
    for name in (
        "prom_admin",
        "prom_admin_encoded",
        "prom_admin_dotdot",
        "prom_admin_via_grafana",
        "prom_quit",
        "prom_admin_encoded_slash",
        "prom_admin_v1_encoded_slash",
        "prom_admin_double_slash",
        "prom_admin_encoded_dotdot",
        "prom_quit_encoded",
        "am_reload_double_slash",
        "loki_delete",
        "grafana_metrics",
    ):
        assert results[name].get("status") == 403, (name, results[name])


@pytest.mark.live
def test_live_loki_gets_the_stack_tenant_only(served):
    _, settings, results = served
    loki = _upstream(results["loki_labels"])
    assert loki["path"] == "/loki/api/v1/labels"
    tenant = [value for key, value in loki["headers"] if key.lower() == "x-scope-orgid"]
    assert tenant == [settings.loki.tenant]
    assert not any("_" in key for key, _ in loki["headers"]), "a header with underscores got through"


@pytest.mark.live
def test_live_upstream_tls_is_verified(served):
    """Alertmanager's stand-in presents a certificate from an unknown CA: the proxy refuses it."""
    _, _, results = served
    assert results["alertmanager_untrusted"]["status"] == 502
    assert "upstream SSL certificate verify error" in results["nginx_log"]
    assert _upstream(results["prom_query"])["service"] == PROMETHEUS  # the trusted one passes


@pytest.mark.live
def test_live_security_headers_on_proxied_and_error_responses(served):
    _, _, results = served
    for name in ("grafana_health", "prom_query", "prom_admin", "prom_anonymous", "unknown_path"):
        assert _header(results[name], "Strict-Transport-Security") == [nginx.HSTS], name
        assert _header(results[name], "X-Frame-Options") == ["DENY"], name
        assert _header(results[name], "X-Content-Type-Options") == ["nosniff"], name
        assert _header(results[name], "Referrer-Policy") and _header(results[name], "Permissions-Policy"), name
    assert _header(results["prom_query"], "Content-Security-Policy") == [nginx.CSP]
    assert _header(results["grafana_health"], "Content-Security-Policy") == [], "Grafana sends its own policy"
    assert _header(results["grafana_health"], "Server") == ["nginx"], "server_tokens off hides the version"


@pytest.mark.live
def test_live_websocket_upgrade_reaches_grafana_live(served):
    _, _, results = served
    seen = {key.lower(): value for key, value in _upstream(results["grafana_live"])["headers"]}
    assert seen["upgrade"] == "websocket" and seen["connection"] == "upgrade"


@pytest.mark.live
def test_live_http_redirects_to_the_published_https_port(served):
    stack, settings, results = served
    port = "" if stack == "kubernetes" else ":8443"
    assert results["http_redirect"]["status"] == 301
    assert _header(results["http_redirect"], "Location") == [f"https://{settings.domain}{port}/grafana/?x=1"]


@pytest.mark.live
def test_live_status_port_answers_private_addresses_only(served):
    _, _, results = served
    assert results["status_private"]["status"] == 200 and "Active connections" in results["status_private"]["body"]
    assert results["status_public"]["status"] == 403
    assert results["health_public"]["status"] == 200


@pytest.mark.live
def test_live_login_is_rate_limited(served):
    _, _, results = served
    burst = results["login_burst"]
    assert burst[0] == 200 and 429 in burst, burst
    assert burst.index(429) == 1 + nginx.LOGIN_BURST, burst


@pytest.mark.live
def test_live_tls_versions_and_ciphers(served):
    _, _, results = served
    assert results["tls_default"]["version"] == "TLSv1.3" and results["tls_default"]["alpn"] == "h2"
    assert results["tls12_gcm"]["version"] == "TLSv1.2"
    # The errors are alerts sent by nginx, not refusals of the (deliberately permissive) client.
    assert "ALERT_HANDSHAKE_FAILURE" in results["tls12_cbc"].get("error", ""), results["tls12_cbc"]
    assert "ALERT_PROTOCOL_VERSION" in results["tls11"].get("error", ""), results["tls11"]


def test_client_address_comes_from_the_ingress_only_on_kubernetes():
    """Behind an Ingress every request arrives from the controller: without real_ip, all users would
    share one login rate-limit bucket. On Docker the peer is the client, and no header is trusted."""
    prod, dev = nginx.render_nginx_config(PROD), nginx.render_nginx_config(DEV)
    assert "real_ip_header X-Forwarded-For;" in prod and "set_real_ip_from 10.0.0.0/8;" in prod
    assert "real_ip_recursive on" not in prod
    assert "real_ip" not in dev
    status_server = prod.split("listen 8081;")[1].split("listen 8443")[0]
    assert "real_ip" not in status_server, "the stub_status allow-list must see the real peer"
