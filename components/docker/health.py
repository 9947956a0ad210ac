"""Container health checks: which command each pinned image can run, and the documented exceptions.

Every check is in exec form (`CMD`), so none depends on a shell the image may not have. Docker's
restart policy acts on a process that exits, never on an `unhealthy` status: the status gates
`pulumi up` (`wait`) and the start of dependants, and shows in `docker ps`.
"""

from __future__ import annotations

from collections.abc import Callable

from components.service_spec import ServiceSpec
from topology import ALLOY, GRAFANA, LOKI, NODE_EXPORTER, PROMETHEUS, PROXY, PROXY_EXPORTER, PUSHGATEWAY, REDIS_EXPORTER, SERVICES

# A check every 10 s, unhealthy after 3 misses in a row; failures in the first 30 s after a start
# do not count, which covers Grafana's database migrations and Loki's ring start-up.
INTERVAL = "10s"
TIMEOUT = "5s"
RETRIES = 3
START_PERIOD = "30s"
# How long `pulumi up` waits for a new container to report healthy before it fails the update.
WAIT_TIMEOUT_SECONDS = 120
SLOW_START_SECONDS = {
    PROMETHEUS: 600,  # replays its WAL on every start: minutes on a full volume
    LOKI: 300,  # replays its WAL and builds its in-memory ring
}


# How each pinned image can call its own HTTP endpoint, read from the images' Dockerfiles.
def _wget(url: str) -> list[str]:
    # prom/node-exporter and prom/pushgateway (busybox base) and nginx-unprivileged (Alpine) ship busybox wget.
    return ["CMD", "wget", "-q", "-T", "5", "-O", "/dev/null", url]


def _busybox_wget(url: str) -> list[str]:
    # grafana/loki 3.x is distroless static:debug: busybox lives under /busybox, not in /bin.
    return ["CMD", "/busybox/wget", "-q", "-T", "5", "-O", "/dev/null", url]


def _curl(url: str) -> list[str]:
    # grafana/grafana installs curl in both its Alpine and Ubuntu variants.
    return ["CMD", "curl", "-fsS", "--max-time", "5", "-o", "/dev/null", url]


def _bash_http(url: str) -> list[str]:
    # grafana/alloy is Ubuntu without wget and, in some releases, without curl, but always with bash:
    # a plain HTTP/1.0 request over bash's /dev/tcp, healthy on a 200 status line.
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    request = f"GET /{path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n"
    return ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port} && printf '{request}' >&3 && head -n 1 <&3 | grep -q ' 200 '"]


HTTP_PROBE_CLIENTS: dict[str, Callable[[str], list[str]]] = {
    GRAFANA: _curl,
    LOKI: _busybox_wget,
    ALLOY: _bash_http,
    NODE_EXPORTER: _wget,
    PROXY: _wget,
    PUSHGATEWAY: _wget,
}

# Hardening exceptions: services whose image cannot run any health check. They are created without
# `wait`; Docker restarts them if they exit, and Prometheus's TargetDown alert fires if they hang.
NO_HEALTHCHECK: dict[str, str] = {
    REDIS_EXPORTER: "oliver006/redis_exporter is FROM scratch: no shell and no HTTP client, and the binary "
    "has no health subcommand (only flags and --version, which proves nothing).",
    PROXY_EXPORTER: "nginx/nginx-prometheus-exporter is FROM scratch: no shell and no HTTP client, and the "
    "binary has no health subcommand (only flags and --version, which proves nothing).",
}


def healthcheck_test(spec: ServiceSpec) -> list[str] | None:
    """The health check command of a service's container, or None for a documented exception."""
    if spec.probe.command:
        # Prometheus and Alertmanager answer only TLS with basic auth, so the probe is their own
        # client (promtool / amtool, both in the image) with the probe user's credentials.
        return ["CMD", *spec.probe.command]
    if spec.name in NO_HEALTHCHECK:
        return None
    client = HTTP_PROBE_CLIENTS.get(spec.name)
    if client is None:
        raise KeyError(f"{spec.name}: no known HTTP client in its image; add one to HTTP_PROBE_CLIENTS or a documented exception to NO_HEALTHCHECK")
    port = SERVICES[spec.name].port(spec.probe.port).number
    # 127.0.0.1 rather than localhost: Alpine resolves localhost to ::1 first, where nothing listens.
    return client(f"http://127.0.0.1:{port}{spec.probe.http_path}")


def sidecar_healthcheck_test(spec: ServiceSpec) -> list[str]:
    """The health check of a spec's sidecar: the service's image, so its HTTP client, on the sidecar's port."""
    sidecar = spec.sidecar
    port = SERVICES[spec.name].port(sidecar.probe.port).number
    return HTTP_PROBE_CLIENTS[spec.name](f"http://127.0.0.1:{port}{sidecar.probe.http_path}")


def wait_timeout(service: str) -> int:
    return SLOW_START_SECONDS.get(service, WAIT_TIMEOUT_SECONDS)
