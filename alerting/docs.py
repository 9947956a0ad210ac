"""The README's alert table, generated from the rules and the routing tree so the two cannot disagree."""
from __future__ import annotations

from alerting.model import Alert
from alerting.routing import receivers_for, routing_tree
from alerting.rules import RUNBOOK_DIR, alerts
from settings import Settings


def routing_labels(alert: Alert) -> dict[str, str]:
    """The labels Alertmanager routes this alert by (rule labels plus its name)."""
    return {"alertname": alert.name, **alert.labels}


def alert_table_markdown(settings: Settings) -> str:
    """| Alert | Meaning | Severity | Route | For | for every alert of this stack, in rule-file order."""
    tree = routing_tree(settings)
    rows: dict[str, list[str]] = {}
    for alert in alerts(settings):
        meaning = alert.summary.replace("|", "\\|")
        route = ", ".join(receivers_for(routing_labels(alert), tree))
        row = f"| [{alert.name}]({RUNBOOK_DIR}/{alert.name}.md) | {meaning} | {alert.severity} | {route} |"
        # Rules of one alert that differ only in their expression (BackupTooOld: late, or missing) share a
        # row; no `for` is Prometheus's 0s, it fires at the first evaluation that matches.
        fors = rows.setdefault(row, [])
        if (alert.for_ or "0s") not in fors:
            fors.append(alert.for_ or "0s")
    lines = ["| Alert | Meaning | Severity | Route | For |", "| --- | --- | --- | --- | --- |"]
    lines += [f"{row} {' or '.join(fors)} |" for row, fors in rows.items()]
    return "\n".join(lines) + "\n"
