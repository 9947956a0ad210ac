"""The alerts of the seed guides on the NGX API, Redis, nodes, ML and business.

Those that read recorded series are evaluated right after them, in their recording group
(ngx-recording.yml, alerting.placement); the others in `ngx.alerts` (ngx-alerts.yml).

Thresholds and `for` durations come from settings (alerting.thresholds, defaults = the seed guides, with
units in settings/alerting.py); the comments below say why each `for` is as long as it is.
"""

from __future__ import annotations

from alerting import recording as rec
from alerting.meta import down_alert
from alerting.model import Alert, RuleGroup
from alerting.promql import number, selector
from alerting.slo import API_REQUESTS_RATE5M, error_ratio
from catalog import JOB_API, JOB_REDIS
from settings import Settings


def alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    return (
        # 2m = 8 failed scrapes at 15s: longer than a rolling restart of one instance.
        down_alert("APIDown", JOB_API, t.api_down_for, "critical", "availability", "The NGX API cannot be scraped: it is down or unreachable."),
        Alert(
            "HighErrorRate",
            f"{error_ratio('5m')} > {number(t.error_rate)}",
            # 5m on top of a 5m ratio: a deploy's short burst of 5xx does not page, a lasting one does.
            t.error_rate_for,
            "critical",
            "availability",
            "The NGX API answers too many requests with a 5xx error.",
            "{{ $value | humanizePercentage }} of {{ $labels.job }} requests failed with 5xx over the last 5m "
            f"(threshold {number(t.error_rate * 100)}%).",
        ),
        Alert(
            "HighResponseTime",
            f'{rec.RESPONSE_TIME_QUANTILES}{{quantile="0.95"}} > {number(t.response_time_p95)}',
            # 5m: one slow batch or a cold cache after a deploy is not worth a mail. No traffic gives NaN (quiet).
            t.response_time_for,
            "warning",
            "performance",
            "The NGX API's 95th percentile response time is too high.",
            f"p95 response time of {{{{ $labels.job }}}} is {{{{ $value | humanizeDuration }}}} over the last 5m (threshold {number(t.response_time_p95)}s).",
        ),
        Alert(
            "RedisDown",
            f"{selector('redis_up', JOB_REDIS)} == 0",
            # 1m = 4 scrapes: Redis backs every cached lookup, so it pages sooner than the API itself.
            t.redis_down_for,
            "critical",
            "availability",
            "The exporter cannot reach the application's Redis.",
            "redis_up = {{ $value }} on {{ $labels.instance }}: the exporter cannot connect to Redis.",
        ),
        Alert(
            "HighCPUUsage",
            f"{rec.NODE_CPU_UTILISATION} > {number(t.cpu_usage)}",
            # 10m: batch work and compaction peak for minutes; only sustained saturation hurts latency.
            t.cpu_usage_for,
            "warning",
            "resources",
            "A node's CPU is busy most of the time.",
            f"CPU of {{{{ $labels.instance }}}} is {{{{ $value | humanizePercentage }}}} busy (threshold {number(t.cpu_usage * 100)}%).",
        ),
        Alert(
            "HighMemoryUsage",
            f"{rec.NODE_MEMORY_UTILISATION} > {number(t.memory_usage)}",
            # 10m: page cache and GC cycles swing memory; a lasting level predicts the OOM killer.
            t.memory_usage_for,
            "warning",
            "resources",
            "A node is running out of available memory.",
            f"{{{{ $value | humanizePercentage }}}} of the memory of {{{{ $labels.instance }}}} is in use (threshold {number(t.memory_usage * 100)}%).",
        ),
        Alert(
            "LowCacheHitRate",
            # The application reports the gauge even when idle; only a ratio under traffic means anything.
            f"{selector('cache_hit_ratio', JOB_API)} < {number(t.cache_hit_ratio)} and on (job) {API_REQUESTS_RATE5M} > 0",
            # 15m: the cache refills after a deploy or a Redis restart; only a lasting low ratio is a problem.
            t.cache_hit_ratio_for,
            "warning",
            "performance",
            "Too few cache lookups are served from Redis.",
            f"Cache hit ratio of {{{{ $labels.instance }}}} is {{{{ $value | humanizePercentage }}}} (minimum {number(t.cache_hit_ratio * 100)}%).",
        ),
        Alert(
            "LowModelAccuracy",
            f"{selector('ngx_model_accuracy', JOB_API)} < {number(t.model_accuracy)}",
            # 10m: accuracy is re-evaluated periodically; a single low evaluation may be a small sample.
            t.model_accuracy_for,
            "warning",
            "ml",
            "An ML model's accuracy dropped below the minimum.",
            f"Model {{{{ $labels.model_name }}}} has accuracy {{{{ $value | humanizePercentage }}}} (minimum {number(t.model_accuracy * 100)}%).",
        ),
        Alert(
            "LowConversionRate",
            f"{rec.CONVERTED_RATIO_1H} < {number(t.conversion_rate)}",
            # 2h on a 1h ratio (seed guide): business rates swing by hour of day; a digest needs a trend.
            t.conversion_rate_for,
            "info",
            "business",
            "Fewer conversations than expected end in a conversion.",
            "{{ $value | humanizePercentage }} of {{ $labels.job }} conversations converted over the last hour "
            f"(minimum {number(t.conversion_rate * 100)}%).",
        ),
        Alert(
            "HighDropRate",
            f"{rec.DROPPED_RATIO_1H} > {number(t.drop_rate)}",
            # 1h on a 1h ratio (seed guide): a whole hour of drop-offs, not one bad campaign minute.
            t.drop_rate_for,
            "info",
            "business",
            "Too many conversations are dropped before they end.",
            "{{ $value | humanizePercentage }} of {{ $labels.job }} conversations were dropped over the last hour "
            f"(maximum {number(t.drop_rate * 100)}%).",
        ),
    )


def group(alerts: tuple[Alert, ...]) -> RuleGroup:
    """The alerts that read raw series only (the others join the group of their recordings: alerting.placement)."""
    return RuleGroup("ngx.alerts", alerts)
