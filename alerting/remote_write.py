"""Alerts on the remote-write pipeline (remote-write.yml), rendered only when prometheus.remoteWrite
names a store: without one the series do not exist, and leaving the file out keeps every stack that does
not write remotely exactly as it was. Expressions follow the prometheus-mixin (prometheus/prometheus,
documentation/prometheus-mixin/alerts.libsonnet); all three warn (by mail): the long-term store falls
behind or loses samples, but alerting, which reads the local TSDB, is unaffected.
"""

from __future__ import annotations

from alerting.model import Alert, RuleGroup
from alerting.promql import selector
from catalog import JOB_PROMETHEUS
from settings import Settings
from settings.validators import duration_seconds

# Labels of one remote-write queue (one store of one replica).
QUEUE = "job, instance, remote_name, url"


def _prom(series: str) -> str:
    return selector(series, JOB_PROMETHEUS)


def behind_expr(settings: Settings) -> str:
    """Seconds by which the newest acknowledged sample trails the newest one in the WAL. The WAL's gauge
    has no remote_name/url, so each queue is matched to it one-to-many; max_over_time smooths a restart,
    where both gauges start at 0 and the first send has not been acknowledged yet."""
    threshold = duration_seconds(settings.alerting.thresholds.remote_write_behind)
    return (
        f"(max_over_time({_prom('prometheus_remote_storage_highest_timestamp_in_seconds')}[5m])"
        f" - ignoring(remote_name, url) group_right"
        f" max_over_time({_prom('prometheus_remote_storage_queue_highest_sent_timestamp_seconds')}[5m]))"
        f" > {threshold:g}"
    )


def alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    return (
        Alert(
            "PrometheusRemoteWriteFailing",
            # Failed samples were refused for good (a 4xx other than 429: bad auth, out-of-order, limits):
            # they are lost to the store, unlike a 5xx or an unreachable store, which are retried from the WAL.
            f"sum by ({QUEUE}) (rate({_prom('prometheus_remote_storage_samples_failed_total')}[5m])) > 0",
            # 15m by default (mixin): a store's rolling restart can refuse a few requests; a quarter hour cannot.
            t.remote_write_failing_for,
            "warning",
            "meta",
            "A long-term store refuses samples for good; they are missing from it.",
            "{{ $labels.instance }} loses {{ $value | humanize }} samples/s to remote store {{ $labels.remote_name }} ({{ $labels.url }}).",
        ),
        Alert(
            "PrometheusRemoteWriteBehind",
            behind_expr(settings),
            # 15m by default (mixin): catching up after a short outage is normal; a quarter hour behind is not,
            # and the WAL only holds about two hours, so what is older is lost to the store.
            t.remote_write_behind_for,
            "warning",
            "meta",
            f"Remote write is more than {t.remote_write_behind} behind: the store is unreachable or too slow, and samples older than the WAL (about 2h) will be lost to it.",
            "{{ $labels.instance }} is {{ $value | humanizeDuration }} behind in sending to remote store {{ $labels.remote_name }} ({{ $labels.url }}).",
        ),
        Alert(
            "PrometheusRemoteWriteDesiredShards",
            f"max_over_time({_prom('prometheus_remote_storage_shards_desired')}[5m]) > max_over_time({_prom('prometheus_remote_storage_shards_max')}[5m])",
            # 15m by default (mixin): desired shards spike while catching up after an outage.
            t.remote_write_shards_for,
            "warning",
            "meta",
            "Remote write needs more shards than queue.maxShards allows, so it falls behind.",
            "{{ $labels.instance }} wants {{ $value }} shards for remote store {{ $labels.remote_name }}, above its maxShards.",
        ),
    )


def groups(settings: Settings) -> tuple[RuleGroup, ...]:
    return (RuleGroup("remote-write.alerts", alerts(settings)),) if settings.prometheus.remote_write else ()
