"""Every alerting and recording rule of the stack, by rule file, as data built from settings + catalog.

`finalize` is the one transform every alert passes through: it checks severity, category and texts,
and adds the runbook and dashboard links, so no alert can ship without them.
"""

from __future__ import annotations

import re
from dataclasses import replace

import addresses
import catalog
from alerting import app_alerts, kubernetes, meta, placement, product_alerts, product_recording, recording, remote_write, slo
from alerting.model import CATEGORIES, SEVERITIES, Alert, Recording, RuleGroup
from settings import Settings

# Runbooks live in this repository (runbooks/<AlertName>.md); alerts link to them here.
RUNBOOK_BASE = "https://github.com/ngx/ngx-monitoring/blob/main/runbooks/"
RUNBOOK_DIR = "runbooks"

_ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")


def runbook_url(alert_name: str) -> str:
    return f"{RUNBOOK_BASE}{alert_name}.md"


def dashboard_url(settings: Settings) -> str:
    return f"{addresses.public_url(settings, 'grafana')}d/{catalog.OVERVIEW_DASHBOARD_UID}"


def finalize(alert: Alert, settings: Settings) -> Alert:
    """Check an alert's labels and texts and add its links; raises ValueError naming the alert."""
    problems = []
    if not _ALERT_NAME.match(alert.name):
        problems.append("name must be CamelCase")
    if alert.severity not in SEVERITIES:
        problems.append(f"severity {alert.severity!r} is not one of {', '.join(SEVERITIES)}")
    if alert.category not in CATEGORIES:
        problems.append(f"category {alert.category!r} is not one of {', '.join(CATEGORIES)}")
    if not alert.summary or "{{" in alert.summary:
        problems.append("summary must be one static sentence (it is the meaning column of docs/alerts.md)")
    if "$value" not in alert.description:
        problems.append("description must show the observed {{ $value }}")
    if problems:
        raise ValueError(f"alert {alert.name}: " + "; ".join(problems))
    return replace(alert, runbook_url=runbook_url(alert.name), dashboard_url=dashboard_url(settings))


def rule_files(settings: Settings) -> dict[str, tuple[RuleGroup, ...]]:
    """Rule groups by the file they are rendered to (files/prometheus/rules/<name>)."""
    # Each application alert follows the recordings it reads, in their group (alerting.placement).
    recording_groups, raw_alerts = placement.place(
        recording.groups(settings) + product_recording.groups(),
        app_alerts.alerts(settings) + slo.burn_alerts(settings) + product_alerts.alerts(settings),
    )
    files = {
        "ngx-recording.yml": recording_groups,
        "ngx-alerts.yml": (app_alerts.group(raw_alerts),),
        "slo.yml": slo.groups(settings),
        "meta.yml": meta.groups(settings),
        "node.yml": kubernetes.node_groups(settings),
    }
    if settings.platform == "kubernetes":
        files["kubernetes.yml"] = kubernetes.kubernetes_groups(settings)
    if settings.prometheus.remote_write:
        files["remote-write.yml"] = remote_write.groups(settings)
    return {name: tuple(_finalize_group(group, settings) for group in groups) for name, groups in files.items()}


def _finalize_group(group: RuleGroup, settings: Settings) -> RuleGroup:
    rules = tuple(finalize(rule, settings) if isinstance(rule, Alert) else rule for rule in group.rules)
    return replace(group, rules=rules)


def all_groups(settings: Settings) -> tuple[RuleGroup, ...]:
    return tuple(group for groups in rule_files(settings).values() for group in groups)


def alerts(settings: Settings) -> tuple[Alert, ...]:
    return tuple(alert for group in all_groups(settings) for alert in group.alerts)


def recordings(settings: Settings) -> tuple[Recording, ...]:
    return tuple(rule for group in all_groups(settings) for rule in group.recordings)
