"""Recording rules for alerts and dashboards (rendered to ngx-recording.yml).

Names follow level:metric:operations (level = the labels kept). Dashboards read these series instead of
raw, per-instance/per-bucket data, so no panel aggregates a high-cardinality metric at view time. Each raw
counter or histogram is read once per evaluation, at the finest level any reader needs; coarser levels
are sums of that recording, in the same group, so they cost a few hundred samples instead of every raw
series again. The names of the API's total and 5xx rates and the SLO error ratios live in alerting.slo.

The API's raw series depend on app.metricNames (catalog.API_NAMINGS); the recordings do not: they keep
their names and record the route as `endpoint` under either naming, so nothing above them changes.
"""

from __future__ import annotations

from alerting import node_io, slo
from alerting.model import Recording, RuleGroup
from alerting.promql import rate_by, rate_by_as, selector, zero_safe_ratio
from alerting.slo import API_ERRORS_RATE5M, API_REQUESTS_RATE5M
from catalog import API_ERROR_STATUS, API_NAMINGS, CONVERSATION_ENDS, CONVERSATION_START, JOB_API, JOB_NODE, ApiNaming
from settings import Settings, latency_evaluation_interval

# API traffic: the request counter read once, per endpoint and status, then summed to every level the
# alerts and dashboards read (the job totals, named in alerting.slo, too); and the hourly downsample.
API_REQUESTS_BY_ENDPOINT_STATUS_RATE5M = "job_endpoint_status:ngx_api_requests:rate5m"
API_REQUESTS_BY_STATUS_RATE5M = "job_status:ngx_api_requests:rate5m"
API_REQUESTS_BY_ENDPOINT_RATE5M = "job_endpoint:ngx_api_requests:rate5m"
API_ERRORS_BY_ENDPOINT_RATE5M = "job_endpoint:ngx_api_requests_errors:rate5m"
API_REQUESTS_RATE1H = "job:ngx_api_requests:rate1h"
RESPONSE_TIME_BUCKETS_RATE5M = "job_le:ngx_response_time_seconds_bucket:rate5m"
RESPONSE_TIME_QUANTILES = "job_quantile:ngx_response_time_seconds:histogram_quantile_rate5m"
RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M = "job_endpoint_le:ngx_response_time_seconds_bucket:rate5m"
RESPONSE_TIME_BY_ENDPOINT_QUANTILES = "job_endpoint_quantile:ngx_response_time_seconds:histogram_quantile_rate5m"

# Business: conversations by outcome and tier, downsampled to 1h for the business alerts.
CONVERSATIONS_RATE5M = "job_status_tier:ngx_conversations:rate5m"
CONVERSATIONS_RATE1H = "job_status_tier:ngx_conversations:rate1h"
CONVERTED_RATIO_1H = "job:ngx_conversations_converted:ratio_rate1h"
DROPPED_RATIO_1H = "job:ngx_conversations_dropped:ratio_rate1h"
ACTIVE_CONVERSATIONS = "job:ngx_active_conversations:sum"
CONVERSIONS_RATE5M = "job_tier_archetype:conversation_conversions:rate5m"

# ML.
PREDICTIONS_RATE5M = "job_model_type_status:ngx_predictions:rate5m"
PREDICTION_DURATION_BUCKETS_RATE5M = "job_model_type_le:ml_prediction_duration_seconds_bucket:rate5m"
PREDICTION_DURATION_QUANTILES = "job_model_type_quantile:ml_prediction_duration_seconds:histogram_quantile_rate5m"
PREDICTION_CONFIDENCE_BUCKETS_RATE5M = "job_model_type_le:ngx_prediction_confidence_bucket:rate5m"
PREDICTION_CONFIDENCE_QUANTILES = "job_model_type_quantile:ngx_prediction_confidence:histogram_quantile_rate5m"
# The mean over the API instances (the dashboards draw it; LowModelAccuracy reads each instance raw).
MODEL_ACCURACY = "job_model_name:ngx_model_accuracy:avg"

# Nodes: share of CPU time busy and of memory in use, 0-1.
NODE_CPU_UTILISATION = "instance:node_cpu_utilisation:rate5m"
NODE_MEMORY_UTILISATION = "instance:node_memory_utilisation:ratio"

# Latency percentiles the overview dashboard shows (seed guide: p50, p95, p99).
LATENCY_QUANTILES = ("0.5", "0.95", "0.99")
# The `quantile` label values recorded for each quantile recording (dashboards may read only these).
QUANTILES = {
    RESPONSE_TIME_QUANTILES: LATENCY_QUANTILES,
    RESPONSE_TIME_BY_ENDPOINT_QUANTILES: ("0.95",),
    PREDICTION_DURATION_QUANTILES: ("0.5", "0.95", "0.99"),
    PREDICTION_CONFIDENCE_QUANTILES: ("0.5",),
}


def _quantiles(record: str, buckets: str) -> tuple[Recording, ...]:
    return tuple(Recording(record, f"histogram_quantile({q}, {buckets})", (("quantile", q),)) for q in QUANTILES[record])


def _conversation_ratio(status: str) -> str:
    """Conversations that ended with `status` per conversation started, over the last hour.

    The denominator is the `started` events alone (catalog: every conversation counts once as started
    and once more with its end status, so the sum of every status would count it twice and halve the
    ratio). Ends lag starts: an end in this hour may belong to a conversation started in the previous
    one. At a steady start rate the two balance and the ratio is the true share; when the start rate
    changes it is off by about (conversation length / 1h) x the relative change, a few percent of the
    ratio for conversations of minutes, which the alerts' `for` of 1-2h rides out. Dividing by the ends
    instead would not see conversations still running or whose end was never recorded, and the
    `started` count is the number the business calls conversations.
    """
    if status not in CONVERSATION_ENDS:
        raise KeyError(f"{status} is not an end status of ngx_conversations_total")
    part = f'sum by (job) ({CONVERSATIONS_RATE1H}{{status="{status}"}})'
    whole = f'sum by (job) ({CONVERSATIONS_RATE1H}{{status="{CONVERSATION_START}"}})'
    return zero_safe_ratio(part, whole)


def api_traffic(names: ApiNaming) -> tuple[Recording, ...]:
    """The request counter read once (per endpoint and status), every request rate summed from that."""
    by_endpoint_status = API_REQUESTS_BY_ENDPOINT_STATUS_RATE5M
    errors = f"{by_endpoint_status}{{{API_ERROR_STATUS}}}"
    return (
        Recording(by_endpoint_status, rate_by_as("job, endpoint, status", names.requests, JOB_API, {"endpoint": names.route_label})),
        Recording(API_REQUESTS_RATE5M, f"sum by (job) ({by_endpoint_status})"),
        # 0, not absent, before the first 5xx is ever counted: availability must read 100%, not "no data".
        Recording(API_ERRORS_RATE5M, f"sum by (job) ({errors}) or {API_REQUESTS_RATE5M} * 0"),
        Recording(API_REQUESTS_BY_STATUS_RATE5M, f"sum by (job, status) ({by_endpoint_status})"),
        Recording(API_REQUESTS_BY_ENDPOINT_RATE5M, f"sum by (job, endpoint) ({by_endpoint_status})"),
        Recording(API_ERRORS_BY_ENDPOINT_RATE5M, f"sum by (job, endpoint) ({errors})"),
        # Downsampled as the seed guide does: the hourly mean of the 5m rate, cheap to keep for months.
        Recording(API_REQUESTS_RATE1H, f"avg_over_time({API_REQUESTS_RATE5M}[1h])"),
    )


def api_latency(names: ApiNaming) -> tuple[Recording, ...]:
    """The response-time histogram read once per endpoint; the job level summed from it when the
    application has one histogram for both (the instrumentator naming has two, each read once)."""
    by_endpoint = rate_by_as("job, endpoint, le", f"{names.latency_by_route}_bucket", JOB_API, {"endpoint": names.route_label})
    if names.latency == names.latency_by_route:
        job = f"sum by (job, le) ({RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M})"
    else:
        job = rate_by("job, le", f"{names.latency}_bucket", JOB_API)
    return (
        Recording(RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M, by_endpoint),
        *_quantiles(RESPONSE_TIME_BY_ENDPOINT_QUANTILES, RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M),
        Recording(RESPONSE_TIME_BUCKETS_RATE5M, job),
        *_quantiles(RESPONSE_TIME_QUANTILES, RESPONSE_TIME_BUCKETS_RATE5M),
    )


def api_group(names: ApiNaming) -> RuleGroup:
    """Everything read from the API's request counter, in dependency order: the rates, the SLO's error
    ratios and availability (alerting.slo). One group, so each raw series is read once per evaluation
    and every alert on them (placed after these by alerting.placement) compares values of the same
    evaluation."""
    return RuleGroup("ngx-api.rules", api_traffic(names) + slo.recordings())


def api_latency_group(names: ApiNaming, interval: str) -> RuleGroup:
    """The response-time histogram (75% of the API's raw samples: a dozen buckets per endpoint) in a
    group of its own at `interval` (prometheus.latencyEvaluationInterval). Nothing pages on it
    (HighResponseTime is a warning held for 5m) and the dashboards draw it at 30s steps or coarser, so
    evaluating it every second evaluation halves the costliest reads without delaying a page."""
    return RuleGroup("ngx-api-latency.rules", api_latency(names), interval)


def business_group(names: ApiNaming) -> RuleGroup:
    return RuleGroup(
        "ngx-business.rules",
        (
            Recording(CONVERSATIONS_RATE5M, rate_by("job, status, tier", "ngx_conversations_total", JOB_API)),
            Recording(CONVERSATIONS_RATE1H, f"avg_over_time({CONVERSATIONS_RATE5M}[1h])"),
            Recording(CONVERTED_RATIO_1H, _conversation_ratio("converted")),
            Recording(DROPPED_RATIO_1H, _conversation_ratio("dropped")),
            Recording(ACTIVE_CONVERSATIONS, f"sum by (job) ({selector(names.active_conversations, JOB_API)})"),
            Recording(CONVERSIONS_RATE5M, rate_by("job, tier, archetype", "conversation_conversions_total", JOB_API)),
        ),
    )


def ml_group() -> RuleGroup:
    return RuleGroup(
        "ngx-ml.rules",
        (
            Recording(PREDICTIONS_RATE5M, rate_by("job, model_type, status", "ngx_predictions_total", JOB_API)),
            Recording(PREDICTION_DURATION_BUCKETS_RATE5M, rate_by("job, model_type, le", "ml_prediction_duration_seconds_bucket", JOB_API)),
            *_quantiles(PREDICTION_DURATION_QUANTILES, PREDICTION_DURATION_BUCKETS_RATE5M),
            Recording(PREDICTION_CONFIDENCE_BUCKETS_RATE5M, rate_by("job, model_type, le", "ngx_prediction_confidence_bucket", JOB_API)),
            *_quantiles(PREDICTION_CONFIDENCE_QUANTILES, PREDICTION_CONFIDENCE_BUCKETS_RATE5M),
            Recording(MODEL_ACCURACY, f"avg by (job, model_name) ({selector('ngx_model_accuracy', JOB_API)})"),
        ),
    )


def node_group() -> RuleGroup:
    idle = selector("node_cpu_seconds_total", JOB_NODE, 'mode=~"idle|iowait"')
    available = selector("node_memory_MemAvailable_bytes", JOB_NODE)
    total = selector("node_memory_MemTotal_bytes", JOB_NODE)
    return RuleGroup(
        "node.rules",
        (
            # Busy = not idle and not waiting on I/O, averaged over the node's CPUs.
            Recording(NODE_CPU_UTILISATION, f"1 - avg by (job, instance) (sum without (mode) (rate({idle}[5m])))"),
            Recording(NODE_MEMORY_UTILISATION, f"1 - {available} / ({total} > 0)"),
        ),
    )


def groups(settings: Settings) -> tuple[RuleGroup, ...]:
    names = API_NAMINGS[settings.app.metric_names]
    return (api_group(names), api_latency_group(names, latency_evaluation_interval(settings)), business_group(names), ml_group(), node_group(), node_io.group())
