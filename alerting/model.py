"""The shapes of alerting and recording rules, and the label values every alert must use."""

from __future__ import annotations

from dataclasses import dataclass

# `none` is for Watchdog only: it must never page, mail or be inhibited like a real problem.
SEVERITIES = ("critical", "warning", "info", "none")
CATEGORIES = ("availability", "performance", "resources", "ml", "business", "slo", "meta", "backup")


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str | None  # None: fires on the first evaluation that matches
    severity: str
    category: str
    summary: str  # one static sentence: what is wrong (also the "meaning" column of docs/alerts.md)
    description: str  # Prometheus template; must show the observed {{ $value }}
    # Added by alerting.rules.finalize, never written by hand, so every alert links the same way.
    runbook_url: str | None = None
    dashboard_url: str | None = None
    # Labels that tell apart rules of one alert (promtool refuses two rules with the same name and labels).
    extra_labels: tuple[tuple[str, str], ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        return {"severity": self.severity, "category": self.category, **dict(self.extra_labels)}


@dataclass(frozen=True)
class Recording:
    record: str  # level:metric:operations
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Alert | Recording, ...]
    interval: str | None = None  # None: the global evaluation_interval

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, Alert))

    @property
    def recordings(self) -> tuple[Recording, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, Recording))
