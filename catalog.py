"""The NGX metric catalog: every metric the rules and dashboards may use, with its type and labels.

Rules and dashboards build their queries from these names; a test fails when an expression names a
metric that is neither here nor recorded by a rule, so a renamed metric breaks the build, not a panel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # counter | gauge | histogram | summary
    labels: tuple[str, ...]
    help: str
    source: str  # scrape job that exposes it

    def series_names(self) -> tuple[str, ...]:
        """Names Prometheus stores for this metric (histograms expand to three)."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.type == "summary":
            return (self.name, f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


# Scrape job names, fixed across stacks: rules, dashboards and routes select on them.
JOB_API = "ngx-api"
JOB_NODE = "node"
JOB_REDIS = "redis"
JOB_PROMETHEUS = "prometheus"
JOB_ALERTMANAGER = "alertmanager"
JOB_LOKI = "loki"
JOB_GRAFANA = "grafana"
JOB_PROXY = "proxy"
JOB_ALLOY = "alloy"
JOB_PUSHGATEWAY = "pushgateway"
# Kubernetes only: object state, the kubelet's own metrics (volume statistics) and its cAdvisor.
JOB_KUBE_STATE_METRICS = "kube-state-metrics"
JOB_KUBELET = "kubelet"
JOB_CADVISOR = "cadvisor"
JOBS = (
    JOB_API,
    JOB_NODE,
    JOB_REDIS,
    JOB_PROMETHEUS,
    JOB_ALERTMANAGER,
    JOB_LOKI,
    JOB_GRAFANA,
    JOB_PROXY,
    JOB_ALLOY,
    JOB_PUSHGATEWAY,
    JOB_KUBE_STATE_METRICS,
    JOB_KUBELET,
    JOB_CADVISOR,
)
# Jobs named by what pushes to the Pushgateway, not by a scrape job: the `pushgateway` job scrapes
# them with honor_labels, so their series keep the job label the pusher set.
JOB_BACKUP = "ngx-backup"
PUSHED_JOBS = (JOB_BACKUP,)

# The event contract of ngx_conversations_total. Its `status` label is not an outcome of one kind of
# event but two kinds of event: every conversation increments it exactly twice, once with
# CONVERSATION_START when it starts, and once with exactly one of CONVERSATION_ENDS when it ends. So the
# sum over every status counts each finished conversation twice, and the number of conversations is the
# `started` count alone: the business ratios divide by it (alerting.recording).
CONVERSATION_START = "started"
CONVERSATION_ENDS = ("completed", "converted", "dropped")
CONVERSATION_STATUSES = (CONVERSATION_START, *CONVERSATION_ENDS)
TIERS = ("agents_access", "hybrid_coaching", "elite")


# The API's HTTP metrics and its active-conversations gauge exist under two naming conventions, one per
# seed guide; the setting app.metricNames says which one the application exposes. The recording rules
# read the raw series named here and record the same series under either naming (the route in an
# `endpoint` label), so every alert and dashboard, which read only recordings, is the same for both.
@dataclass(frozen=True)
class ApiNaming:
    requests: str  # counter of requests, with a `status` label and `route_label`
    route_label: str  # the label naming the route (recorded as `endpoint`)
    latency: str  # histogram the per-job latency quantiles are computed from
    latency_by_route: str  # histogram carrying `route_label`, for the per-endpoint p95
    active_conversations: str  # gauge of conversations in progress
    status_classes: bool  # `status` holds the class (2xx, 5xx), not the code (200, 503)


API_NAMINGS = {
    # The Spanish guide's own prometheus_client metrics (000_...): status is the response code.
    "ngx": ApiNaming(
        "ngx_api_requests_total", "endpoint", "ngx_response_time_seconds", "ngx_response_time_seconds", "ngx_active_conversations", status_classes=False
    ),
    # The English guide (002_...): prometheus-fastapi-instrumentator's default metrics. Its
    # http_requests_total{method,status,handler} groups status codes into classes by default
    # (should_group_status_codes=True); the per-job latency reads http_request_duration_highr_seconds
    # (no labels, 21 buckets from 10ms to 60s), the per-route one http_request_duration_seconds
    # {method,handler} (buckets 0.1, 0.5, 1 s only). conversation_active_total is that guide's gauge.
    "instrumentator": ApiNaming(
        "http_requests_total",
        "handler",
        "http_request_duration_highr_seconds",
        "http_request_duration_seconds",
        "conversation_active_total",
        status_classes=True,
    ),
}
DEFAULT_API_NAMING = "ngx"
# A 5xx response whether `status` holds the code (503) or the class (5xx): both are "5" and two characters.
API_ERROR_STATUS = 'status=~"5.."'

_API_NGX = (
    Metric("ngx_api_requests_total", "counter", ("method", "endpoint", "status"), "API requests by method, endpoint and HTTP status code.", JOB_API),
    Metric("ngx_response_time_seconds", "histogram", ("endpoint",), "API response time.", JOB_API),
    Metric("ngx_active_conversations", "gauge", (), "Conversations in progress.", JOB_API),
)

_API_INSTRUMENTATOR = (
    Metric(
        "http_requests_total",
        "counter",
        ("method", "status", "handler"),
        "API requests by method, status class (2xx, 5xx) and route template (prometheus-fastapi-instrumentator).",
        JOB_API,
    ),
    Metric(
        "http_request_duration_highr_seconds", "histogram", (), "API response time of every request, many buckets (prometheus-fastapi-instrumentator).", JOB_API
    ),
    Metric(
        "http_request_duration_seconds",
        "histogram",
        ("method", "handler"),
        "API response time by route template, buckets 0.1, 0.5 and 1 s (prometheus-fastapi-instrumentator).",
        JOB_API,
    ),
    Metric("conversation_active_total", "gauge", (), "Conversations in progress (the English guide's name).", JOB_API),
)

_API_BY_NAMING = {"ngx": _API_NGX, "instrumentator": _API_INSTRUMENTATOR}

# Application metrics with one name whatever app.metricNames says.
_APP = (
    Metric(
        "ngx_conversations_total",
        "counter",
        ("status", "tier"),
        "Conversation events by tier: status started once when a conversation starts, then one of completed, converted or dropped when it ends.",
        JOB_API,
    ),
    Metric("ngx_predictions_total", "counter", ("model_type", "status"), "ML predictions by model and outcome (success, error).", JOB_API),
    Metric("ngx_prediction_confidence", "histogram", ("model_type",), "Confidence of ML predictions (0-1).", JOB_API),
    Metric("ngx_model_accuracy", "gauge", ("model_name",), "Current accuracy of each model (0-1).", JOB_API),
    Metric("conversation_conversions_total", "counter", ("tier", "archetype"), "Successful conversions by tier and customer archetype.", JOB_API),
    Metric("ml_prediction_duration_seconds", "histogram", ("model_type",), "ML prediction duration.", JOB_API),
    Metric("cache_hit_ratio", "gauge", (), "Share of cache lookups served from Redis (0-1).", JOB_API),
)

# The product side of the seeds' dashboards (A/B tests, conversion predictions vs outcomes, ROI, conversation
# duration, data drift) and the database pool: the contract of docs/dashboards.md (product metrics), the same under either
# naming. Label values are bounded by the application, never free text: `experiment` and `variant` by the
# running experiments' configuration (a handful each), `feature` by each model's monitored features,
# `currency` by the ISO 4217 codes the business bills in, `pool_name` by the engines the API creates.
CONVERSION_OUTCOMES = ("converted", "not_converted")
COST_KINDS = ("llm", "speech", "telephony")
DB_POOL_STATES = ("used", "idle")  # OpenTelemetry's db.client.connections.usage states
_PRODUCT = (
    Metric("ngx_ab_exposures_total", "counter", ("experiment", "variant"), "Conversations assigned to a variant of an A/B experiment (count).", JOB_API),
    Metric("ngx_ab_conversions_total", "counter", ("experiment", "variant"), "Conversations of a variant that converted (count).", JOB_API),
    Metric(
        "ngx_conversion_prediction_probability",
        "histogram",
        ("outcome",),
        "The conversion model's predicted probability (0-1) of each ended conversation, by its actual outcome (converted, not_converted).",
        JOB_API,
    ),
    Metric("ngx_revenue_total", "counter", ("tier", "currency"), "Revenue booked by converted conversations, in major units of `currency`.", JOB_API),
    Metric("ngx_cost_total", "counter", ("kind", "currency"), "Cost of serving conversations (llm, speech, telephony), in major units of `currency`.", JOB_API),
    Metric("ngx_conversation_duration_seconds", "histogram", ("tier",), "Duration of each ended conversation, start to end (seconds).", JOB_API),
    Metric("ngx_model_drift_score", "gauge", ("model_name", "feature"), "Drift of a model's input feature against its training data (PSI, 0 = none).", JOB_API),
    # OpenTelemetry semantic conventions for connection pools (v1.24, db.client.connections.*), in their
    # Prometheus form; opentelemetry-instrumentation-sqlalchemy emits the first, a collector over
    # SQLAlchemy's QueuePool the rest (docs/dashboards.md).
    Metric("db_client_connections_usage", "gauge", ("pool_name", "state"), "Open connections of a pool by state (used, idle).", JOB_API),
    Metric("db_client_connections_idle_max", "gauge", ("pool_name",), "Connections a pool keeps open (SQLAlchemy pool_size).", JOB_API),
    Metric("db_client_connections_max", "gauge", ("pool_name",), "Connections a pool may open at most (pool_size + max_overflow).", JOB_API),
    Metric("db_client_connections_pending_requests", "gauge", ("pool_name",), "Checkouts waiting for a free connection.", JOB_API),
    Metric("db_client_connections_timeouts_total", "counter", ("pool_name",), "Checkouts that gave up waiting (pool_timeout).", JOB_API),
)

_EXPORTERS = (
    Metric("up", "gauge", (), "1 when the last scrape of a target succeeded.", "prometheus"),
    Metric("scrape_duration_seconds", "gauge", (), "Duration of the last scrape of a target.", "prometheus"),
    Metric("scrape_samples_scraped", "gauge", (), "Samples the last scrape returned.", "prometheus"),
    Metric("scrape_samples_post_metric_relabeling", "gauge", (), "Samples left after metric relabelling.", "prometheus"),
    Metric("node_cpu_seconds_total", "counter", ("cpu", "mode"), "CPU time by mode.", JOB_NODE),
    Metric("node_memory_MemAvailable_bytes", "gauge", (), "Memory available to new work.", JOB_NODE),
    Metric("node_memory_MemTotal_bytes", "gauge", (), "Total memory.", JOB_NODE),
    Metric("node_filesystem_avail_bytes", "gauge", ("device", "fstype", "mountpoint"), "Free filesystem space for non-root users.", JOB_NODE),
    Metric("node_filesystem_size_bytes", "gauge", ("device", "fstype", "mountpoint"), "Filesystem size.", JOB_NODE),
    Metric("redis_up", "gauge", (), "1 when the exporter reached Redis.", JOB_REDIS),
    Metric("redis_connected_clients", "gauge", (), "Redis client connections.", JOB_REDIS),
    Metric("redis_memory_used_bytes", "gauge", (), "Memory used by Redis.", JOB_REDIS),
    Metric("redis_keyspace_hits_total", "counter", (), "Redis keyspace hits.", JOB_REDIS),
    Metric("redis_keyspace_misses_total", "counter", (), "Redis keyspace misses.", JOB_REDIS),
    Metric("prometheus_rule_evaluation_failures_total", "counter", ("rule_group",), "Failed rule evaluations.", JOB_PROMETHEUS),
    Metric("prometheus_rule_group_last_duration_seconds", "gauge", ("rule_group",), "Duration of the last evaluation of a rule group.", JOB_PROMETHEUS),
    Metric("prometheus_rule_group_interval_seconds", "gauge", ("rule_group",), "Evaluation interval of a rule group.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_alertmanagers_discovered", "gauge", (), "Alertmanagers Prometheus sends to.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_errors_total", "counter", ("alertmanager",), "Errors sending alerts to an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_sent_total", "counter", ("alertmanager",), "Alerts sent to an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_dropped_total", "counter", (), "Alerts dropped before reaching an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_config_last_reload_successful", "gauge", (), "1 when the last configuration reload succeeded.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_storage_blocks_bytes", "gauge", (), "Bytes used by persisted blocks.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_wal_storage_size_bytes", "gauge", (), "Bytes used by the write-ahead log.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_head_chunks_storage_size_bytes", "gauge", (), "Bytes used by memory-mapped head chunks.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_head_series", "gauge", (), "Series in the head block.", JOB_PROMETHEUS),
    Metric("prometheus_target_scrapes_exceeded_sample_limit_total", "counter", (), "Scrapes rejected for exceeding sample_limit.", JOB_PROMETHEUS),
    Metric("prometheus_target_scrape_pool_exceeded_label_limits_total", "counter", (), "Scrapes rejected for exceeding label limits.", JOB_PROMETHEUS),
    Metric("alertmanager_notifications_total", "counter", ("integration",), "Notifications attempted per integration.", JOB_ALERTMANAGER),
    Metric("alertmanager_notifications_failed_total", "counter", ("integration",), "Notifications that failed per integration.", JOB_ALERTMANAGER),
    Metric("alertmanager_cluster_members", "gauge", (), "Alertmanager cluster members this peer sees.", JOB_ALERTMANAGER),
    Metric("alertmanager_config_last_reload_successful", "gauge", (), "1 when the last configuration reload succeeded.", JOB_ALERTMANAGER),
    Metric(
        "alertmanager_config_hash", "gauge", (), "Hash of the loaded configuration (as the value); equal on replicas that run the same one.", JOB_ALERTMANAGER
    ),
    Metric("alertmanager_alerts", "gauge", ("state",), "Alerts held by state.", JOB_ALERTMANAGER),
    Metric("loki_distributor_lines_received_total", "counter", ("tenant",), "Log lines received by Loki.", JOB_LOKI),
    Metric("loki_distributor_bytes_received_total", "counter", ("tenant",), "Log bytes received by Loki.", JOB_LOKI),
    Metric("loki_request_duration_seconds", "histogram", ("route", "status_code"), "Loki request duration.", JOB_LOKI),
    Metric("grafana_http_request_duration_seconds", "histogram", ("handler", "status_code", "method"), "Grafana HTTP request duration.", JOB_GRAFANA),
    Metric("nginx_up", "gauge", (), "1 when the exporter reached nginx stub_status.", JOB_PROXY),
    Metric("nginx_http_requests_total", "counter", (), "Requests served by the proxy.", JOB_PROXY),
    Metric("nginx_connections_active", "gauge", (), "Active client connections at the proxy.", JOB_PROXY),
    Metric("loki_write_sent_entries_total", "counter", (), "Log entries the shipper sent to Loki.", JOB_ALLOY),
    Metric("loki_write_dropped_entries_total", "counter", ("reason",), "Log entries the shipper dropped.", JOB_ALLOY),
)

# Pushed by ops/backup.py at the end of every run, one group per target (prometheus-0, alertmanager-0, ...).
_BACKUP = (
    Metric(
        "ngx_backup_last_success_timestamp_seconds", "gauge", ("target",), "Unix time at which the last successful backup of a target finished.", JOB_BACKUP
    ),
    Metric("ngx_backup_last_run_success", "gauge", ("target",), "1 when the last backup run of a target succeeded, 0 when it failed.", JOB_BACKUP),
    Metric("ngx_backup_last_size_bytes", "gauge", ("target",), "Size of the last successful backup archive of a target.", JOB_BACKUP),
    Metric("ngx_backup_duration_seconds", "gauge", ("target",), "Duration of the last backup run of a target.", JOB_BACKUP),
)

# Kubernetes only (jobs kube-state-metrics, kubelet and cadvisor): exactly what the rules and panels read;
# renderers/prometheus.py keeps these and drops the rest of each job at scrape time.
_POD = ("namespace", "pod", "uid")
_KUBERNETES = (
    Metric("kube_pod_container_status_restarts_total", "counter", (*_POD, "container"), "Restarts of a container.", JOB_KUBE_STATE_METRICS),
    Metric(
        "kube_pod_container_status_waiting_reason",
        "gauge",
        (*_POD, "container", "reason"),
        "1 while a container waits, by reason (CrashLoopBackOff, ImagePullBackOff, ...).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_status_last_terminated_reason",
        "gauge",
        (*_POD, "container", "reason"),
        "1 for the reason a container last terminated (OOMKilled, Error, ...).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_resource_requests",
        "gauge",
        (*_POD, "container", "node", "resource", "unit"),
        "Resources a container requests (cpu in cores, memory in bytes).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_resource_limits",
        "gauge",
        (*_POD, "container", "node", "resource", "unit"),
        "Resource limits of a container (cpu in cores, memory in bytes).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric("kube_pod_status_ready", "gauge", (*_POD, "condition"), "1 for the pod's Ready condition (true, false, unknown).", JOB_KUBE_STATE_METRICS),
    Metric("kube_pod_status_phase", "gauge", (*_POD, "phase"), "1 for the pod's phase (Pending, Running, Succeeded, Failed, Unknown).", JOB_KUBE_STATE_METRICS),
    Metric("kube_deployment_spec_replicas", "gauge", ("namespace", "deployment"), "Replicas a Deployment wants.", JOB_KUBE_STATE_METRICS),
    Metric("kube_deployment_status_replicas_available", "gauge", ("namespace", "deployment"), "Available replicas of a Deployment.", JOB_KUBE_STATE_METRICS),
    Metric(
        "kube_deployment_status_condition",
        "gauge",
        ("namespace", "deployment", "condition", "status"),
        "1 for each condition status of a Deployment (Progressing, Available).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric("kube_statefulset_replicas", "gauge", ("namespace", "statefulset"), "Replicas a StatefulSet wants.", JOB_KUBE_STATE_METRICS),
    Metric("kube_statefulset_status_replicas_ready", "gauge", ("namespace", "statefulset"), "Ready replicas of a StatefulSet.", JOB_KUBE_STATE_METRICS),
    Metric("kubelet_volume_stats_capacity_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Capacity of a mounted volume, by claim.", JOB_KUBELET),
    Metric("kubelet_volume_stats_available_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Free bytes of a mounted volume, by claim.", JOB_KUBELET),
    Metric("kubelet_volume_stats_used_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Used bytes of a mounted volume, by claim.", JOB_KUBELET),
    Metric(
        "container_cpu_usage_seconds_total", "counter", ("namespace", "pod", "container", "id", "image", "name"), "CPU time a container used.", JOB_CADVISOR
    ),
    Metric(
        "container_cpu_cfs_periods_total",
        "counter",
        ("namespace", "pod", "container", "id", "image", "name"),
        "CFS enforcement periods of a container with a CPU limit.",
        JOB_CADVISOR,
    ),
    Metric(
        "container_cpu_cfs_throttled_periods_total",
        "counter",
        ("namespace", "pod", "container", "id", "image", "name"),
        "CFS periods in which a container was throttled.",
        JOB_CADVISOR,
    ),
    Metric(
        "container_memory_working_set_bytes",
        "gauge",
        ("namespace", "pod", "container", "id", "image", "name"),
        "Working set of a container (what the OOM killer compares with the limit).",
        JOB_CADVISOR,
    ),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _API_NGX + _API_INSTRUMENTATOR + _APP + _PRODUCT + _EXPORTERS + _BACKUP + _KUBERNETES}


def job_metrics(job: str) -> tuple[str, ...]:
    """The catalogued series names a scrape job exposes, sorted (what its scrape keeps)."""
    return tuple(sorted(name for metric in METRICS.values() if metric.source == job for name in metric.series_names()))


def app_metrics(naming: str) -> tuple[Metric, ...]:
    """Every metric an application exposes under `naming` (a key of API_NAMINGS)."""
    if naming not in API_NAMINGS:
        raise KeyError(f"{naming} is not an API naming; one of {', '.join(API_NAMINGS)}")
    return _API_BY_NAMING[naming] + _APP + _PRODUCT


# The application's metrics under the default naming.
APP_METRICS: tuple[Metric, ...] = app_metrics(DEFAULT_API_NAMING)

# Labels every series carries after scraping, whatever the metric.
TARGET_LABELS = ("job", "instance", "env", "replica")


def series_names() -> frozenset[str]:
    """Every stored series name the catalog covers."""
    return frozenset(name for metric in METRICS.values() for name in metric.series_names())


def metric(name: str) -> str:
    """A catalogued metric name; raises KeyError for anything else, so a typo fails at render time."""
    if name not in METRICS:
        raise KeyError(f"{name} is not in the NGX metric catalog")
    return name


def job_selector(job: str) -> str:
    if job not in JOBS + PUSHED_JOBS:
        raise KeyError(f"{job} is not a scrape job or a pushed job")
    return f'job="{job}"'


# Log stream labels the shipper attaches; LogQL queries may select on these only.
LOG_LABELS = ("job", "env", "level", "event", "service_name")
LOG_JOB = JOB_API
# JSON fields of a log line that name one request or conversation: never stream labels (one stream
# per request would exhaust Loki's stream limit), found in the line with `| json` instead. The shipper
# refuses them as labels (renderers/alloy.py); Grafana's derived fields link on them.
HIGH_CARDINALITY_FIELDS = ("request_id", "trace_id", "span_id", "conversation_id", "customer_id", "user_id")

# The dashboard every alert notification links to (dashboards/overview.py builds it).
OVERVIEW_DASHBOARD_UID = "ngx-overview"
