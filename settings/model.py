"""The typed settings of one stack. Every field is declared once, with its config key and default;
the alerting and receiver sections are in settings/alerting.py."""

from __future__ import annotations

from dataclasses import dataclass

from catalog import API_NAMINGS, DEFAULT_API_NAMING
from settings import validators as v
from settings.alerting import AlertingSettings, ReceiverSettings
from settings.backup import BackupSettings
from settings.loki import LokiSettings
from settings.remote_write import LongTermStore, RemoteWriteEndpoint
from settings.schema import Secret, section, section_list, setting
from settings.scrape import ScrapeIntervals

# Image pins. Prometheus 3.x and Alertmanager 0.28 accept every option we render; the tests check the
# same files with Debian's promtool 2.42 and amtool 0.25, so only syntax common to both is rendered.
DEFAULT_IMAGES = {
    "prometheus": "prom/prometheus:v3.5.0",
    "alertmanager": "prom/alertmanager:v0.28.1",
    "grafana": "grafana/grafana:13.0.0",
    "loki": "grafana/loki:3.5.3",
    "alloy": "grafana/alloy:v1.10.0",
    "nodeExporter": "prom/node-exporter:v1.9.1",
    "redisExporter": "oliver006/redis_exporter:v1.74.0",
    "proxy": "nginxinc/nginx-unprivileged:1.28.0-alpine",
    "proxyExporter": "nginx/nginx-prometheus-exporter:1.4.2",
    "pushgateway": "prom/pushgateway:v1.11.1",
    # Runs ops/backup.py (standard library only) for the backup jobs.
    "backup": "python:3.13.7-alpine3.22",
    # Runs restic for the backup jobs: the release of Debian's restic, which the tests run.
    "restic": "restic/restic:0.14.0",
    # Kubernetes only: object state of the watched namespaces (job kube-state-metrics).
    "kubeStateMetrics": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
}


@dataclass(frozen=True)
class PrometheusSettings:
    retention_time: str = setting("retentionTime", v.duration, "How long samples are kept (--storage.tsdb.retention.time).", docker="15d", kubernetes="30d")
    retention_size: str = setting(
        "retentionSize",
        v.prometheus_size,
        "Disk budget for blocks, WAL and head (--storage.tsdb.retention.size); must fit in storageSize with 15% headroom.",
        docker="8GB",
        kubernetes="10GB",
    )
    storage_size: str = setting(
        "storageSize", v.volume_size, "Size of the data volume (PVC request on Kubernetes; capacity check on Docker).", docker="10Gi", kubernetes="20Gi"
    )
    scrape_interval: str = setting("scrapeInterval", v.duration, "Default scrape interval of every job.", "15s")
    evaluation_interval: str = setting("evaluationInterval", v.duration, "Rule evaluation interval; must be >= scrapeInterval.", "15s")
    latency_evaluation_interval: str | None = setting(
        "latencyEvaluationInterval",
        v.duration,
        "Evaluation interval of the API response-time recordings and HighResponseTime (group ngx-api-latency.rules); "
        "unset: twice evaluationInterval, up to 1m or evaluationInterval if longer. Between evaluationInterval and the longer of 1m and evaluationInterval.",
        None,
    )
    scrape_intervals: ScrapeIntervals = section(
        "scrapeIntervals", ScrapeIntervals, "Per-job scrape intervals (keys: job names), e.g. slower for low-priority jobs."
    )
    monitor_label: str = setting(
        "monitorLabel", v.text, "`monitor` external label on every alert, federated or remote-written series (seed guide).", "ngx-monitor"
    )
    replicas: int = setting(
        "replicas", v.positive_int, "Prometheus replicas (each scrapes everything; distinct `replica` external label).", docker=1, kubernetes=2
    )
    sample_limit: int = setting("sampleLimit", v.positive_int, "Per-scrape sample limit of every job; a target above it fails alone.", 20000)
    label_limit: int = setting("labelLimit", v.positive_int, "Per-series label limit of every job.", 64)
    config_reload_interval: str = setting(
        "configReloadInterval",
        v.whole_seconds,
        "How often Prometheus hashes its config and rule files and reloads them when they changed (--config.auto-reload-interval); whole seconds.",
        "30s",
    )
    remote_write: tuple[RemoteWriteEndpoint, ...] = section_list("remoteWrite", RemoteWriteEndpoint, "Long-term stores every sample is also sent to.")


@dataclass(frozen=True)
class AlertmanagerSettings:
    replicas: int = setting("replicas", v.positive_int, "Alertmanager replicas, clustered by gossip on Kubernetes.", docker=1, kubernetes=3)
    retention: str = setting("retention", v.duration, "How long silences and the notification log are kept (--data.retention).", "120h")
    storage_size: str = setting("storageSize", v.volume_size, "Size of the data volume.", "1Gi")
    config_reload_interval: str = setting(
        "configReloadInterval",
        v.whole_seconds,
        "How often the config-reloader sidecar hashes Alertmanager's files and sends it SIGHUP when they changed; whole seconds.",
        "30s",
    )


@dataclass(frozen=True)
class GrafanaSettings:
    admin_user: str = setting("adminUser", v.text, "Grafana administrator login.", "ngx-admin")
    admin_password: Secret | None = setting(
        "adminPassword", v.text, "Grafana administrator password; generated (and kept in state) when unset.", None, secret=True
    )
    storage_size: str = setting("storageSize", v.volume_size, "Size of the data volume (SQLite database, plugins).", "2Gi")
    long_term_store: LongTermStore | None = section("longTermStore", LongTermStore, "Datasource of the remote-write store, for long ranges.", optional=True)


@dataclass(frozen=True)
class AppSettings:
    targets: tuple[str, ...] = setting(
        "targets",
        v.host_port_list,
        "host:port of every API instance to scrape (Docker); on Kubernetes the API is discovered in `namespace`.",
        ["host.docker.internal:8000"],
    )
    metrics_path: str = setting("metricsPath", v.text, "Path of the metrics endpoint.", "/metrics")
    scheme: str = setting("scheme", v.one_of("http", "https"), "Scheme of the metrics endpoint.", "http")
    docker_network: str | None = setting(
        "dockerNetwork", v.text, "Existing Docker network of the application; unset means the host (host.docker.internal).", None
    )
    namespace: str = setting("namespace", v.k8s_name, "Kubernetes namespace of the application.", "ngx")
    service_selector: str = setting(
        "serviceSelector", v.text, "Label selector of the application's Service on Kubernetes.", "app.kubernetes.io/name=ngx-voice-agent"
    )
    port_name: str = setting("portName", v.text, "Name of the Service port that serves metrics on Kubernetes.", "http")
    log_path: str = setting("logPath", v.text, "Host directory with the application's JSON log files (Docker), read by the log shipper.", "/var/log/ngx")
    metric_names: str = setting(
        "metricNames",
        v.one_of(*API_NAMINGS),
        "Names of the API's HTTP metrics and active-conversations gauge: `ngx` (ngx_api_requests_total, ngx_response_time_seconds, ngx_active_conversations) or `instrumentator` (prometheus-fastapi-instrumentator's http_requests_total, http_request_duration_seconds and _highr_seconds, with conversation_active_total). Only the recording rules change; alerts and dashboards read the same recordings.",
        DEFAULT_API_NAMING,
    )


@dataclass(frozen=True)
class RedisSettings:
    address: str = setting("address", v.host_port, "host:port of the application's Redis.", "host.docker.internal:6379")


@dataclass(frozen=True)
class ImageSettings:
    prometheus: str = setting("prometheus", v.image, "Prometheus image.", DEFAULT_IMAGES["prometheus"])
    alertmanager: str = setting("alertmanager", v.image, "Alertmanager image.", DEFAULT_IMAGES["alertmanager"])
    grafana: str = setting("grafana", v.image, "Grafana image.", DEFAULT_IMAGES["grafana"])
    loki: str = setting("loki", v.image, "Loki image.", DEFAULT_IMAGES["loki"])
    alloy: str = setting("alloy", v.image, "Grafana Alloy (log shipper) image.", DEFAULT_IMAGES["alloy"])
    node_exporter: str = setting("nodeExporter", v.image, "node-exporter image.", DEFAULT_IMAGES["nodeExporter"])
    redis_exporter: str = setting("redisExporter", v.image, "redis_exporter image.", DEFAULT_IMAGES["redisExporter"])
    proxy: str = setting("proxy", v.image, "nginx (unprivileged) image of the TLS proxy.", DEFAULT_IMAGES["proxy"])
    proxy_exporter: str = setting("proxyExporter", v.image, "nginx-prometheus-exporter image (scrape job `proxy`).", DEFAULT_IMAGES["proxyExporter"])
    pushgateway: str = setting("pushgateway", v.image, "Pushgateway image (receives the backup jobs' results).", DEFAULT_IMAGES["pushgateway"])
    backup: str = setting("backup", v.image, "Python image that runs the backup program (ops/backup.py).", DEFAULT_IMAGES["backup"])
    restic: str = setting("restic", v.image, "restic image of the backup jobs' restic step (ops/restic-step.sh).", DEFAULT_IMAGES["restic"])
    kube_state_metrics: str = setting(
        "kubeStateMetrics", v.image, "kube-state-metrics image (Kubernetes only; job `kube-state-metrics`).", DEFAULT_IMAGES["kubeStateMetrics"]
    )


@dataclass(frozen=True)
class ProxySettings:
    bind_address: str = setting(
        "bindAddress", v.ip_address, "Host address the proxy publishes on (Docker): IPv4 or IPv6, `0.0.0.0` or `::` for every address.", "127.0.0.1"
    )
    https_port: int = setting("httpsPort", v.port, "Published HTTPS port (Docker).", 443)
    http_port: int = setting("httpPort", v.port, "Published HTTP port that redirects to HTTPS (Docker).", 80)
    admin_user: str = setting(
        "adminUser", v.text, "Basic-auth user for Prometheus, Alertmanager and Loki behind the proxy; its password is generated.", "ngx-ops"
    )


@dataclass(frozen=True)
class TlsSettings:
    certificate: str | None = setting(
        "certificate",
        v.pem("CERTIFICATE"),
        "PEM server certificate for `domain` (with its intermediates); the stack's own CA issues one when unset. Not with kubernetes.clusterIssuer or tlsSecretName.",
        None,
    )
    private_key: Secret | None = setting("privateKey", v.pem("PRIVATE KEY"), "PEM private key of `certificate`.", None, secret=True)
    ca_certificate: str | None = setting(
        "caCertificate",
        v.pem("CERTIFICATE"),
        "PEM of the private CA that issued the public certificate (`certificate`, or the clusterIssuer's or tlsSecretName's) when it is not in the system trust store; the program's clients add it to the system store, and it is exported as caCertificate.",
        None,
    )


@dataclass(frozen=True)
class ServiceResources:
    memory: str = setting("memory", v.volume_size, "Memory limit (request on Kubernetes equals it).")
    cpu: str = setting("cpu", v.cpu, "CPU limit in Kubernetes units (e.g. 500m, 1).")


@dataclass(frozen=True)
class ResourceSettings:
    prometheus: ServiceResources = section("prometheus", ServiceResources, "Prometheus.", memory="2Gi", cpu="1")
    alertmanager: ServiceResources = section("alertmanager", ServiceResources, "Alertmanager.", memory="256Mi", cpu="200m")
    grafana: ServiceResources = section("grafana", ServiceResources, "Grafana.", memory="512Mi", cpu="500m")
    loki: ServiceResources = section("loki", ServiceResources, "Loki.", memory="1Gi", cpu="1")
    alloy: ServiceResources = section("alloy", ServiceResources, "Alloy.", memory="256Mi", cpu="250m")
    node_exporter: ServiceResources = section("nodeExporter", ServiceResources, "node-exporter.", memory="128Mi", cpu="200m")
    redis_exporter: ServiceResources = section("redisExporter", ServiceResources, "redis_exporter.", memory="64Mi", cpu="100m")
    proxy: ServiceResources = section("proxy", ServiceResources, "nginx proxy.", memory="128Mi", cpu="250m")
    proxy_exporter: ServiceResources = section("proxyExporter", ServiceResources, "nginx-prometheus-exporter.", memory="64Mi", cpu="100m")
    pushgateway: ServiceResources = section("pushgateway", ServiceResources, "Pushgateway.", memory="64Mi", cpu="100m")
    # restic keeps the repository's index in memory (some tens of MiB for a repository of tens of GiB).
    backup: ServiceResources = section("backup", ServiceResources, "Each backup job.", memory="256Mi", cpu="500m")
    # Three namespaces and three resource kinds: a few hundred objects in memory.
    kube_state_metrics: ServiceResources = section("kubeStateMetrics", ServiceResources, "kube-state-metrics (Kubernetes only).", memory="128Mi", cpu="100m")


@dataclass(frozen=True)
class KubernetesSettings:
    namespace: str = setting("namespace", v.k8s_name, "Namespace of the stack (Pod Security `restricted`).", "ngx-monitoring")
    host_namespace: str = setting(
        "hostNamespace", v.k8s_name, "Namespace of node-exporter and the log shipper (Pod Security `privileged`).", "ngx-monitoring-host"
    )
    ingress_class: str = setting("ingressClass", v.text, "IngressClass that exposes Grafana, Prometheus, Alertmanager and Loki.", "nginx")
    cluster_issuer: str | None = setting(
        "clusterIssuer",
        v.text,
        "cert-manager ClusterIssuer for the Ingress certificate (HTTP-01 solvers are admitted from ingressControllerNamespace); not with tlsSecretName or tls.certificate. All three unset: the stack CA issues it.",
        None,
    )
    tls_secret_name: str | None = setting(
        "tlsSecretName", v.k8s_name, "Existing TLS Secret (in `namespace`) for the Ingress; not with clusterIssuer or tls.certificate.", None
    )
    storage_class: str | None = setting(
        "storageClass", v.text, "StorageClass of the PVCs (must allow volume expansion to resize); unset means the cluster default.", None
    )
    api_server_cidr: str | None = setting(
        "apiServerCidr",
        v.cidr,
        "Override: the one address block (IPv4 or IPv6 CIDR, no host bits set) of the API server's endpoints that Prometheus may reach for service discovery, on ports 443 and 6443; unset (the default) means the addresses and ports of the EndpointSlice `kubernetes` in namespace `default`, read at deploy time. Never the Service's ClusterIP (10.96.0.1): policies see the endpoint it is translated to.",
        None,
    )
    ingress_controller_namespace: str = setting(
        "ingressControllerNamespace", v.k8s_name, "Namespace of the ingress controller, the only one allowed to reach the proxy.", "ingress-nginx"
    )


@dataclass(frozen=True)
class SeriesPerJob:
    """Expected active series per scrape job, for the capacity estimate (defaults: a small API
    deployment; measure yours with `count by (job) ({__name__=~".+"})`)."""

    ngx_api: int = setting("ngxApi", v.positive_int, "Active series of job ngx-api (all API instances).", 5000)
    node: int = setting("node", v.positive_int, "Active series of job node (per node).", 1500)
    # About 50 of the exporter's own and 16 per interface; the virtual ones are not exported (a veth per pod).
    node_netdev: int = setting("nodeNetdev", v.positive_int, "Active series of job node-netdev (per node: the host's network interfaces).", 200)
    redis: int = setting("redis", v.positive_int, "Active series of job redis.", 500)
    prometheus: int = setting("prometheus", v.positive_int, "Active series of job prometheus (per replica).", 2000)
    alertmanager: int = setting("alertmanager", v.positive_int, "Active series of job alertmanager (per replica).", 300)
    loki: int = setting("loki", v.positive_int, "Active series of job loki.", 3000)
    grafana: int = setting("grafana", v.positive_int, "Active series of job grafana.", 1500)
    proxy: int = setting("proxy", v.positive_int, "Active series of job proxy.", 50)
    alloy: int = setting("alloy", v.positive_int, "Active series of job alloy.", 800)
    pushgateway: int = setting("pushgateway", v.positive_int, "Active series of job pushgateway (its own and the pushed backup results).", 150)
    # Kubernetes only; each job keeps only the catalogued metrics of the watched namespaces.
    kube_state_metrics: int = setting(
        "kubeStateMetrics", v.positive_int, "Active series of job kube-state-metrics (about 15 per pod of the watched namespaces; Kubernetes only).", 500
    )
    kubelet: int = setting(
        "kubelet", v.positive_int, "Active series of job kubelet per node (3 per mounted claim of the watched namespaces; Kubernetes only).", 50
    )
    cadvisor: int = setting(
        "cadvisor", v.positive_int, "Active series of job cadvisor per node (4 per container of the watched namespaces; Kubernetes only).", 100
    )


@dataclass(frozen=True)
class CapacitySettings:
    series: SeriesPerJob = section("series", SeriesPerJob, "Expected active series per job.")
    nodes: int = setting("nodes", v.positive_int, "Nodes that run node-exporter (Kubernetes: cluster nodes).", docker=1, kubernetes=3)
    log_volume_per_day: str = setting(
        "logVolumePerDay", v.prometheus_size, "Raw application log volume per day, before Loki's compression.", docker="500MB", kubernetes="5GB"
    )


@dataclass(frozen=True)
class Settings:
    platform: str = setting("platform", v.one_of("docker", "kubernetes"), "Backend: docker (stack dev) or kubernetes (stack prod).")
    domain: str = setting("domain", v.hostname, "Host name the proxy / Ingress serves.", "monitoring.localhost")
    environment: str = setting("environment", v.k8s_name, "`env` external label and dashboard variable; defaults to the stack name.", None)
    prometheus: PrometheusSettings = section("prometheus", PrometheusSettings, "Prometheus.")
    alertmanager: AlertmanagerSettings = section("alertmanager", AlertmanagerSettings, "Alertmanager.")
    loki: LokiSettings = section("loki", LokiSettings, "Loki.")
    grafana: GrafanaSettings = section("grafana", GrafanaSettings, "Grafana.")
    app: AppSettings = section("app", AppSettings, "The NGX API that is monitored.")
    redis: RedisSettings = section("redis", RedisSettings, "The application's Redis.")
    alerting: AlertingSettings = section("alerting", AlertingSettings, "Alert thresholds and SLO.")
    receivers: ReceiverSettings = section("receivers", ReceiverSettings, "Where notifications go.")
    images: ImageSettings = section("images", ImageSettings, "Pinned images.")
    proxy: ProxySettings = section("proxy", ProxySettings, "TLS reverse proxy.")
    tls: TlsSettings = section("tls", TlsSettings, "A provided certificate (optional).")
    resources: ResourceSettings = section("resources", ResourceSettings, "Memory and CPU limits per service.")
    kubernetes: KubernetesSettings = section("kubernetes", KubernetesSettings, "Kubernetes-only settings.")
    capacity: CapacitySettings = section("capacity", CapacitySettings, "Expected load, for the disk and memory estimate.")
    backup: BackupSettings = section("backup", BackupSettings, "Backups of Prometheus, Alertmanager and Grafana.")
