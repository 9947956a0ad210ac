"""Alerting settings: thresholds and `for` durations of every alert, the SLO, business hours, the
route timings of each receiver, and the receivers themselves (where notifications go)."""

from __future__ import annotations

from dataclasses import dataclass

from settings import validators as v
from settings.schema import Secret, section, setting


@dataclass(frozen=True)
class Thresholds:
    """Alert thresholds; ratios are shares from 0 to 1, latency in seconds."""

    api_down_for: str = setting("apiDownFor", v.duration, "APIDown: how long the API must be unreachable.", "2m")
    error_rate: float = setting("errorRate", v.ratio, "HighErrorRate: share of 5xx responses over 5m.", 0.01)
    error_rate_for: str = setting("errorRateFor", v.duration, "HighErrorRate: for.", "5m")
    response_time_p95: float = setting("responseTimeP95", v.positive_number, "HighResponseTime: p95 latency in seconds over 5m.", 1.0)
    response_time_for: str = setting("responseTimeFor", v.duration, "HighResponseTime: for.", "5m")
    redis_down_for: str = setting("redisDownFor", v.duration, "RedisDown: for.", "1m")
    cpu_usage: float = setting("cpuUsage", v.ratio, "HighCPUUsage: share of node CPU busy.", 0.8)
    cpu_usage_for: str = setting("cpuUsageFor", v.duration, "HighCPUUsage: for.", "10m")
    memory_usage: float = setting("memoryUsage", v.ratio, "HighMemoryUsage: share of node memory used.", 0.8)
    memory_usage_for: str = setting("memoryUsageFor", v.duration, "HighMemoryUsage: for.", "10m")
    cache_hit_ratio: float = setting("cacheHitRatio", v.ratio, "LowCacheHitRate: minimum cache hit ratio.", 0.8)
    cache_hit_ratio_for: str = setting("cacheHitRatioFor", v.duration, "LowCacheHitRate: for.", "15m")
    model_accuracy: float = setting("modelAccuracy", v.ratio, "LowModelAccuracy: minimum model accuracy.", 0.7)
    model_accuracy_for: str = setting("modelAccuracyFor", v.duration, "LowModelAccuracy: for.", "10m")
    conversion_rate: float = setting("conversionRate", v.ratio, "LowConversionRate: minimum share of converted conversations over 1h.", 0.02)
    conversion_rate_for: str = setting("conversionRateFor", v.duration, "LowConversionRate: for.", "2h")
    drop_rate: float = setting("dropRate", v.ratio, "HighDropRate: maximum share of dropped conversations over 1h.", 0.3)
    drop_rate_for: str = setting("dropRateFor", v.duration, "HighDropRate: for.", "1h")
    target_down_for: str = setting("targetDownFor", v.duration, "TargetDown (any job): for.", "5m")
    storage_usage: float = setting("storageUsage", v.ratio, "PrometheusStorageNearRetentionSize: share of retentionSize in use.", 0.85)
    # The stack's own alerts (meta.yml). Their defaults, and why, are in alerting/meta.py beside each rule.
    storage_usage_for: str = setting("storageUsageFor", v.duration, "PrometheusStorageNearRetentionSize: for.", "30m")
    rule_evaluation_failures_for: str = setting("ruleEvaluationFailuresFor", v.duration, "PrometheusRuleEvaluationFailures: for.", "10m")
    rule_group_load: float = setting(
        "ruleGroupLoad",
        v.fraction,
        "PrometheusRuleGroupSlow: share of its own interval a rule group's evaluation may take (at 1 evaluations are skipped).",
        0.5,
    )
    rule_group_load_for: str = setting("ruleGroupLoadFor", v.duration, "PrometheusRuleGroupSlow: for.", "15m")
    alertmanagers_missing_for: str = setting("alertmanagersMissingFor", v.duration, "PrometheusNotConnectedToAlertmanagers: for.", "10m")
    sending_alerts_failing_for: str = setting("sendingAlertsFailingFor", v.duration, "PrometheusErrorSendingAlerts: for.", "10m")
    prometheus_reload_failed_for: str = setting("prometheusReloadFailedFor", v.duration, "PrometheusConfigReloadFailed: for.", "10m")
    sample_limit_hit_for: str = setting("sampleLimitHitFor", v.duration, "PrometheusScrapeSampleLimitHit: for.", "5m")
    label_limit_hit_for: str = setting("labelLimitHitFor", v.duration, "PrometheusScrapeLabelLimitHit: for.", "5m")
    notifications_failing_for: str = setting("notificationsFailingFor", v.duration, "AlertmanagerNotificationsFailing: for.", "10m")
    alertmanager_reload_failed_for: str = setting("alertmanagerReloadFailedFor", v.duration, "AlertmanagerConfigReloadFailed: for.", "10m")
    config_inconsistent_for: str = setting("configInconsistentFor", v.duration, "AlertmanagerConfigInconsistent (Kubernetes): for.", "15m")
    cluster_members_missing_for: str = setting("clusterMembersMissingFor", v.duration, "AlertmanagerClusterMembersMissing (Kubernetes): for.", "15m")
    backup_failed_for: str = setting("backupFailedFor", v.duration, "BackupFailed: for.", "30m")
    # Remote write (prometheus.remoteWrite); defaults and why in alerting/remote_write.py.
    remote_write_behind: str = setting(
        "remoteWriteBehind", v.duration, "PrometheusRemoteWriteBehind: how far the newest sent sample may trail the newest ingested one.", "2m"
    )
    remote_write_behind_for: str = setting("remoteWriteBehindFor", v.duration, "PrometheusRemoteWriteBehind: for.", "15m")
    remote_write_failing_for: str = setting("remoteWriteFailingFor", v.duration, "PrometheusRemoteWriteFailing: for.", "15m")
    remote_write_shards_for: str = setting("remoteWriteShardsFor", v.duration, "PrometheusRemoteWriteDesiredShards: for.", "15m")
    # Kubernetes workloads and volumes: defaults of the kubernetes-mixin (kubernetes-monitoring/kubernetes-mixin,
    # alerts/apps_alerts.libsonnet, storage_alerts.libsonnet, resource_alerts.libsonnet); node
    # filesystems: the node-mixin (prometheus/node_exporter, docs/node-mixin/alerts/alerts.libsonnet).
    pod_crash_looping_for: str = setting(
        "podCrashLoopingFor", v.duration, "KubePodCrashLooping: how long a container must keep restarting (kubernetes-mixin: 15m).", "15m"
    )
    container_waiting_for: str = setting(
        "containerWaitingFor", v.duration, "KubeContainerWaiting: how long a container may wait in a bad reason (kubernetes-mixin: 1h).", "1h"
    )
    pod_not_ready_for: str = setting("podNotReadyFor", v.duration, "KubePodNotReady: how long a running pod may stay not ready (kubernetes-mixin: 15m).", "15m")
    replicas_mismatch_for: str = setting(
        "replicasMismatchFor", v.duration, "KubeDeploymentReplicasMismatch, KubeStatefulSetReplicasMismatch: for (kubernetes-mixin: 15m).", "15m"
    )
    rollout_stuck_for: str = setting(
        "rolloutStuckFor", v.duration, "KubeDeploymentRolloutStuck: how long a Deployment may report Progressing=false (kubernetes-mixin: 15m).", "15m"
    )
    volume_full_available: float = setting(
        "volumeFullAvailable", v.ratio, "KubePersistentVolumeAlmostFull: share of a volume still free below which it pages (kubernetes-mixin: 0.03).", 0.03
    )
    volume_filling_available: float = setting(
        "volumeFillingAvailable", v.ratio, "KubePersistentVolumeFillingUp: share still free below which a predicted fill warns (kubernetes-mixin: 0.15).", 0.15
    )
    volume_filling_days: float = setting(
        "volumeFillingDays", v.positive_number, "KubePersistentVolumeFillingUp: days ahead the 6h trend must not reach full (kubernetes-mixin: 4).", 4
    )
    filesystem_full_available: float = setting(
        "filesystemFullAvailable",
        v.ratio,
        "NodeFilesystemAlmostOutOfSpace: share of a node filesystem still free below which it pages (node-mixin, critical: 0.03).",
        0.03,
    )
    filesystem_filling_available: float = setting(
        "filesystemFillingAvailable", v.ratio, "NodeFilesystemSpaceFillingUp: share still free below which a predicted fill warns (node-mixin: 0.40).", 0.4
    )
    filesystem_filling_hours: float = setting(
        "filesystemFillingHours", v.positive_number, "NodeFilesystemSpaceFillingUp: hours ahead the 6h trend must not reach full (node-mixin: 24).", 24
    )
    cpu_throttling: float = setting(
        "cpuThrottling", v.ratio, "CPUThrottlingHigh: share of CFS periods in which an API container was throttled over 5m (kubernetes-mixin: 0.25).", 0.25
    )
    volume_filling_for: str = setting("volumeFillingFor", v.duration, "KubePersistentVolumeFillingUp: for (kubernetes-mixin: 1h).", "1h")
    volume_full_for: str = setting("volumeFullFor", v.duration, "KubePersistentVolumeAlmostFull: for (kubernetes-mixin: 1m).", "1m")
    filesystem_filling_for: str = setting("filesystemFillingFor", v.duration, "NodeFilesystemSpaceFillingUp: for (node-mixin: 1h).", "1h")
    filesystem_full_for: str = setting("filesystemFullFor", v.duration, "NodeFilesystemAlmostOutOfSpace: for (node-mixin: 30m).", "30m")
    network_stats_unreadable_for: str = setting(
        "networkStatsUnreadableFor", v.duration, "NodeNetworkStatsUnreadable: for (the netdev exporter cannot read the host's interfaces).", "15m"
    )
    cpu_throttling_for: str = setting("cpuThrottlingFor", v.duration, "CPUThrottlingHigh: for (kubernetes-mixin: 15m).", "15m")
    # Product metrics (alerting/product_alerts.py). PSI's rule of thumb: below 0.1 no shift, 0.1-0.25 moderate, above 0.25 significant.
    drift_score: float = setting("driftScore", v.positive_number, "ModelDataDrift: drift score (PSI) of a model's worst feature above which it warns.", 0.25)
    drift_score_for: str = setting("driftScoreFor", v.duration, "ModelDataDrift: for.", "30m")
    database_pool_exhausted_for: str = setting(
        "databasePoolExhaustedFor", v.duration, "DatabasePoolExhausted: how long a pool may stay at its maximum or keep checkouts waiting.", "5m"
    )


@dataclass(frozen=True)
class SloSettings:
    availability: float = setting("availability", v.fraction, "Availability objective of the API (share of non-5xx requests).", 0.99)
    window: str = setting("window", v.duration, "SLO window for the error budget.", "30d")
    # `for` only absorbs a single noisy evaluation: the short window already proves the burn is current.
    page_burn_for: str = setting("pageBurnFor", v.duration, "SLOErrorBudgetBurn (critical, fast burn that pages): for.", "2m")
    ticket_burn_for: str = setting("ticketBurnFor", v.duration, "SLOErrorBudgetBurn (warning, slow burn that is mailed): for.", "15m")


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = setting("timezone", v.text, "IANA time zone of the business digest and working hours.", "UTC")
    weekdays: str = setting("weekdays", v.text, "Working days (Alertmanager weekday range).", "monday:friday")
    start: str = setting("start", v.text, "Start of working hours, HH:MM.", "09:00")
    end: str = setting("end", v.text, "End of working hours, HH:MM.", "18:00")


@dataclass(frozen=True)
class RouteTiming:
    """When Alertmanager notifies one receiver (its route's group_wait, group_interval, repeat_interval)."""

    group_wait: str = setting("groupWait", v.duration_or_zero, "Wait before the first notification of a new alert group (0s: at once).")
    group_interval: str = setting(
        "groupInterval", v.duration, "Wait before notifying about a change to a group already notified (a new alert in it, a resolve)."
    )
    repeat_interval: str = setting(
        "repeatInterval", v.duration, "Wait before repeating an unchanged, still-firing group; from groupInterval up to alertmanager.retention."
    )


@dataclass(frozen=True)
class BusinessTiming:
    group_wait: str = setting(
        "groupWait",
        v.duration_or_zero,
        "Wait before the first digest of a new business group (muted outside businessHours anyway; its intervals are the working day).",
        "5m",
    )


@dataclass(frozen=True)
class RouteSettings:
    """Alertmanager's route timings per receiver; Grafana's notification policies get the same."""

    # Pages go out at once (group_wait 0s) and repeat hourly. A group_wait batches alerts that start
    # together and waits for an inhibiting alert; neither helps a page here: the alerts of one rule
    # that fire in one evaluation reach Alertmanager in one batch, and every alert that silences a page
    # has a `for` no longer than that page's (alerting/inhibition_order.py says why that suffices;
    # tests/test_routing_inhibition.py checks it), so waiting would only delay the page (10s before,
    # measured in docs/performance.md).
    oncall_pager: RouteTiming = section(
        "oncallPager", RouteTiming, "Route of critical alerts (pages).", groupWait="0s", groupInterval="5m", repeatInterval="1h"
    )
    # Mail is batched so a flapping service sends one message, not thirty.
    ops_email: RouteTiming = section(
        "opsEmail", RouteTiming, "Route of warnings, and of anything no route claims.", groupWait="2m", groupInterval="30m", repeatInterval="12h"
    )
    # Watchdog pings the dead man's switch more often than it times out (receivers.heartbeat.timeout).
    heartbeat: RouteTiming = section(
        "heartbeat", RouteTiming, "Route of Watchdog to the dead man's switch.", groupWait="0s", groupInterval="1m", repeatInterval="5m"
    )
    business_daily: BusinessTiming = section("businessDaily", BusinessTiming, "Route of business digests.")


@dataclass(frozen=True)
class AlertingSettings:
    thresholds: Thresholds = section("thresholds", Thresholds, "Alert thresholds.")
    slo: SloSettings = section("slo", SloSettings, "Service level objective.")
    business_hours: BusinessHours = section("businessHours", BusinessHours, "When business digests may be sent.")
    routes: RouteSettings = section("routes", RouteSettings, "When each receiver is notified.")


@dataclass(frozen=True)
class EmailReceiver:
    smarthost: str = setting("smarthost", v.host_port, "SMTP server host:port.")
    sender: str = setting("from", v.email, "Sender address.")
    to: tuple[str, ...] = setting("to", v.email_list, "Recipient address (or a list).")
    username: str | None = setting("username", v.text, "SMTP user.", None)
    password: Secret | None = setting("password", v.text, "SMTP password.", None, secret=True)
    require_tls: bool = setting("requireTls", v.flag, "Require STARTTLS to the smarthost.", True)


@dataclass(frozen=True)
class SlackReceiver:
    webhook_url: Secret = setting("webhookUrl", v.https_url, "Slack incoming-webhook URL (https).", secret=True)
    channel: str = setting("channel", v.text, "Channel to post to.", "#ngx-alerts")


@dataclass(frozen=True)
class PagerDutyReceiver:
    routing_key: Secret = setting("routingKey", v.text, "PagerDuty Events API v2 routing key.", secret=True)


@dataclass(frozen=True)
class HeartbeatReceiver:
    url: Secret = setting("url", v.url, "Dead man's switch URL that Watchdog notifications keep alive.", secret=True)
    timeout: str = setting(
        "timeout",
        v.duration,
        "How long the dead man's switch waits for a ping before it alarms (as configured there); alerting.routes.heartbeat's repeatInterval plus groupInterval must be shorter.",
        "10m",
    )


@dataclass(frozen=True)
class ReceiverSettings:
    email: EmailReceiver | None = section("email", EmailReceiver, "E-mail for ops-email, business-daily and (no pager) oncall-pager.", optional=True)
    slack: SlackReceiver | None = section("slack", SlackReceiver, "Slack for oncall-pager and business-daily.", optional=True)
    pagerduty: PagerDutyReceiver | None = section("pagerduty", PagerDutyReceiver, "PagerDuty for oncall-pager.", optional=True)
    heartbeat: HeartbeatReceiver | None = section("heartbeat", HeartbeatReceiver, "Dead man's switch for heartbeat.", optional=True)
