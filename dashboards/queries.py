"""Every PromQL and LogQL expression the dashboards draw, built from the metric catalog and the
names of recorded series, never typed as free text inside a panel.

Application panels read recorded series (alerting.recording, alerting.slo): the rules aggregate the
raw per-instance, per-bucket API series once per evaluation, and a dashboard refresh reads a handful
of pre-aggregated series instead. Raw selectors remain only for low-cardinality gauges (one series
per target, model or rule group). tests/test_dashboards.py parses every expression and checks each
metric name against the catalog and the rule files.
"""

from __future__ import annotations

import catalog
from alerting import recording as rec, slo
from alerting.promql import number, selector, zero_safe_ratio
from catalog import JOB_ALERTMANAGER, JOB_ALLOY, JOB_API, JOB_LOKI, JOB_NODE, JOB_PROMETHEUS, JOB_REDIS
from settings import Settings
from settings.validators import prometheus_size_bytes

# Counters read directly (stack-health panels) use Grafana's rate window: at least four scrapes.
RATE_WINDOW = "$__rate_interval"

# Quantiles drawn for latency (seed guide: p50, p95, p99) and how the legend names them.
QUANTILE_LEGENDS = {"0.5": "p50", "0.95": "p95", "0.99": "p99"}

# Variables (see dashboards.defaults); "All" selects the regex `.*`.
INSTANCE = 'instance=~"$instance"'
NODE = 'instance=~"$node"'
MODEL = 'model_type=~"$model"'
TIER = 'tier=~"$tier"'


def _rate(series: str, job: str, *matchers: str) -> str:
    return f"rate({selector(series, job, *matchers)}[{RATE_WINDOW}])"


def per_minute(expr: str) -> str:
    """Recorded rates are per second; business volumes read better per minute."""
    return f"({expr}) * 60"


# ---- variables ---------------------------------------------------------------------------------------


def label_values(series: str, label: str) -> str:
    """Grafana's variable query over one series' label values (the series must exist in the catalog or rules)."""
    return f"label_values({series}, {label})"


def api_instances() -> str:
    return label_values(selector("up", JOB_API), "instance")


def node_instances() -> str:
    return label_values(selector("up", JOB_NODE), "instance")


def model_types() -> str:
    return label_values(rec.PREDICTIONS_RATE5M, "model_type")


# ---- overview ----------------------------------------------------------------------------------------


def api_up() -> str:
    # Per target, so no recording: the panel shows the last value only and queries it as an instant.
    return selector("up", JOB_API, INSTANCE)


def request_rate_by_status() -> str:
    return f"sum by (status) ({rec.API_REQUESTS_BY_STATUS_RATE5M})"


def error_ratio(window: str = "5m") -> str:
    """Share of requests answered with a 5xx over `window` (0-1)."""
    return slo.error_ratio(window)


def latency_quantile(quantile: str) -> str:
    """API response time at `quantile`, from the recorded per-job quantiles."""
    if quantile not in recorded_quantiles(rec.RESPONSE_TIME_QUANTILES):
        raise KeyError(f"quantile {quantile} is not recorded for {rec.RESPONSE_TIME_QUANTILES}")
    return f'{rec.RESPONSE_TIME_QUANTILES}{{quantile="{quantile}"}}'


def slowest_endpoints_p95(top: int = 5) -> str:
    return f'topk({top}, {rec.RESPONSE_TIME_BY_ENDPOINT_QUANTILES}{{quantile="0.95"}})'


def active_conversations() -> str:
    return f"sum({rec.ACTIVE_CONVERSATIONS})"


def node_cpu() -> str:
    return f"{rec.NODE_CPU_UTILISATION}{{{NODE}}}"


def node_memory() -> str:
    return f"{rec.NODE_MEMORY_UTILISATION}{{{NODE}}}"


def redis_up() -> str:
    return selector("redis_up", JOB_REDIS)


def cache_hit_ratio() -> str:
    return f"avg({selector('cache_hit_ratio', JOB_API, INSTANCE)})"


def firing_alerts() -> str:
    # Every Alertmanager replica holds every alert (gossip): the max is the number of distinct alerts.
    active = selector("alertmanager_alerts", JOB_ALERTMANAGER, 'state="active"')
    return f"max({active})"


# ---- ML ----------------------------------------------------------------------------------------------


def recorded_quantiles(record: str) -> set[str]:
    """The `quantile` label values the recording rules write for `record`."""
    return set(rec.QUANTILES.get(record, ()))


def prediction_latency(quantile: str) -> str:
    """ML prediction duration at `quantile` by model: the recorded quantile where one exists, else the
    quantile of the recorded (already aggregated) bucket rates, which is just as cheap to read."""
    if quantile in recorded_quantiles(rec.PREDICTION_DURATION_QUANTILES):
        return f'{rec.PREDICTION_DURATION_QUANTILES}{{quantile="{quantile}",{MODEL}}}'
    return f"histogram_quantile({quantile}, sum by (model_type, le) ({rec.PREDICTION_DURATION_BUCKETS_RATE5M}{{{MODEL}}}))"


def prediction_throughput() -> str:
    return f"sum by (model_type) ({rec.PREDICTIONS_RATE5M}{{{MODEL}}})"


def prediction_error_share() -> str:
    part = f'sum by (model_type) ({rec.PREDICTIONS_RATE5M}{{status="error",{MODEL}}})'
    whole = f"sum by (model_type) ({rec.PREDICTIONS_RATE5M}{{{MODEL}}})"
    return zero_safe_ratio(part, whole)


def prediction_confidence_buckets() -> str:
    return f"sum by (le) ({rec.PREDICTION_CONFIDENCE_BUCKETS_RATE5M}{{{MODEL}}})"


def prediction_confidence_median() -> str:
    return f'{rec.PREDICTION_CONFIDENCE_QUANTILES}{{quantile="0.5",{MODEL}}}'


def model_accuracy() -> str:
    # Every API instance reports the same models; the mean hides a replica that lags a reload.
    return f"avg by (model_name) ({rec.MODEL_ACCURACY})"


# ---- business ----------------------------------------------------------------------------------------


def conversion_ratio() -> str:
    return rec.CONVERTED_RATIO_1H


def drop_ratio() -> str:
    return rec.DROPPED_RATIO_1H


def conversations_by_tier(status: str = "started") -> str:
    if status not in catalog.CONVERSATION_STATUSES:
        raise KeyError(f"{status} is not a conversation status of the catalog")
    return per_minute(f'sum by (tier) ({rec.CONVERSATIONS_RATE5M}{{status="{status}",{TIER}}})')


def conversations_by_outcome() -> str:
    return per_minute(f"sum by (status) ({rec.CONVERSATIONS_RATE5M}{{{TIER}}})")


def conversions_by_tier_and_archetype() -> str:
    return per_minute(f"sum by (tier, archetype) ({rec.CONVERSIONS_RATE5M}{{{TIER}}})")


def tier_distribution() -> str:
    """Conversations started per tier over the last hour (shares of a pie)."""
    return per_minute(f'sum by (tier) ({rec.CONVERSATIONS_RATE1H}{{status="started"}})')


def conversation_events() -> str:
    """Recent conversation events from the API's structured logs (the seed guide's `| json` query),
    selected by the `event` stream label the shipper promotes; tier filtering reads the JSON field."""
    return f'{{job="{catalog.LOG_JOB}", env="$env", event=~"conversation_.+"}} | json | {TIER}'


# ---- SLO ---------------------------------------------------------------------------------------------


def availability() -> str:
    return slo.AVAILABILITY


def availability_over_slo_window(settings: Settings) -> str:
    """Availability over the whole SLO window, derived from the recorded remaining budget:
    remaining = 1 - spent/budget, so availability = 1 - (1 - remaining) * budget."""
    return f"1 - (1 - {slo.ERROR_BUDGET_REMAINING}) * {number(slo.error_budget(settings))}"


def availability_over(window: str) -> str:
    """Availability over `window` from the SLO's recorded 5m rates (a window longer than the SLO's,
    read from the long-term store): 1 - errors / requests, no sample without requests."""
    errors = f"sum(sum_over_time({slo.API_ERRORS_RATE5M}[{window}]))"
    requests = f"sum(sum_over_time({slo.API_REQUESTS_RATE5M}[{window}]))"
    return f"1 - ({errors} or {requests} * 0) / ({requests} > 0)"


def error_budget_remaining() -> str:
    return slo.ERROR_BUDGET_REMAINING


def burn_rate(settings: Settings, window: str) -> str:
    """How many times faster than the SLO allows the budget burns over `window` (1 = exactly on budget)."""
    if window not in slo.WINDOWS:
        raise KeyError(f"window {window} has no recorded error ratio")
    return f"{slo.error_ratio(window)} / {number(slo.error_budget(settings))}"


def error_ratio_by_endpoint(top: int = 10) -> str:
    part = rec.API_ERRORS_BY_ENDPOINT_RATE5M
    whole = rec.API_REQUESTS_BY_ENDPOINT_RATE5M
    return f"topk({top}, {zero_safe_ratio(part, whole)})"


# ---- monitoring stack --------------------------------------------------------------------------------


def targets_up_share() -> str:
    return f"avg by (job) ({catalog.metric('up')})"


def targets_down() -> str:
    return f"{catalog.metric('up')} == 0"


def scrape_duration() -> str:
    return f"max by (job) ({catalog.metric('scrape_duration_seconds')})"


def rule_group_load() -> str:
    """Each group's last evaluation time over its own interval: groups run at different intervals
    (ngx-api-latency.rules at prometheus.latencyEvaluationInterval, the SLO budget every 5m)."""
    duration = selector("prometheus_rule_group_last_duration_seconds", JOB_PROMETHEUS)
    interval = selector("prometheus_rule_group_interval_seconds", JOB_PROMETHEUS)
    return f"max by (rule_group) ({duration} / ({interval} > 0))"


def rule_evaluation_failures() -> str:
    return f"sum by (rule_group) ({_rate('prometheus_rule_evaluation_failures_total', JOB_PROMETHEUS)})"


def alertmanager_notifications(failed: bool = False) -> str:
    series = "alertmanager_notifications_failed_total" if failed else "alertmanager_notifications_total"
    return f"sum by (integration) ({_rate(series, JOB_ALERTMANAGER)})"


def prometheus_alerts_sent() -> str:
    return f"sum({_rate('prometheus_notifications_sent_total', JOB_PROMETHEUS)})"


def prometheus_alert_send_errors() -> str:
    return f"sum({_rate('prometheus_notifications_errors_total', JOB_PROMETHEUS)})"


def prometheus_alerts_dropped() -> str:
    return f"sum({_rate('prometheus_notifications_dropped_total', JOB_PROMETHEUS)})"


TSDB_SERIES = ("prometheus_tsdb_storage_blocks_bytes", "prometheus_tsdb_wal_storage_size_bytes", "prometheus_tsdb_head_chunks_storage_size_bytes")


def tsdb_size() -> str:
    """What --storage.tsdb.retention.size counts: blocks, WAL and head chunks, per Prometheus."""
    return " + ".join(selector(series, JOB_PROMETHEUS) for series in TSDB_SERIES)


def tsdb_retention_share(settings: Settings) -> str:
    return f"({tsdb_size()}) / {prometheus_size_bytes(settings.prometheus.retention_size)}"


def head_series() -> str:
    return selector("prometheus_tsdb_head_series", JOB_PROMETHEUS)


def loki_lines_received() -> str:
    return f"sum({_rate('loki_distributor_lines_received_total', JOB_LOKI)})"


def loki_bytes_received() -> str:
    return f"sum({_rate('loki_distributor_bytes_received_total', JOB_LOKI)})"


def shipper_entries_sent() -> str:
    return f"sum({_rate('loki_write_sent_entries_total', JOB_ALLOY)})"


def shipper_entries_dropped() -> str:
    return f"sum by (reason) ({_rate('loki_write_dropped_entries_total', JOB_ALLOY)})"


# ---- Kubernetes: the API's pods and the stack's volumes (jobs kube-state-metrics, cadvisor, kubelet) ----


def _quoted_matcher(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _in(namespace: str) -> str:
    return _quoted_matcher("namespace", namespace)


def pod_restarts(settings: Settings) -> str:
    restarts = selector("kube_pod_container_status_restarts_total", catalog.JOB_KUBE_STATE_METRICS, _in(settings.app.namespace))
    return f"sum by (pod, container) (increase({restarts}[1h]))"


def _container(series: str, settings: Settings) -> str:
    return selector(series, catalog.JOB_CADVISOR, _in(settings.app.namespace), 'container!=""')


def pod_resource(settings: Settings, kind: str, resource: str) -> str:
    """What the API's pods request or are limited to (kind: requests | limits; resource: cpu | memory)."""
    series = f"kube_pod_container_resource_{kind}"
    return f"sum by (pod) ({selector(series, catalog.JOB_KUBE_STATE_METRICS, _in(settings.app.namespace), _quoted_matcher('resource', resource))})"


def pod_cpu(settings: Settings) -> str:
    return f"sum by (pod) (rate({_container('container_cpu_usage_seconds_total', settings)}[{RATE_WINDOW}]))"


def pod_memory(settings: Settings) -> str:
    return f"sum by (pod) ({_container('container_memory_working_set_bytes', settings)})"


def pod_throttling(settings: Settings) -> str:
    throttled = f"sum by (pod) (increase({_container('container_cpu_cfs_throttled_periods_total', settings)}[{RATE_WINDOW}]))"
    periods = f"sum by (pod) (increase({_container('container_cpu_cfs_periods_total', settings)}[{RATE_WINDOW}]))"
    return f"{throttled} / ({periods} > 0)"


def volume_fill(settings: Settings) -> str:
    """Share used of every claim in the stack's namespace (the data volumes)."""
    used = selector("kubelet_volume_stats_used_bytes", catalog.JOB_KUBELET, _in(settings.kubernetes.namespace))
    capacity = selector("kubelet_volume_stats_capacity_bytes", catalog.JOB_KUBELET, _in(settings.kubernetes.namespace))
    return f"max by (persistentvolumeclaim) ({used} / ({capacity} > 0))"


def node_filesystem_fill() -> str:
    available = selector("node_filesystem_avail_bytes", JOB_NODE, 'fstype!=""')
    size = selector("node_filesystem_size_bytes", JOB_NODE, 'fstype!=""')
    return f"1 - {available} / ({size} > 0)"
