"""prometheus.yml: every scrape job of the catalog, external labels, limits and Alertmanager targets.

Retention is not here: it is set with --storage.tsdb.retention.time/.size on the command line (see
`prometheus_args`), flags that both the pinned Prometheus 3.x image and Debian's promtool 2.42 accept.
"""

from __future__ import annotations

from typing import Any

import addresses
import catalog
from renderers import auth, paths
from renderers.reloader import prometheus_reload_flags
from renderers.remote_write import remote_write_section
from renderers.yamltext import GENERATED, dump
from settings import Settings
from settings.validators import duration_ms
from topology import ALERTMANAGER, PROMETHEUS, SERVICES, Service, services_on

RULES_GLOB = f"{paths.CONFIG_DIRS['prometheus']}/rules/*.yml"
# Label added per replica; dropped from alerts so Alertmanager deduplicates what HA replicas send.
REPLICA_LABEL = "replica"
REPLICA_ENV = "PROMETHEUS_REPLICA"
# Series the application may expose for debugging; never stored (seed guide: selective persistence).
DROPPED_METRICS = "debug_.*"
# Jobs whose series carry the job (and grouping) labels of whoever pushed them: the Pushgateway's
# series keep job="ngx-backup" and target="...", and its empty `instance` keeps the pushgateway's
# address out of them, so a pushed result does not change identity when the Pushgateway moves.
HONOR_LABELS_JOBS = {catalog.JOB_PUSHGATEWAY}
# The kubelet is reached through the API server's node proxy (docs/deploying-prod.md says why), with
# the service account's token, verifying the API server against the cluster CA. The address is the one
# in-cluster clients (and Prometheus's own service discovery) use.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_SERVER = "kubernetes.default.svc:443"
NODE_PROXY_PATHS = {catalog.JOB_KUBELET: "/metrics", catalog.JOB_CADVISOR: "/metrics/cadvisor"}
# Labels of the series themselves that the rules and panels select on: no relabelling may write them,
# so they arrive as the exporters wrote them (never renamed to exported_*; see _node_proxy_job).
OWN_LABELS = ("namespace", "pod", "container", "deployment", "statefulset", "persistentvolumeclaim")


def _tls_client() -> dict[str, Any]:
    return {"ca_file": paths.TLS_CA}


def _auth_client() -> dict[str, Any]:
    return {"username": auth.PROMETHEUS_USER, "password_file": paths.password_file(auth.PROMETHEUS_USER)}


def _limits(settings: Settings) -> dict[str, Any]:
    return {"sample_limit": settings.prometheus.sample_limit, "label_limit": settings.prometheus.label_limit}


def _drop_debug() -> list[dict[str, Any]]:
    return [{"source_labels": ["__name__"], "regex": DROPPED_METRICS, "action": "drop"}]


def _interval(settings: Settings, job: str) -> dict[str, Any]:
    """A job's own interval (prometheus.scrapeIntervals) and a timeout within it; nothing for a job
    scraped at the global interval, so its config is unchanged."""
    interval = settings.prometheus.scrape_intervals.overrides().get(job)
    return {"scrape_interval": interval, "scrape_timeout": _timeout(interval)} if interval else {}


def _job(settings: Settings, name: str, **fields: Any) -> dict[str, Any]:
    return {"job_name": name, **_interval(settings, name), **fields, **_limits(settings), "metric_relabel_configs": _drop_debug()}


def _service_job(settings: Settings, service: Service, job: str, port_name: str) -> dict[str, Any]:
    port = service.port(port_name).number
    if job in addresses.discovered_jobs(settings):
        return _job(settings, job, **_pod_discovery(settings, service, port_name, port))
    hosts = addresses.replica_hosts(settings, service.name)
    fields: dict[str, Any] = {}
    if service.scheme == "https":
        fields = {"scheme": "https", "tls_config": _tls_client(), "basic_auth": _auth_client()}
    if prefix := addresses.route_prefix(service.name):
        fields["metrics_path"] = f"{prefix}/metrics"  # served under --web.route-prefix, like every path
    if job in HONOR_LABELS_JOBS:
        fields["honor_labels"] = True
    if job != service.job:
        # A second server beside the service (its own container on Docker, the same pod on Kubernetes):
        # its targets carry the instance of the service's own job (the node's), so $node and every
        # join by instance find both jobs' series.
        main = service.port(service.metrics_port).number
        extra = addresses.extra_scrape_hosts(settings, service.name, port_name)
        targets = [{"targets": [f"{other}:{port}"], "labels": {"instance": f"{host}:{main}"}} for host, other in zip(hosts, extra, strict=True)]
        return _job(settings, job, **fields, static_configs=targets)
    return _job(settings, job, **fields, static_configs=[{"targets": [f"{host}:{port}" for host in hosts]}])


def _pod_discovery(settings: Settings, service: Service, port_name: str, port: int) -> dict[str, Any]:
    """One target per node for the DaemonSets in the host-access namespace. Pod discovery yields a
    target per declared container port; only the job's port is kept, so a pod with a second server
    (node-exporter's netdev) gives each job its own target."""
    return {
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "namespaces": {"names": [addresses.namespace(settings, service.name)]},
                "selectors": [{"role": "pod", "label": f"app.kubernetes.io/name={service.name}"}],
            }
        ],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port_name, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_ip"], "target_label": "__address__", "replacement": f"$1:{port}"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "instance"},
        ],
    }


def _node_proxy_job(settings: Settings, job: str) -> dict[str, Any]:
    """One target per node (`role: node`), scraped at /api/v1/nodes/<node>/proxy<path>.

    Target labels are job and instance (the node's name) only, so the series' own namespace, pod,
    container and persistentvolumeclaim never collide with a target label and survive unchanged, as
    honor_labels would keep them, without letting a target overwrite job or instance. metric_relabel
    keeps only the catalogued metrics of the watched namespaces: a node runs pods of every namespace,
    and cAdvisor alone exposes dozens of series per container."""
    keep = "|".join(catalog.job_metrics(job))
    namespaces = "|".join(addresses.watched_namespaces(settings))
    relabel = [
        {"source_labels": ["__name__"], "regex": f"({keep})", "action": "keep"},
        {"source_labels": ["namespace"], "regex": f"({namespaces})", "action": "keep"},
    ]
    if job == catalog.JOB_CADVISOR:
        # The pod's own cgroup (container="") and the pause container would double-count every pod.
        relabel.append({"source_labels": ["container"], "regex": "|POD", "action": "drop"})
    return {
        "job_name": job,
        **_interval(settings, job),
        "scheme": "https",
        "tls_config": {"ca_file": f"{SERVICE_ACCOUNT_DIR}/ca.crt"},
        "authorization": {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"},
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"target_label": "__address__", "replacement": API_SERVER},
            {
                "source_labels": ["__meta_kubernetes_node_name"],
                "target_label": "__metrics_path__",
                "replacement": f"/api/v1/nodes/$1/proxy{NODE_PROXY_PATHS[job]}",
            },
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "instance"},
        ],
        **_limits(settings),
        "metric_relabel_configs": _drop_debug() + relabel,
    }


def _api_job(settings: Settings) -> dict[str, Any]:
    app = settings.app
    common = {"metrics_path": app.metrics_path, "scheme": app.scheme}
    if catalog.JOB_API not in addresses.discovered_jobs(settings):
        return _job(settings, catalog.JOB_API, **common, static_configs=[{"targets": list(app.targets)}])
    return _job(
        settings,
        catalog.JOB_API,
        **common,
        kubernetes_sd_configs=[
            {
                "role": "endpoints",
                "namespaces": {"names": [app.namespace]},
                "selectors": [{"role": "service", "label": app.service_selector}],
            }
        ],
        relabel_configs=[
            {"source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": app.port_name, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    )


def _timeout(interval: str) -> str:
    """Prometheus rejects a timeout longer than the interval; 10s is its default otherwise."""
    return interval if duration_ms(interval) < 10_000 else "10s"


def scrape_timeout(settings: Settings) -> str:
    return _timeout(settings.prometheus.scrape_interval)


def render_prometheus_config(settings: Settings) -> str:
    prom = settings.prometheus
    alertmanagers = [f"{host}:{SERVICES[ALERTMANAGER].port('web').number}" for host in addresses.replica_hosts(settings, ALERTMANAGER)]
    document = {
        "global": {
            "scrape_interval": prom.scrape_interval,
            "scrape_timeout": scrape_timeout(settings),
            "evaluation_interval": prom.evaluation_interval,
            # ${PROMETHEUS_REPLICA} is expanded by Prometheus 3 (by 2.x with --enable-feature=expand-external-labels).
            # `monitor` names this stack to whatever receives its alerts or series (the seed guide's label).
            "external_labels": {"env": settings.environment, "monitor": prom.monitor_label, REPLICA_LABEL: f"${{{REPLICA_ENV}}}"},
        },
        "rule_files": [RULES_GLOB],
        "alerting": {
            "alert_relabel_configs": [{"regex": REPLICA_LABEL, "action": "labeldrop"}],
            "alertmanagers": [
                {
                    "scheme": "https",
                    "api_version": "v2",
                    "path_prefix": addresses.route_prefix(ALERTMANAGER),
                    "tls_config": _tls_client(),
                    "basic_auth": _auth_client(),
                    "static_configs": [{"targets": alertmanagers}],
                }
            ],
        },
        "scrape_configs": [_api_job(settings)]
        + [_service_job(settings, service, job, port) for service, job, port in _scraped_in_job_order(settings.platform)]
        + ([_node_proxy_job(settings, job) for job in NODE_PROXY_PATHS] if settings.platform == "kubernetes" else []),
        # Every sample, labelled with env and replica (external labels), also goes to each long-term store.
        **remote_write_section(settings),
    }
    return dump(document, GENERATED)


def _scraped_in_job_order(platform: str) -> list[tuple[Service, str, str]]:
    """(service, job, port name) of every job of the services on `platform`, in catalog.JOBS order."""
    by_job = {job: (service, job, port) for service in services_on(platform).values() for job, port in service.scrapes()}
    return [by_job[job] for job in catalog.JOBS if job in by_job]


def prometheus_args(settings: Settings) -> list[str]:
    """Command-line flags of the Prometheus container (retention lives here, not in prometheus.yml)."""
    prom = settings.prometheus
    return [
        f"--config.file={paths.config_path(PROMETHEUS, 'prometheus.yml')}",
        f"--web.config.file={paths.config_path(PROMETHEUS, 'web.yml')}",
        f"--storage.tsdb.path={paths.DATA_DIRS[PROMETHEUS]}",
        f"--storage.tsdb.retention.time={prom.retention_time}",
        f"--storage.tsdb.retention.size={prom.retention_size}",
        f"--web.listen-address=:{SERVICES[PROMETHEUS].port('web').number}",
        f"--web.external-url={addresses.public_url(settings, PROMETHEUS)}",
        # Served under the proxy's route on its own port too, so the proxy passes paths on unchanged
        # and every internal client (probes, Grafana, backups, the self-scrape) uses the same path.
        f"--web.route-prefix={addresses.route_prefix(PROMETHEUS)}",
        # The admin API serves snapshots for backups and is blocked at the proxy (only reachable inside
        # the stack). No --web.enable-lifecycle: changed files are reloaded by Prometheus itself (below),
        # so nobody needs POST /-/reload, nor /-/quit, which the same flag would open to every user.
        "--web.enable-admin-api",
        *prometheus_reload_flags(prom.config_reload_interval),
    ]
