"""Monitoring stack health: is the stack that watches the NGX API itself working?

Scrapes, rule evaluation, the alert path (Prometheus -> Alertmanager -> integrations), storage against
retentionSize, and log ingestion (shipper -> Loki).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from dashboards import defaults as d, panels as p, queries as q
from settings import Settings
from settings.validators import duration_seconds, prometheus_size_bytes

UID = "ngx-stack"
TITLE = "NGX Monitoring Stack Health"


def targets_up() -> p.bargauge.Panel:
    return p.bargauge_panel(
        "Targets up by job",
        "Share of each scrape job's targets whose last scrape succeeded.",
        units.PercentUnit,
        [d.prom(q.targets_up_share(), "{{job}}", instant=True)],
        steps=d.good_above(1),
        max_val=1,
    )


def targets_down() -> p.stat.Panel:
    return p.stat_panel(
        "Targets down",
        "Every target whose last scrape failed (empty when all are up).",
        units.NoUnit,
        [d.prom(q.targets_down(), "{{job}} {{instance}}", instant=True)],
        steps=((None, d.RED),),
        mappings=d.up_down_mappings()[:1],
        graph=False,
        width=p.HALF,
        height=p.GRAPH_HEIGHT,
    ).no_value("none")


def scrape_duration(settings: Settings) -> p.timeseries.Panel:
    interval = duration_seconds(settings.prometheus.scrape_interval)
    return p.timeseries_panel(
        "Scrape duration by job",
        f"Slowest scrape per job; a scrape longer than the {settings.prometheus.scrape_interval} interval fails.",
        units.Seconds,
        [d.prom(q.scrape_duration(), "{{job}}")],
        steps=d.bad_above(interval / 2, interval),
    )


def rule_evaluation(settings: Settings) -> p.timeseries.Panel:
    warn = settings.alerting.thresholds.rule_group_load
    return p.timeseries_panel(
        "Rule group evaluation time",
        "Last evaluation time of each rule group as a share of its own interval: at 100% evaluations are skipped "
        f"and alerts and recordings lag; above {warn:.0%} for a while, PrometheusRuleGroupSlow warns "
        "(the stack's groups take about 1-2% on 100k series: docs/performance.md).",
        units.PercentUnit,
        [d.prom(q.rule_group_load(), "{{rule_group}}")],
        steps=d.bad_above(warn, 1.0),
    )


def rule_failures() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Rule evaluation failures",
        "Failed rule evaluations per second by group: each one is an alert that could not fire.",
        units.OpsPerSecond,
        [d.prom(q.rule_evaluation_failures(), "{{rule_group}}")],
        steps=((None, d.GREEN), (0.0001, d.RED)),
    )


def alerts_sent() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Alerts sent to Alertmanager",
        "Alerts Prometheus sent, failed to send and dropped, per second.",
        units.OpsPerSecond,
        [d.prom(q.prometheus_alerts_sent(), "sent"), d.prom(q.prometheus_alert_send_errors(), "errors"), d.prom(q.prometheus_alerts_dropped(), "dropped")],
    )


def notifications() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Notifications sent / failed",
        "Notifications Alertmanager attempted and those that failed, per integration and second.",
        units.OpsPerSecond,
        [d.prom(q.alertmanager_notifications(), "{{integration}} sent"), d.prom(q.alertmanager_notifications(failed=True), "{{integration}} failed")],
    )


def tsdb_size(settings: Settings) -> p.timeseries.Panel:
    budget = prometheus_size_bytes(settings.prometheus.retention_size)
    usage = settings.alerting.thresholds.storage_usage
    return p.timeseries_panel(
        "TSDB size vs retentionSize",
        f"Blocks + WAL + head chunks per Prometheus against retentionSize {settings.prometheus.retention_size} "
        f"(red line); PrometheusStorageNearRetentionSize fires at {usage:.0%} (orange line).",
        units.BytesIEC,
        [d.prom(q.tsdb_size(), "{{instance}}")],
        steps=d.bad_above(budget * usage, budget),
        max_val=budget,
    )


def tsdb_share(settings: Settings) -> p.gauge.Panel:
    usage = settings.alerting.thresholds.storage_usage
    return p.gauge_panel(
        "Share of retentionSize used",
        f"Above 100% Prometheus deletes the oldest blocks before retentionTime {settings.prometheus.retention_time}.",
        units.PercentUnit,
        [d.prom(q.tsdb_retention_share(settings), "{{instance}}")],
        steps=d.bad_above(usage, 1),
        min_val=0,
        max_val=1,
        height=p.GRAPH_HEIGHT,
    )


def head_series() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Head series",
        "Series in each Prometheus head block: the cardinality the stack pays for in memory.",
        units.Short,
        [d.prom(q.head_series(), "{{instance}}")],
    )


def loki_ingestion() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Loki ingestion",
        "Log lines per second Loki received, and lines the shipper sent and dropped.",
        units.CountsPerSecond,
        [
            d.prom(q.loki_lines_received(), "received by Loki"),
            d.prom(q.shipper_entries_sent(), "sent by shipper"),
            d.prom(q.shipper_entries_dropped(), "dropped: {{reason}}"),
        ],
    )


def loki_bytes() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Loki ingestion volume", "Log bytes per second Loki received.", units.BytesPerSecondIEC, [d.prom(q.loki_bytes_received(), "received")]
    )


def node_disks(settings: Settings) -> p.bargauge.Panel:
    t = settings.alerting.thresholds
    return p.bargauge_panel(
        "Node disks used",
        "Share used of every node filesystem (on dev, the disk every Docker volume of the stack lives on); "
        f"NodeFilesystemAlmostOutOfSpace pages below {t.filesystem_full_available:.0%} free.",
        units.PercentUnit,
        [d.prom(q.node_filesystem_fill(), "{{instance}} {{mountpoint}}", instant=True)],
        steps=d.bad_above(1 - t.filesystem_filling_available, 1 - t.filesystem_full_available),
        max_val=1,
    )


def data_volumes(settings: Settings) -> p.bargauge.Panel:
    t = settings.alerting.thresholds
    return p.bargauge_panel(
        "Data volumes used",
        "Share used of every claim of the stack (data-<service>-<replica>), from the kubelet's volume statistics; "
        f"KubePersistentVolumeAlmostFull pages below {t.volume_full_available:.0%} free.",
        units.PercentUnit,
        [d.prom(q.volume_fill(settings), "{{persistentvolumeclaim}}", instant=True)],
        steps=d.bad_above(1 - t.volume_filling_available, 1 - t.volume_full_available),
        max_val=1,
    )


def build(settings: Settings) -> dict:
    builder = (
        d.new_dashboard(UID, TITLE, "Scrapes, rules, the alert path, storage and log ingestion of the monitoring stack.", settings, "platform")
        .with_row(p.row("Scraping"))
        .with_panel(targets_up())
        .with_panel(targets_down())
        .with_panel(scrape_duration(settings))
        .with_panel(head_series())
        .with_row(p.row("Rules and alerts"))
        .with_panel(rule_evaluation(settings))
        .with_panel(rule_failures())
        .with_panel(alerts_sent())
        .with_panel(notifications())
        .with_row(p.row("Storage and logs"))
        .with_panel(tsdb_size(settings).span(p.QUARTER * 3))
        .with_panel(tsdb_share(settings))
        .with_panel(loki_ingestion())
        .with_panel(loki_bytes())
        .with_row(p.row("Volumes and disks"))
    )
    if settings.platform == "kubernetes":
        builder = builder.with_panel(data_volumes(settings))
    builder = builder.with_panel(node_disks(settings))
    return d.finish(builder)
