"""nginx.conf of the TLS proxy (nginxinc/nginx-unprivileged): the stack's only entry point.

Routes, under https://<domain>:
  /grafana/       Grafana (its own login; rate-limited login and API; websockets for Live)
  /prometheus/    Prometheus, https upstream, verified against the stack CA   } basic auth here, and
  /alertmanager/  Alertmanager, likewise                                      } again upstream for
  /loki/          Loki, with the tenant header set by the proxy               } Prometheus/Alertmanager
Port 8080 only redirects to https; port 8081 serves stub_status (for the exporter) and /healthz to
private addresses only.

Each upstream serves the same path as the proxy (addresses.ROUTES), so every proxy_pass names only
the upstream, with no URI part, and nginx passes the request URI on exactly as the client sent it.
With a URI part nginx would pass its own decoded and normalised path instead: `%2F` in a Grafana
dashboard or Loki label value would arrive as `/`, and a path that differs from what the client
meant reaches the upstream. Decisions on the path (the 403 locations, basic auth per route) are
still taken on nginx's decoded, normalised path: nginx decodes every escape and resolves every `.`,
`..` and `//`, so it sees at least what an upstream can make of the raw path. Prometheus and
Alertmanager (Go's ServeMux) and Loki (gorilla/mux) answer a path with `..` or `//` with a redirect
to its clean form, which comes back through the proxy and its checks; tests/test_render_nginx.py
sends encoded, doubled-slash and dot-segment spellings of the refused paths to the real nginx.

Upstream names are resolved once, when nginx starts (no `resolver`). On Kubernetes the names are
Services, whose ClusterIP is fixed for the Service's lifetime; on Docker the proxy container is started
after the containers it names and must be restarted when one of them is re-created (a new container
may get a new address). The alternative, `resolver` plus variables in proxy_pass, needs the DNS
server's address (127.0.0.11 on Docker, a per-cluster IP on Kubernetes) and turns off nginx's URI
normalisation for proxy_pass; static names keep both simple and let `nginx -t` prove every name.

Directives that nginx inherits only when a block defines none of its own (add_header,
proxy_set_header, proxy_hide_header) are each defined at exactly one level, so no location silently
loses the security headers or the forwarding headers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import addresses
from renderers import paths
from settings import Settings
from topology import ALERTMANAGER, GRAFANA, LOKI, PROMETHEUS, PROXY, SERVICES

CONFIG_FILE = paths.config_path(PROXY, "nginx.conf")
HTPASSWD_PATH = paths.config_path(PROXY, "htpasswd")
PID_FILE = "/tmp/nginx.pid"
TEMP_DIR = "/tmp"  # the image's writable scratch space (the root filesystem is read-only)
STATUS_PATH = "/stub_status"
HEALTH_PATH = "/healthz"
AUTH_REALM = "NGX monitoring"

HTTPS_PORT = SERVICES[PROXY].port("https").number
HTTP_PORT = SERVICES[PROXY].port("http").number
STATUS_PORT = SERVICES[PROXY].port("status").number

ROUTES = addresses.ROUTES
BASIC_AUTH_SERVICES = (PROMETHEUS, ALERTMANAGER, LOKI)  # Grafana has its own login

# TLS 1.2 is the floor: 1.0 and 1.1 have no AEAD ciphers and are deprecated (RFC 8996).
TLS_PROTOCOLS = "TLSv1.2 TLSv1.3"
# TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AEAD ciphers only. Refused: CBC suites
# (padding-oracle attacks such as Lucky13), static-RSA key exchange (no forward secrecy), 3DES/RC4
# (broken), and DHE (slow, and weak with small groups). TLS 1.3 suites are all AEAD and nginx
# enables them regardless of this list.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
# Two years, as HSTS preload lists require; `always` adds it to error responses too.
HSTS = "max-age=63072000; includeSubDomains"
# Policy for the Prometheus and Alertmanager UIs. Both bootstrap with inline scripts (global settings
# written into index.html), hence 'unsafe-inline' for scripts; everything else is same-origin only.
# Grafana is exempt: it sends its own nonce-based policy, and two policies would both apply.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
SECURITY_HEADERS = (
    ("Strict-Transport-Security", HSTS),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "$ngx_csp"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)
# Upstreams set some of the same headers; the proxy is their single source.
HIDDEN_UPSTREAM_HEADERS = ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection", "X-Powered-By")

# Addresses allowed on the status port: loopback (the container's health check) and the private
# ranges Docker networks and pod networks use (100.64/10 is used by some CNIs). The network policy
# (only proxy-exporter may connect) is the real control; this is the second lock.
STATUS_ALLOW = ("127.0.0.1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")

# Request bodies: Loki push batches and Grafana dashboard imports are a few MB at most.
CLIENT_MAX_BODY_SIZE = "8m"
# Rate limits per client address. Login: 10 attempts a minute with a burst of 5 (a person retyping a
# password never notices, a password sprayer is slowed to a crawl; Grafana's own brute-force lock
# applies on top). API: a dashboard fires a query per panel at once and refreshes, so the API allows
# 50 requests a second with a burst of 200; it stops floods, not dashboards.
LOGIN_RATE = "10r/m"
LOGIN_BURST = 5
API_RATE = "50r/s"
API_BURST = 200
# Connections per worker, client and upstream sockets alike. Each needs a descriptor, and a request
# may hold files open besides (a client body or an upstream response buffered to a temp file, the
# htpasswd file read per authenticated request): twice as many descriptors leave one file per socket.
# The soft limit a container starts with is commonly 1024 (containerd's default is 1024 soft, 524288
# hard), which the worker would reach before its connection limit; worker_rlimit_nofile raises it,
# as any process may up to the hard limit.
WORKER_CONNECTIONS = 1024
WORKER_RLIMIT_NOFILE = 2 * WORKER_CONNECTIONS
# Websockets (Grafana Live, Loki tail) are idle for long stretches between messages.
WEBSOCKET_TIMEOUT = "1h"

# Blocked outright, whatever the credentials: the TSDB admin API (delete series, snapshots), the
# lifecycle endpoints (reload, quit) of Prometheus and Alertmanager, and Loki's log deletion API.
# They serve operators inside the stack, never browsers. The patterns are matched case-insensitively
# on the decoded, normalised path before any prefix location, and are deliberately not anchored: the
# same paths reached through Grafana's datasource proxy (/grafana/api/datasources/proxy/.../api/v1/admin/...)
# are refused too.
BLOCKED_PATTERNS = (
    r"/api/v1/admin(/|$)",
    r"/-/(reload|quit)(/|$)",
    r"/loki/api/v1/delete(/|$)",
)

_JSON_LOG = (
    '{"time":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user",'
    '"method":"$request_method","path":"$uri","protocol":"$server_protocol","status":$status,'
    '"bytes_sent":$body_bytes_sent,"request_time":$request_time,"upstream":"$upstream_addr",'
    '"upstream_status":"$upstream_status","upstream_time":"$upstream_response_time",'
    '"user_agent":"$http_user_agent","request_id":"$request_id"}'
)


def render_htpasswd(hashes: Mapping[str, str]) -> str:
    """`user:bcrypt-hash` lines, sorted by user (hashes come from renderers.auth.bcrypt_hash)."""
    lines = []
    for user in sorted(hashes):
        digest = hashes[user]
        if not user or any(char in user for char in ":\n\r") or user != user.strip():
            raise ValueError(f"{user!r} cannot be an htpasswd user name")
        if not re.fullmatch(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", digest):
            raise ValueError(f"the hash of {user!r} is not a bcrypt hash")
        lines.append(f"{user}:{digest}")
    return "".join(f"{line}\n" for line in lines)


def redirect_target(settings: Settings) -> str:
    """Where port 8080 sends a request: the https port users reach, which the host may publish
    on another number than the container's 8443, with `:443` left out as browsers do."""
    port = addresses.public_port(settings)
    return "https://$host$request_uri" if port == 443 else f"https://$host:{port}$request_uri"


def worker_processes(settings: Settings) -> int:
    """One worker per CPU of the container's limit: `auto` would count the host's CPUs."""
    cpu = settings.resources.proxy.cpu.strip()
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return max(1, math.ceil(cores))


def render_nginx_config(settings: Settings) -> str:
    lines = [
        "# Rendered by ngx-monitoring; edit the settings or the renderer, not this file.",
        f"worker_processes {worker_processes(settings)};",
        f"pid {PID_FILE};",
        "error_log stderr warn;",
        "",
        f"worker_rlimit_nofile {WORKER_RLIMIT_NOFILE};",
        "",
        *_block("events", [f"worker_connections {WORKER_CONNECTIONS};"]),
        "",
        *_block("http", _http(settings)),
    ]
    return "\n".join(lines) + "\n"


def _http(settings: Settings) -> list[str]:
    lines = [
        # The image runs as an unprivileged user with a read-only root: every scratch path is in /tmp.
        *(f"{kind}_temp_path {TEMP_DIR}/{kind}_temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "",
        "default_type application/octet-stream;",
        "server_tokens off;",
        # Redirects nginx writes itself stay relative, so they keep the host and port the user typed.
        "absolute_redirect off;",
        "sendfile on;",
        "keepalive_timeout 65s;",
        # Slow-client limits: a client has 10s to send its headers and 30s between body reads.
        "client_header_timeout 10s;",
        "client_body_timeout 30s;",
        "send_timeout 30s;",
        f"client_max_body_size {CLIENT_MAX_BODY_SIZE};",
        # Header names with underscores (X_Scope_OrgID) are dropped, not passed on as look-alikes.
        "underscores_in_headers off;",
        "ignore_invalid_headers on;",
        "",
        f"log_format ngx_json escape=json '{_JSON_LOG}';",
        "access_log /dev/stdout ngx_json;",
        "",
        *_block("map $http_upgrade $connection_upgrade", ["default upgrade;", "'' close;"]),
        *_block("map $uri $ngx_csp", [f'default "{CSP}";', '~^/grafana/ "";']),
        "",
        f"limit_req_zone $binary_remote_addr zone=login:10m rate={LOGIN_RATE};",
        f"limit_req_zone $binary_remote_addr zone=api:10m rate={API_RATE};",
        "limit_req_status 429;",
        "",
        *_block("server", _redirect_server(settings)),
        "",
        *_block("server", _status_server()),
        "",
        *_block("server", _https_server(settings)),
    ]
    return lines


def _redirect_server(settings: Settings) -> list[str]:
    return [
        f"listen {HTTP_PORT} default_server;",
        "server_name _;",
        *_block("location /", [f"return 301 {redirect_target(settings)};"]),
    ]


def _status_server() -> list[str]:
    allow = [f"allow {source};" for source in STATUS_ALLOW] + ["deny all;"]
    return [
        f"listen {STATUS_PORT};",
        "server_name _;",
        "access_log off;",
        *_block(f"location = {STATUS_PATH}", [*allow, "stub_status;"]),
        # Open to any client that reaches the port: kubelet probes come from the node's address,
        # which need not be private, and the answer says nothing but "ok".
        *_block(f"location = {HEALTH_PATH}", ["default_type text/plain;", 'return 200 "ok\\n";']),
        *_block("location /", ["return 404;"]),
    ]


# Where an Ingress controller sits in front (Kubernetes), the client is the address it writes into
# X-Forwarded-For; rate limits and logs must key on that, or every user shares the controller's bucket.
# Only the controller's namespace may reach this port (NetworkPolicy), so its private pod address is the
# one hop trusted; without real_ip_recursive the last (controller-written) address is taken.
TRUSTED_PROXY_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


def _client_address(settings: Settings) -> list[str]:
    if settings.platform != "kubernetes":
        return []  # Docker publishes the port directly: the peer address is the client's
    return [*(f"set_real_ip_from {cidr};" for cidr in TRUSTED_PROXY_RANGES), "real_ip_header X-Forwarded-For;", ""]


def _https_server(settings: Settings) -> list[str]:
    lines = [
        # Debian's nginx 1.22 (the tests) and the image's 1.28 both accept `http2` on `listen`; 1.28
        # logs that it prefers `http2 on;`, which 1.22 would refuse.
        f"listen {HTTPS_PORT} ssl http2 default_server;",
        f"server_name {settings.domain};",
        "",
        f"ssl_certificate {paths.TLS_CERT};",
        f"ssl_certificate_key {paths.TLS_KEY};",
        f"ssl_protocols {TLS_PROTOCOLS};",
        f"ssl_ciphers {TLS12_CIPHERS};",
        # Every offered suite is strong, so the client's (hardware-aware) preference is honoured.
        "ssl_prefer_server_ciphers off;",
        "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
        "ssl_session_cache shared:TLS:10m;",
        "ssl_session_timeout 1d;",
        # Tickets are encrypted with a key nginx never rotates while it runs, which would undo forward
        # secrecy for every session since start; the session cache resumes without them.
        "ssl_session_tickets off;",
        "",
        *_client_address(settings),
        *(f'add_header {name} "{value}" always;' for name, value in SECURITY_HEADERS),
        *(f"proxy_hide_header {name};" for name in HIDDEN_UPSTREAM_HEADERS),
        "",
        *_blocked_locations(),
        *_block("location = /", ["return 302 /grafana/;"]),
        *_grafana_locations(settings),
        *_tls_upstream_locations(settings, PROMETHEUS),
        *_tls_upstream_locations(settings, ALERTMANAGER),
        *_loki_locations(settings),
        *_block("location /", ["return 404;"]),
    ]
    return lines


def _blocked_locations() -> list[str]:
    lines: list[str] = []
    for pattern in BLOCKED_PATTERNS:
        lines += _block(f'location ~* "{pattern}"', ["return 403;"])
    return lines


def _grafana_locations(settings: Settings) -> list[str]:
    route = ROUTES[GRAFANA]
    upstream = addresses.url(settings, GRAFANA)  # serve_from_sub_path: Grafana serves /grafana/ itself
    return [
        # Grafana's own metrics are for Prometheus inside the stack, not for the internet.
        *_block(f"location = {route}metrics", ["return 403;"]),
        *_block(f"location ^~ {route}metrics/", ["return 403;"]),
        *_block(f"location = {route.rstrip('/')}", [f"return 301 {route};"]),
        *_block(f"location {route}", _proxy(upstream)),
        *_block(f"location = {route}login", [_limit("login", LOGIN_BURST), *_proxy(upstream)]),
        *_block(f"location {route}api/", [_limit("api", API_BURST), *_proxy(upstream)]),
        *_block(f"location {route}api/live/", _proxy(upstream, websocket=True)),
    ]


def _tls_upstream_locations(settings: Settings, service: str) -> list[str]:
    """Prometheus / Alertmanager: their own https port serves the same route (--web.route-prefix)."""
    route = ROUTES[service]
    upstream = addresses.url(settings, service)
    tls = [
        # The upstream's certificate is issued by the stack CA for the service name (addresses.tls_names).
        f"proxy_ssl_trusted_certificate {paths.TLS_CA};",
        "proxy_ssl_verify on;",
        "proxy_ssl_verify_depth 2;",
        f"proxy_ssl_name {service};",
        f"proxy_ssl_protocols {TLS_PROTOCOLS};",
    ]
    return [
        *_block(f"location = {route.rstrip('/')}", [f"return 301 {route};"]),
        *_block(f"location {route}", [*_basic_auth(), *tls, *_proxy(upstream)]),
        *_block(f"location {route}api/", [*_basic_auth(), _limit("api", API_BURST), *tls, *_proxy(upstream)]),
    ]


def _loki_locations(settings: Settings) -> list[str]:
    """Loki's HTTP API lives under /loki/ on its own port too: the path passes on unchanged, with no
    rewrite and no server.http_path_prefix (which would move /ready and /metrics as well)."""
    route = ROUTES[LOKI]
    upstream = addresses.url(settings, LOKI)
    # Set by the proxy, never by the client: proxy_set_header replaces a client's X-Scope-OrgID, so
    # basic-auth users read and write the stack's tenant and no other.
    tenant = {"X-Scope-OrgID": settings.loki.tenant}
    return [
        *_block(f"location {route}", [*_basic_auth(), _limit("api", API_BURST), *_proxy(upstream, extra_headers=tenant)]),
        *_block(f"location = {route}api/v1/tail", [*_basic_auth(), *_proxy(upstream, websocket=True, extra_headers=tenant)]),
    ]


def _basic_auth() -> list[str]:
    return [f'auth_basic "{AUTH_REALM}";', f"auth_basic_user_file {HTPASSWD_PATH};"]


def _limit(zone: str, burst: int) -> str:
    return f"limit_req zone={zone} burst={burst} nodelay;"


def _proxy(upstream: str, *, websocket: bool = False, extra_headers: Mapping[str, str] | None = None) -> list[str]:
    """proxy_pass with the full set of forwarding headers (proxy_set_header is all-or-nothing per level).

    `upstream` is scheme://host:port and nothing more: without a URI part nginx passes the request
    URI as the client sent it (see the module docstring), which the upstream serves at the same path.
    """
    if re.match(r"^[a-z]+://[^/]+/", upstream):
        raise ValueError(f"proxy_pass {upstream}: a URI part would make nginx pass a decoded, normalised path")
    headers = {
        "Host": "$host",
        "X-Real-IP": "$remote_addr",
        "X-Forwarded-For": "$proxy_add_x_forwarded_for",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "$host",
        "X-Request-ID": "$request_id",
    }
    if websocket:
        headers |= {"Upgrade": "$http_upgrade", "Connection": "$connection_upgrade"}
    headers |= dict(extra_headers or {})
    lines = [f"proxy_pass {upstream};", "proxy_http_version 1.1;"]
    lines += [f"proxy_set_header {name} {_quote(value)};" for name, value in headers.items()]
    if websocket:
        lines += [f"proxy_read_timeout {WEBSOCKET_TIMEOUT};", f"proxy_send_timeout {WEBSOCKET_TIMEOUT};"]
    return lines


def _quote(value: str) -> str:
    return f'"{value}"' if re.search(r"[\s;{}'\"]", value) else value


def _block(header: str, body: Iterable[str]) -> list[str]:
    return [f"{header} {{", *(f"    {line}" if line else line for line in body), "}"]
