"""How long an alert may take, read from the rendered files (not from settings or constants of our own).

An alert reaches a receiver at most this long after its fault starts:
    scrape_interval (the fault is seen)          + evaluation interval (the rule sees it: pending)
  + the rule's `for`  + evaluation interval (firing)  + group_wait of its route (first notification)
where the evaluation interval is that of the rule's group (its own `interval`, else the global one).
A change to a group already notified (a resolve) waits for the route's next group_interval tick instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from settings.validators import duration_seconds

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


@dataclass(frozen=True)
class Route:
    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float


class RenderedTimings:
    def __init__(self, files: Mapping[str, str]) -> None:
        self.prometheus = yaml.safe_load(files["prometheus/prometheus.yml"])
        self.alertmanager = yaml.safe_load(files["alertmanager/alertmanager.yml"])
        self.rules: dict[str, list[dict[str, Any]]] = {}
        for key, text in files.items():
            if key.startswith("prometheus/rules/"):
                for group in yaml.safe_load(text)["groups"]:
                    for rule in group["rules"]:
                        if "alert" in rule:
                            self.rules.setdefault(rule["alert"], []).append({**rule, "group": group["name"], "group_interval": group.get("interval")})

    @property
    def scrape_interval(self) -> float:
        return duration_seconds(self.prometheus["global"]["scrape_interval"])

    @property
    def evaluation_interval(self) -> float:
        return duration_seconds(self.prometheus["global"]["evaluation_interval"])

    def rule(self, alertname: str, severity: str | None = None) -> dict[str, Any]:
        rules = [r for r in self.rules.get(alertname, []) if severity is None or r["labels"].get("severity") == severity]
        if len(rules) != 1:
            raise KeyError(f"{alertname} (severity {severity}) matches {len(rules)} rendered rules")
        return rules[0]

    def evaluation_interval_of(self, alertname: str, severity: str | None = None) -> float:
        """The interval of the group the alert is evaluated in (its own, or the global one)."""
        own = self.rule(alertname, severity)["group_interval"]
        return duration_seconds(own) if own else self.evaluation_interval

    def for_(self, alertname: str, severity: str | None = None) -> float:
        value = self.rule(alertname, severity).get("for")
        return duration_seconds(value) if value else 0.0

    def route(self, labels: Mapping[str, str]) -> Route:
        """The route an alert with `labels` takes in the rendered alertmanager.yml (first match, depth first)."""
        root = self.alertmanager["route"]
        inherited = {key: root.get(key) for key in ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval")}
        node = root
        while True:
            child = next((c for c in node.get("routes", []) if all(_matches(m, labels) for m in c.get("matchers", []))), None)
            if child is None:
                break
            inherited.update({key: child[key] for key in inherited if key in child})
            node = child
        return Route(
            inherited["receiver"],
            tuple(inherited["group_by"] or ()),
            duration_seconds(inherited["group_wait"] or "30s"),
            duration_seconds(inherited["group_interval"] or "5m"),
            duration_seconds(inherited["repeat_interval"] or "4h"),
        )

    def receiver_integrations(self, receiver: str) -> set[str]:
        """Integrations (slack, pagerduty, email, webhook) of a rendered receiver."""
        document = next(r for r in self.alertmanager["receivers"] if r["name"] == receiver)
        return {key[: -len("_configs")] for key in document if key.endswith("_configs")}

    def first_notification_bound(self, alertname: str, labels: Mapping[str, str], severity: str | None = None) -> float:
        """Seconds from a fault to the first notification, at most (see the module docstring)."""
        every = self.evaluation_interval_of(alertname, severity)
        return self.scrape_interval + 2 * every + self.for_(alertname, severity) + self.route(labels).group_wait


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    match = _MATCHER.match(matcher)
    if not match:
        raise ValueError(f"cannot read the matcher {matcher!r}")
    name, op, value = match.groups()
    value = value.encode().decode("unicode_escape")
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    return bool(re.fullmatch(value, actual)) == (op == "=~")


def patience(bound: float) -> float:
    """How long a test waits for something bounded by `bound` seconds: the bound, plus room for a busy
    CI machine (service discovery alone may hold a new target back 5 s) and for delivery."""
    return bound * 1.5 + 20.0
