"""Alerts on the monitoring stack itself (meta.yml): a stack that cannot alert must say so.

Watchdog proves the whole path (rules -> Alertmanager -> heartbeat) end to end; the rest name the link
that broke. Jobs with a dedicated "down" alert are left out of TargetDown so one outage notifies once.
TargetDown sees only targets that exist; a job whose targets come from Kubernetes discovery can lose
all of them (API server unreachable, RBAC or NetworkPolicy denying it, no pod matching), which only
`absent(up)` sees: the dedicated down alerts do that for their job, TargetsMissing for the others.
"""

from __future__ import annotations

import addresses
import backup_plan
import catalog
from alerting.model import Alert, RuleGroup
from alerting.promql import duration, number, selector
from catalog import JOB_ALERTMANAGER, JOB_API, JOB_BACKUP, JOB_GRAFANA, JOB_LOKI, JOB_PROMETHEUS
from settings import Settings
from settings.validators import prometheus_size_bytes

# Notification error share (0-1) above which sending or notifying counts as failing, not as a blip.
NOTIFICATION_ERROR_RATIO = 0.01
# Jobs with an alert of their own (down_alert: APIDown, LokiDown, GrafanaDown), which also fires when
# the job has no target at all.
DEDICATED_DOWN_JOBS = (JOB_API, JOB_LOKI, JOB_GRAFANA)


def _prom(series: str) -> str:
    return selector(series, JOB_PROMETHEUS)


def _am(series: str) -> str:
    return selector(series, JOB_ALERTMANAGER)


def down_alert(name: str, job: str, for_: str, severity: str, category: str, summary: str) -> Alert:
    """`job` fails its scrapes, or has no target at all: discovery finding nothing is an outage too."""
    up = selector("up", job)
    return Alert(
        name,
        f"{up} == 0 or absent({up})",
        for_,
        severity,
        category,
        summary,
        "{{ if $labels.instance }}Target {{ $labels.instance }} of {{ $labels.job }} fails its scrapes "
        "(up = {{ $value }}){{ else }}Prometheus has no {{ $labels.job }} target at all "
        "(absent(up) = {{ $value }}){{ end }} for more than " + for_ + ".",
    )


def watchdog() -> Alert:
    return Alert(
        "Watchdog",
        "vector(1)",
        None,
        "none",
        "meta",
        "Always firing: proves that rules, Alertmanager and the heartbeat receiver all work.",
        "This alert fires all the time (value {{ $value }}). If the dead man's switch stops hearing it, "
        "alerting is broken somewhere between Prometheus and the heartbeat receiver.",
    )


def target_down(settings: Settings) -> Alert:
    dedicated = "|".join(DEDICATED_DOWN_JOBS)
    return Alert(
        "TargetDown",
        f'{catalog.metric("up")}{{job!~"{dedicated}"}} == 0',
        # 5m by default: survives a restart of any exporter; a scrape target gone longer leaves a gap.
        settings.alerting.thresholds.target_down_for,
        "warning",
        "meta",
        "A scrape target of the stack is down.",
        "Target {{ $labels.instance }} of job {{ $labels.job }} fails its scrapes (up = {{ $value }}).",
    )


def targets_missing(settings: Settings) -> tuple[Alert, ...]:
    """One alert per discovered job without a dedicated one; none on Docker, where no job is discovered
    (a listed target never disappears from `up`: TargetDown covers it)."""
    jobs = [job for job in addresses.discovered_jobs(settings) if job not in DEDICATED_DOWN_JOBS]
    if not jobs:
        return ()
    for_ = settings.alerting.thresholds.target_down_for
    return (
        Alert(
            "TargetsMissing",
            # absent() of a selector with only equality matchers keeps them: each firing alert names its job.
            " or ".join(f"absent({selector('up', job)})" for job in jobs),
            # As long as TargetDown waits: a DaemonSet rollout replaces pods one at a time, so a job is never
            # empty for long unless discovery itself is broken.
            for_,
            "warning",
            "meta",
            "Kubernetes discovery finds no target of a scrape job, so its metrics, and alerts on them, are gone.",
            "Prometheus has found no {{ $labels.job }} target for more than " + for_ + " (absent(up) = {{ $value }}): "
            "it cannot reach or read the Kubernetes API, or no pod matches.",
        ),
    )


def prometheus_alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    retention = prometheus_size_bytes(settings.prometheus.retention_size)
    usage = t.storage_usage
    disk = " + ".join(
        _prom(s) for s in ("prometheus_tsdb_storage_blocks_bytes", "prometheus_tsdb_wal_storage_size_bytes", "prometheus_tsdb_head_chunks_storage_size_bytes")
    )
    sent = f"sum by (job, instance, alertmanager) (rate({_prom('prometheus_notifications_sent_total')}[5m]))"
    errors = f"sum by (job, instance, alertmanager) (rate({_prom('prometheus_notifications_errors_total')}[5m]))"
    return (
        Alert(
            "PrometheusRuleEvaluationFailures",
            f"increase({_prom('prometheus_rule_evaluation_failures_total')}[5m]) > 0",
            # 10m by default: a failing rule is an alert that cannot fire; one failed evaluation may be a reload race.
            t.rule_evaluation_failures_for,
            "critical",
            "meta",
            "Prometheus fails to evaluate rules, so some alerts cannot fire.",
            "{{ $value | humanize }} evaluations of rule group {{ $labels.rule_group }} failed on {{ $labels.instance }} in the last 5m.",
        ),
        Alert(
            "PrometheusRuleGroupSlow",
            f"{_prom('prometheus_rule_group_last_duration_seconds')} / ({_prom('prometheus_rule_group_interval_seconds')} > 0) > {number(t.rule_group_load)}",
            # Held 15m: one slow evaluation (a compaction, a reload) is noise; a group that stays slow
            # is near skipping evaluations (docs/performance.md says what to change, and at what fleet).
            t.rule_group_load_for,
            "warning",
            "meta",
            "A rule group takes much of its interval to evaluate: close to skipping evaluations, when its alerts and recordings lag.",
            "Rule group {{ $labels.rule_group }} on {{ $labels.instance }} takes {{ $value | humanizePercentage }} of its interval "
            f"(threshold {number(t.rule_group_load * 100)}%).",
        ),
        Alert(
            "PrometheusNotConnectedToAlertmanagers",
            f"max_over_time({_prom('prometheus_notifications_alertmanagers_discovered')}[5m]) < 1",
            # 10m by default: Alertmanagers restart one at a time; none for 10m means this replica's alerts go nowhere.
            t.alertmanagers_missing_for,
            "warning",
            "meta",
            "A Prometheus has no Alertmanager to send alerts to.",
            "{{ $labels.instance }} has discovered {{ $value }} Alertmanagers.",
        ),
        Alert(
            "PrometheusErrorSendingAlerts",
            # min over Alertmanagers: failing to one of them is covered by the cluster alerts, to all is not.
            f"min by (job, instance) ({errors} / ({sent} > 0)) > {number(NOTIFICATION_ERROR_RATIO)}",
            # 10m by default: a single Alertmanager restart fails a few sends; ten minutes of failures lose alerts.
            t.sending_alerts_failing_for,
            "critical",
            "meta",
            "A Prometheus fails to send alerts to every Alertmanager.",
            "{{ $value | humanizePercentage }} of alerts from {{ $labels.instance }} failed to reach even the best Alertmanager.",
        ),
        Alert(
            "PrometheusConfigReloadFailed",
            f"max_over_time({_prom('prometheus_config_last_reload_successful')}[5m]) == 0",
            # 10m by default: leaves time for a corrected config to be reloaded before anyone is mailed.
            t.prometheus_reload_failed_for,
            "warning",
            "meta",
            "Prometheus rejected its configuration and runs an old one.",
            "The last configuration reload of {{ $labels.instance }} failed (successful = {{ $value }}).",
        ),
        Alert(
            "PrometheusStorageNearRetentionSize",
            f"({disk}) / {retention} > {number(usage)}",
            # 30m by default: disk use only grows by compaction steps; a slow trend needs no faster alert.
            t.storage_usage_for,
            "warning",
            "meta",
            f"Prometheus storage is close to retentionSize {settings.prometheus.retention_size}: old data is deleted by size, not by age.",
            "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of retentionSize "
            f"{settings.prometheus.retention_size} (threshold {number(usage * 100)}%); history shorter than "
            f"retentionTime {settings.prometheus.retention_time} may be kept.",
        ),
        Alert(
            "PrometheusScrapeSampleLimitHit",
            f"increase({_prom('prometheus_target_scrapes_exceeded_sample_limit_total')}[5m]) > 0",
            # 5m by default: a target over sample_limit loses every scrape, so there is nothing to wait for.
            t.sample_limit_hit_for,
            "warning",
            "meta",
            f"A target exposes more than sample_limit ({settings.prometheus.sample_limit}) samples and is not stored.",
            "{{ $value | humanize }} scrapes were rejected for exceeding sample_limit on {{ $labels.instance }} in the last 5m.",
        ),
        Alert(
            "PrometheusScrapeLabelLimitHit",
            f"increase({_prom('prometheus_target_scrape_pool_exceeded_label_limits_total')}[5m]) > 0",
            t.label_limit_hit_for,
            "warning",
            "meta",
            f"A target exposes series with more than label_limit ({settings.prometheus.label_limit}) labels and is not stored.",
            "{{ $value | humanize }} scrapes were rejected for exceeding label limits on {{ $labels.instance }} in the last 5m.",
        ),
    )


def alertmanager_alerts(settings: Settings) -> tuple[Alert, ...]:
    # Explicit `by`: Alertmanager adds labels to these counters across versions (reason, receiver_name),
    # and a ratio of two counters with different label sets would silently match nothing.
    failed = f"sum by (job, instance, integration) (rate({_am('alertmanager_notifications_failed_total')}[5m]))"
    total = f"sum by (job, instance, integration) (rate({_am('alertmanager_notifications_total')}[5m]))"
    t = settings.alerting.thresholds
    alerts = [
        Alert(
            "AlertmanagerNotificationsFailing",
            f"{failed} / ({total} > 0) > {number(NOTIFICATION_ERROR_RATIO)}",
            # 10m by default: notifications are retried; only lasting failures mean a receiver never hears of alerts.
            t.notifications_failing_for,
            "critical",
            "meta",
            "Alertmanager fails to deliver notifications through an integration.",
            "{{ $value | humanizePercentage }} of {{ $labels.integration }} notifications from {{ $labels.instance }} failed.",
        ),
        Alert(
            "AlertmanagerConfigReloadFailed",
            f"max_over_time({_am('alertmanager_config_last_reload_successful')}[5m]) == 0",
            t.alertmanager_reload_failed_for,
            "warning",
            "meta",
            "Alertmanager rejected its configuration and runs an old one.",
            "The last configuration reload of {{ $labels.instance }} failed (successful = {{ $value }}).",
        ),
    ]
    replicas = settings.alertmanager.replicas
    if replicas > 1:
        # Each replica's reloader sidecar signals its own Alertmanager when the kubelet has swapped the
        # mounted files (renderers/reloader.py). A replica left on another configuration means its
        # reloader (or the kubelet's update) is stuck: it routes and silences differently from its peers.
        # The value of alertmanager_config_hash is the hash, so count_values turns it into a label.
        configs = f'count by (job) (count_values by (job) ("config_hash", {_am("alertmanager_config_hash")}))'
        alerts.append(
            Alert(
                "AlertmanagerConfigInconsistent",
                f"{configs} > 1",
                # 15m by default: the kubelet updates each pod's files within about two minutes, at its own
                # time, and the reloader checks every configReloadInterval; a rolling restart also mixes
                # configurations for minutes.
                settings.alerting.thresholds.config_inconsistent_for,
                "warning",
                "meta",
                "Alertmanager replicas run different configurations.",
                "{{ $value }} different configurations are loaded across the {{ $labels.job }} replicas.",
            )
        )
        alerts.append(
            Alert(
                "AlertmanagerClusterMembersMissing",
                f"{_am('alertmanager_cluster_members')} < {replicas}",
                # 15m by default: a rolling restart takes members away for minutes; a lasting gap risks duplicate pages.
                t.cluster_members_missing_for,
                "warning",
                "meta",
                f"An Alertmanager sees fewer than all {replicas} cluster members.",
                "{{ $labels.instance }} sees {{ $value }} of " + str(replicas) + " Alertmanager cluster members.",
            )
        )
    return tuple(alerts)


def _last_success_of(target: str) -> str:
    matcher = f'target="{target}"'  # targets are <service>-<replica>: nothing to escape
    return selector("ngx_backup_last_success_timestamp_seconds", JOB_BACKUP, matcher)


BACKUP_SUMMARY = "The last good backup of a target is older than the backup schedule allows."


def backup_alerts(settings: Settings) -> tuple[Alert, ...]:
    """The jobs push their result to the Pushgateway (ngx_backup_*, job="ngx-backup", one `target` per
    backed-up replica). `stale` is the longest gap backup.schedule leaves between two runs plus the time
    a run may wait to start and take (backup_plan.py), so a backup that is merely running is never late."""
    stale = backup_plan.stale_after_seconds(settings)
    last_success = selector("ngx_backup_last_success_timestamp_seconds", JOB_BACKUP)
    # A target with no result at all (never backed up, or the Pushgateway restarted and no run has
    # pushed since): absent() per expected target, so the alert names it.
    missing = " or ".join(f"absent({_last_success_of(target)})" for target in backup_plan.targets(settings))
    description = (
        f"The last good backup of {{{{ $labels.target }}}} finished {{{{ $value | humanizeDuration }}}} ago; "
        f"backup.schedule {settings.backup.schedule!r} allows {duration(stale)} (longest gap plus start and run deadlines)."
    )
    return (
        Alert(
            "BackupTooOld",
            f"time() - max by (job, target) ({last_success}) > {stale}",
            # No `for`: the threshold already holds the schedule's longest gap and every deadline.
            None,
            "warning",
            "backup",
            BACKUP_SUMMARY,
            description,
            extra_labels=(("reason", "late"),),
        ),
        Alert(
            "BackupTooOld",
            missing,
            # As long as the schedule allows: a fresh stack (or Pushgateway) has not had its first run yet.
            duration(stale),
            "warning",
            "backup",
            BACKUP_SUMMARY,
            "No backup of {{ $labels.target }} has reported success for more than "
            + duration(stale)
            + " (absent = {{ $value }}): it never ran, or its results were lost and no run has succeeded since.",
            extra_labels=(("reason", "missing"),),
        ),
        Alert(
            "BackupFailed",
            f"max by (job, target) ({selector('ngx_backup_last_run_success', JOB_BACKUP)}) == 0",
            # 30m by default: a failed attempt is retried (backoff) within the same run; a lasting 0 means
            # every attempt of the run failed, and the next chance is the next scheduled run.
            settings.alerting.thresholds.backup_failed_for,
            "warning",
            "backup",
            "The last backup run of a target failed; its earlier snapshots are kept.",
            "The last backup run of {{ $labels.target }} failed (success = {{ $value }}); see the job's logs.",
        ),
    )


def backup_check_alerts(settings: Settings) -> tuple[Alert, ...]:
    """The repository's retention and `restic check` (backup.checkSchedule) push ngx_backup_check_*
    as target="repository". A failed check means the repository holds damaged data: restores from it
    are in doubt until `restic check` passes again."""
    stale = backup_plan.check_stale_after_seconds(settings)
    last_success = selector("ngx_backup_check_last_success_timestamp_seconds", JOB_BACKUP)
    summary = "The backup repository's last check failed, or no check has passed for longer than backup.checkSchedule allows."
    return (
        Alert(
            "BackupCheckFailed",
            f"max by (job, target) ({selector('ngx_backup_check_last_run_success', JOB_BACKUP)}) == 0",
            # As BackupFailed: retried attempts of the same run may still succeed.
            settings.alerting.thresholds.backup_failed_for,
            "warning",
            "backup",
            summary,
            "The last retention and check of the backup repository failed (success = {{ $value }}); see the check job's logs: "
            "a failed `restic check` means damaged data in the repository.",
            extra_labels=(("reason", "failed"),),
        ),
        Alert(
            "BackupCheckFailed",
            f"time() - max by (job, target) ({last_success}) > {stale}",
            # No `for`: the threshold already holds the schedule's longest gap and every deadline.
            None,
            "warning",
            "backup",
            summary,
            "The last check of the backup repository passed {{ $value | humanizeDuration }} ago; "
            f"backup.checkSchedule {settings.backup.check_schedule!r} allows {duration(stale)} (longest gap plus start and run deadlines).",
            extra_labels=(("reason", "late"),),
        ),
        Alert(
            "BackupCheckFailed",
            f"absent({last_success})",
            # As long as the schedule allows: a fresh stack (or Pushgateway) has not had its first check yet.
            duration(stale),
            "warning",
            "backup",
            summary,
            f"No check of the backup repository has reported success for more than {duration(stale)} (absent = {{{{ $value }}}}).",
            extra_labels=(("reason", "missing"),),
        ),
    )


def groups(settings: Settings) -> tuple[RuleGroup, ...]:
    down_for = settings.alerting.thresholds.target_down_for
    return (
        RuleGroup(
            "meta.alerts",
            (
                watchdog(),
                target_down(settings),
                # Warning, not critical: logs and dashboards are lost, alerting is not.
                down_alert("LokiDown", JOB_LOKI, down_for, "warning", "meta", "Loki is down: application logs are not stored or searchable."),
                down_alert("GrafanaDown", JOB_GRAFANA, down_for, "warning", "meta", "Grafana is down: dashboards are unavailable."),
                *targets_missing(settings),
                *prometheus_alerts(settings),
                *alertmanager_alerts(settings),
                *backup_alerts(settings),
                *backup_check_alerts(settings),
            ),
        ),
    )
