"""Prometheus rule files (files/prometheus/rules/*.yml, loaded from /etc/prometheus/rules/*.yml)."""

from __future__ import annotations

from typing import Any

from alerting.model import Alert, Recording, RuleGroup
from alerting.rules import recordings, rule_files
from renderers.yamltext import GENERATED, dump
from settings import Settings


def _alert(alert: Alert) -> dict[str, Any]:
    if alert.runbook_url is None or alert.dashboard_url is None:
        raise ValueError(f"alert {alert.name} was not finalized (alerting.rules.finalize adds its links)")
    rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
    if alert.for_ is not None:
        rule["for"] = alert.for_
    rule["labels"] = alert.labels
    rule["annotations"] = {
        "summary": alert.summary,
        "description": alert.description,
        "runbook_url": alert.runbook_url,
        "dashboard_url": alert.dashboard_url,
    }
    return rule


def _recording(recording: Recording) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": recording.record, "expr": recording.expr}
    if recording.labels:
        rule["labels"] = dict(recording.labels)
    return rule


def _group(group: RuleGroup) -> dict[str, Any]:
    document: dict[str, Any] = {"name": group.name}
    if group.interval is not None:
        document["interval"] = group.interval
    document["rules"] = [_alert(rule) if isinstance(rule, Alert) else _recording(rule) for rule in group.rules]
    return document


def render_rule_files(settings: Settings) -> dict[str, str]:
    """File name -> YAML text of every rule file."""
    return {name: dump({"groups": [_group(group) for group in groups]}, GENERATED) for name, groups in rule_files(settings).items()}


def recorded_series(settings: Settings) -> frozenset[str]:
    """Names of every series a recording rule writes (dashboards may use these besides the catalog)."""
    return frozenset(rule.record for rule in recordings(settings))
