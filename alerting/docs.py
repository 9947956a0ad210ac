"""The alert table of docs/alerts.md, generated from the rules and the routing tree so the two cannot disagree."""

from __future__ import annotations

import backup_plan as plan
from alerting.model import Alert
from alerting.promql import duration
from alerting.routing import business_timing, receivers_for, routing_tree
from alerting.rules import RUNBOOK_DIR, alerts
from settings import Settings


def routing_labels(alert: Alert) -> dict[str, str]:
    """The labels Alertmanager routes this alert by (rule labels plus its name)."""
    return {"alertname": alert.name, **alert.labels}


def alert_table_markdown(settings: Settings, runbook_dir: str = RUNBOOK_DIR, also: tuple[tuple[str, Settings], ...] = ()) -> str:
    """| Alert | Meaning | Severity | Route | For | for every alert of this stack, in rule-file order.

    `runbook_dir` is the runbooks folder as seen from the page the table stands in (docs/ -> ../runbooks).
    `also` = pairs of (label, settings of another stack): its alerts that no stack before it has follow,
    their meaning prefixed with the label (e.g. the alerts only a Kubernetes stack has)."""
    own = alerts(settings)
    entries = [(alert, "", routing_tree(settings)) for alert in own]
    known = {(alert.name, alert.severity) for alert in own}
    for label, other in also:
        entries += [(alert, f"*{label}:* ", routing_tree(other)) for alert in alerts(other) if (alert.name, alert.severity) not in known]
        known |= {(alert.name, alert.severity) for alert in alerts(other)}
    rows: dict[str, list[str]] = {}
    for alert, prefix, tree in entries:
        meaning = prefix + alert.summary.replace("|", "\\|")
        route = ", ".join(receivers_for(routing_labels(alert), tree))
        row = f"| [{alert.name}]({runbook_dir}/{alert.name}.md) | {meaning} | {alert.severity} | {route} |"
        # Rules of one alert that differ only in their expression (BackupTooOld: late, or missing) share a
        # row; no `for` is Prometheus's 0s, it fires at the first evaluation that matches.
        fors = rows.setdefault(row, [])
        if (alert.for_ or "0s") not in fors:
            fors.append(alert.for_ or "0s")
    lines = ["| Alert | Meaning | Severity | Route | For |", "| --- | --- | --- | --- | --- |"]
    lines += [f"{row} {' or '.join(fors)} |" for row, fors in rows.items()]
    return "\n".join(lines) + "\n"


def backup_jobs_markdown(settings: Settings) -> str:
    """What docs/operations.md ("When") says of the backup CronJobs, from backup_plan.py (`settings`: prod)."""
    jobs = ", ".join(f"`backup-{target}`" for target in plan.targets(settings))
    return (
        f"- **prod (Kubernetes):** one CronJob per target ({jobs}), with time zone `Etc/UTC`, `concurrencyPolicy: Forbid`, "
        f"a {plan.START_DEADLINE_SECONDS // 60}-minute start deadline (a run that cannot start by then is skipped), "
        f"a {_hours(plan.RUN_DEADLINE_SECONDS)} run deadline, {plan.RETRIES} retries and the last {plan.HISTORY} jobs kept with their logs; "
        f"the repository's retention and check are the CronJob `backup-{plan.CHECK_RUN}`, on `backup.checkSchedule` "
        f"(default `{settings.backup.check_schedule}`), with the same limits."
    )


def backup_too_old_markdown(settings: Settings) -> str:
    """The BackupTooOld threshold, worked through for `settings`' schedule."""
    return (
        f"- **BackupTooOld** (warning): a target's last good backup is older than the longest gap `backup.schedule` leaves "
        f"between two runs plus the {plan.START_DEADLINE_SECONDS // 60}-minute start and {_hours(plan.RUN_DEADLINE_SECONDS)} run deadlines "
        f"({duration(plan.stale_after_seconds(settings))} for `{settings.backup.schedule}`), or no result for the target has existed that long. "
        "The gap is computed from the schedule (settings/cron.py), so a weekday-only schedule allows the weekend."
    )


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}-hour"


def route_timings_markdown(settings: Settings) -> str:
    """docs/alerts.md's table of when each receiver is notified, from `settings` (the dev defaults)."""
    routes = settings.alerting.routes
    business = business_timing(settings)
    rows = [
        (
            "`oncallPager`",
            routes.oncall_pager.group_wait,
            routes.oncall_pager.group_interval,
            routes.oncall_pager.repeat_interval,
            "pages go out at once and repeat",
        ),
        (
            "`opsEmail` (also the root route)",
            routes.ops_email.group_wait,
            routes.ops_email.group_interval,
            routes.ops_email.repeat_interval,
            "mail is batched: a flapping service sends one message, not thirty",
        ),
        (
            "`heartbeat`",
            routes.heartbeat.group_wait,
            routes.heartbeat.group_interval,
            routes.heartbeat.repeat_interval,
            "Watchdog pings the dead man's switch well within `receivers.heartbeat.timeout`",
        ),
        (
            "`businessDaily`",
            business["group_wait"],
            f"{business['group_interval']} (the working day)",
            f"{business['repeat_interval']} (the working day)",
            "one digest per working day, inside `alerting.businessHours`",
        ),
    ]
    lines = ["| route | groupWait | groupInterval | repeatInterval | why |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {wait} | {interval} | {repeat} | {why} |" for name, wait, interval, repeat, why in rows]
    return "\n".join(lines) + "\n"
