"""The NGX metric catalog: every metric the rules and dashboards may use, with its type and labels.

Rules and dashboards build their queries from these names; a test fails when an expression names a
metric that is neither here nor recorded by a rule, so a renamed metric breaks the build, not a panel.
"""

from __future__ import annotations

from dataclasses import dataclass

# The job names and Metric are imported from here by every layer above: this module is the catalog's face.
from catalog.metric import (
    JOB_ALERTMANAGER as JOB_ALERTMANAGER,
    JOB_ALLOY as JOB_ALLOY,
    JOB_API as JOB_API,
    JOB_BACKUP as JOB_BACKUP,
    JOB_CADVISOR as JOB_CADVISOR,
    JOB_GRAFANA as JOB_GRAFANA,
    JOB_KUBE_STATE_METRICS as JOB_KUBE_STATE_METRICS,
    JOB_KUBELET as JOB_KUBELET,
    JOB_LOKI as JOB_LOKI,
    JOB_NODE as JOB_NODE,
    JOB_NODE_NETDEV as JOB_NODE_NETDEV,
    JOB_PROMETHEUS as JOB_PROMETHEUS,
    JOB_PROXY as JOB_PROXY,
    JOB_PUSHGATEWAY as JOB_PUSHGATEWAY,
    JOB_REDIS as JOB_REDIS,
    JOBS as JOBS,
    PUSHED_JOBS as PUSHED_JOBS,
    Metric as Metric,
)
from catalog.stack import BACKUP, EXPORTERS, KUBERNETES

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


_ALL = _API_NGX + _API_INSTRUMENTATOR + _APP + _PRODUCT + EXPORTERS + BACKUP + KUBERNETES
# One entry per name: a second would silently replace the first in METRICS (its type, labels, job).
_TWICE = sorted({metric.name for metric in _ALL if sum(other.name == metric.name for other in _ALL) > 1})
if _TWICE:
    raise ValueError(f"catalog: metrics listed twice: {', '.join(_TWICE)}; keep one entry each")
METRICS: dict[str, Metric] = {metric.name: metric for metric in _ALL}


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
# Kubernetes only: where a line comes from. Bounded by what runs: a stream per live container of the
# application (a rollout replaces pod names, and the old streams end with their pods).
KUBERNETES_LOG_LABELS = ("namespace", "pod", "container")
# JSON fields of a log line that name one request or conversation: never stream labels (one stream
# per request would exhaust Loki's stream limit), found in the line with `| json` instead. The shipper
# refuses them as labels (renderers/alloy.py); Grafana's derived fields link on them.
HIGH_CARDINALITY_FIELDS = ("request_id", "trace_id", "span_id", "conversation_id", "customer_id", "user_id")

# The dashboard every alert notification links to (dashboards/overview.py builds it).
OVERVIEW_DASHBOARD_UID = "ngx-overview"
