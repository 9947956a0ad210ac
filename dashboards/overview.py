"""NGX Voice Agent Overview: is the API up, fast and correct, and is what it runs on healthy?

The dashboard every alert notification links to (catalog.OVERVIEW_DASHBOARD_UID).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from catalog import OVERVIEW_DASHBOARD_UID
from dashboards import defaults as d, panels as p, product_panels as product, queries as q, system
from settings import Settings

UID = OVERVIEW_DASHBOARD_UID
TITLE = "NGX Voice Agent Overview"


def api_health() -> p.stat.Panel:
    return p.stat_panel(
        "API health",
        "`up` of every NGX API target Prometheus scrapes: DOWN means the last scrape failed.",
        units.NoUnit,
        [d.prom(q.api_up(), "{{instance}}", instant=True)],  # tiles of the last value: one sample per target, not 6h of them
        steps=d.good_above(1),
        mappings=d.up_down_mappings(),
        graph=False,
    )


def request_rate() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Request rate",
        "Requests per second by HTTP status (5m rate, recorded).",
        units.RequestsPerSecond,
        [d.prom(q.request_rate_by_status(), "{{status}}")],
        stacked=True,
    )


def error_rate(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.error_rate
    return p.timeseries_panel(
        "Error rate",
        f"Share of requests answered with a 5xx over 5m; HighErrorRate fires above {limit:.2%}.",
        units.PercentUnit,
        [d.prom(q.error_ratio("5m"), "5xx share")],
        steps=d.bad_above(limit / 2, limit),
        max_val=None,
    )


def latency(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.response_time_p95
    return p.timeseries_panel(
        "Latency p50 / p95 / p99",
        f"API response time percentiles over 5m; HighResponseTime fires when p95 exceeds {limit:g}s.",
        units.Seconds,
        [d.prom(q.latency_quantile(quantile), legend) for quantile, legend in q.QUANTILE_LEGENDS.items()],
        steps=d.bad_above(limit * 0.8, limit),
    )


def active_conversations() -> p.stat.Panel:
    return p.stat_panel(
        "Active conversations", "Conversations in progress across all API instances.", units.Short, [d.prom(q.active_conversations(), "active")]
    )


def firing_alerts_count() -> p.stat.Panel:
    return p.stat_panel(
        "Firing alerts",
        "Alerts Alertmanager currently holds as active (not silenced or inhibited).",
        units.Short,
        [d.prom(q.firing_alerts(), "firing")],
        steps=((None, d.GREEN), (1, d.RED)),
        graph=False,
    )


def redis_health() -> p.stat.Panel:
    return p.stat_panel(
        "Redis",
        "Whether redis_exporter reaches the application's Redis (`redis_up`).",
        units.NoUnit,
        [d.prom(q.redis_up(), "{{instance}}")],
        steps=d.good_above(1),
        mappings=d.up_down_mappings(),
        graph=False,
    )


def cache_hit_ratio(settings: Settings) -> p.gauge.Panel:
    minimum = settings.alerting.thresholds.cache_hit_ratio
    return p.gauge_panel(
        "Cache hit ratio",
        f"Share of cache lookups served from Redis; LowCacheHitRate fires below {minimum:.0%}.",
        units.PercentUnit,
        [d.prom(q.cache_hit_ratio(), "hit ratio")],
        steps=d.good_above(minimum),
        min_val=0,
        max_val=1,
        height=p.STAT_HEIGHT,
    )


def cpu(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.cpu_usage
    return p.timeseries_panel(
        "CPU busy",
        f"Share of node CPU time not idle; HighCPUUsage fires above {limit:.0%}.",
        units.PercentUnit,
        [d.prom(q.node_cpu(), "{{instance}}")],
        steps=d.bad_above(limit * 0.9, limit),
        max_val=1,
    )


def memory(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.memory_usage
    return p.timeseries_panel(
        "Memory used",
        f"Share of node memory in use; HighMemoryUsage fires above {limit:.0%}.",
        units.PercentUnit,
        [d.prom(q.node_memory(), "{{instance}}")],
        steps=d.bad_above(limit * 0.9, limit),
        max_val=1,
    )


def slowest_endpoints(settings: Settings) -> p.bargauge.Panel:
    limit = settings.alerting.thresholds.response_time_p95
    return p.bargauge_panel(
        "Slowest endpoints (p95)",
        "The five endpoints with the highest 95th percentile response time over 5m.",
        units.Seconds,
        [d.prom(q.slowest_endpoints_p95(), "{{endpoint}}", instant=True)],
        steps=d.bad_above(limit * 0.8, limit),
    )


def firing_alerts() -> p.alertgroups.Panel:
    return p.alert_groups_panel("Firing alerts by group", "What Alertmanager holds right now, grouped as it notifies (silenced alerts hidden).")


# ---- the API's pods (Kubernetes only: kube-state-metrics and cAdvisor) ----


def pod_restarts(settings: Settings) -> p.timeseries.Panel:
    return p.timeseries_panel(
        "API pod restarts (1h)",
        "Container restarts of the API's pods over the last hour; KubePodCrashLooping fires on "
        "restarts in every 10m for 15m, KubeContainerOOMKilled on a restart after an OOM kill.",
        units.Short,
        [d.prom(q.pod_restarts(settings), "{{pod}} {{container}}")],
        steps=((None, d.GREEN), (1, d.RED)),
    )


def pod_cpu(settings: Settings) -> p.timeseries.Panel:
    return p.timeseries_panel(
        "API pod CPU vs request and limit",
        "CPU cores each API pod uses (cAdvisor), with what its containers request and are limited to.",
        units.Short,
        [
            d.prom(q.pod_cpu(settings), "{{pod}} used"),
            d.prom(q.pod_resource(settings, "requests", "cpu"), "{{pod}} request"),
            d.prom(q.pod_resource(settings, "limits", "cpu"), "{{pod}} limit"),
        ],
    )


def pod_memory(settings: Settings) -> p.timeseries.Panel:
    return p.timeseries_panel(
        "API pod memory vs limit",
        "Working set of each API pod (what the OOM killer compares) against its memory limit.",
        units.BytesIEC,
        [d.prom(q.pod_memory(settings), "{{pod}} working set"), d.prom(q.pod_resource(settings, "limits", "memory"), "{{pod}} limit")],
    )


def pod_throttling(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.cpu_throttling
    return p.timeseries_panel(
        "API pod CPU throttling",
        f"Share of CFS periods in which each API pod was throttled; CPUThrottlingHigh fires above {limit:.0%}.",
        units.PercentUnit,
        [d.prom(q.pod_throttling(settings), "{{pod}}")],
        steps=d.bad_above(limit * 0.8, limit),
        max_val=1,
    )


def build(settings: Settings) -> dict:
    builder = (
        d.new_dashboard(UID, TITLE, "Health, traffic, errors and latency of the NGX Voice Sales Agent API.", settings, "overview")
        .annotation(d.deploy_annotation())
        .with_variable(d.query_variable("instance", "API instance", q.api_instances(), description="NGX API targets"))
        .with_variable(d.query_variable("node", "Node", q.node_instances(), description="node-exporter targets"))
        .with_row(p.row("Service"))
        .with_panel(api_health())
        .with_panel(redis_health())
        .with_panel(active_conversations())
        .with_panel(firing_alerts_count())
        .with_panel(request_rate())
        .with_panel(error_rate(settings))
        .with_panel(latency(settings))
        .with_panel(slowest_endpoints(settings))
        .with_row(p.row("Resources"))
        .with_panel(cpu(settings))
        .with_panel(memory(settings))
        .with_panel(cache_hit_ratio(settings).span(p.HALF))
        .with_panel(firing_alerts())
    )
    builder = system.with_rows(builder).with_row(p.row("Database")).with_panel(product.database_connections()).with_panel(product.database_timeouts())
    if settings.platform == "kubernetes":
        builder = (
            builder.with_row(p.row("API pods"))
            .with_panel(pod_restarts(settings))
            .with_panel(pod_throttling(settings))
            .with_panel(pod_cpu(settings))
            .with_panel(pod_memory(settings))
        )
    return d.finish(builder)
