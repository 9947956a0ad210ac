"""Dashboard queries as Grafana sends them, and the same queries written against raw series.

`expand` rewrites every recorded series in an expression into the recording rule's own expression
(recursively, until only catalog metrics are left): what the panel would have to run if the stack
had no recording rules. The rewrite is checked, not trusted: bench/query_timing.py evaluates both versions
and reports how far their values differ.

- A recorded name's static rule labels (e.g. quantile="0.95") pick the rule(s) that produce it; when
  several rules record one name, the raw version is their `or`, each with its labels put back.
- Other matchers on a recorded series (status="error", model_type=~"...") are pushed down into every
  selector of the raw expression; the rules aggregate `by` those labels, so this is equivalent.
- A range over a recorded series (`sum_over_time(x[1h])`) becomes a subquery over the raw expression
  at the recording group's interval (`(...)[1h:15s]`), which is what the rule computed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

import catalog
from settings.validators import duration_seconds

_RECORDED = re.compile(r'(?<![\w:"$])([a-zA-Z_][\w]*:[\w:]*)(\{[^}]*\})?(\s*\[[^\]]+\])?')
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_CATALOG_SELECTOR = re.compile(r'(?<![\w:"$])(' + "|".join(sorted(map(re.escape, catalog.series_names()), key=len, reverse=True)) + r")(?![\w:])(\{[^}]*\})?")
ALL = ".*"  # Grafana's "All" for the dashboards' variables (allValue .*)


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str
    labels: Mapping[str, str]
    interval: str
    group: str


def recordings(files: Mapping[str, str], default_interval: str) -> dict[str, list[Recording]]:
    """Every recording rule of the rendered rule files, by recorded name."""
    found: dict[str, list[Recording]] = {}
    for key, text in sorted(files.items()):
        if not key.startswith("prometheus/rules/"):
            continue
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    found.setdefault(rule["record"], []).append(
                        Recording(rule["record"], rule["expr"], rule.get("labels", {}), group.get("interval", default_interval), group["name"])
                    )
    return found


def substitute(expr: str, rate_interval: str, interval: str, range_: str) -> str:
    """Grafana's variables, as it sends them with every multi-value variable set to All."""
    replaced = expr.replace("$__rate_interval", rate_interval).replace("$__interval", interval).replace("$__range", range_)
    return re.sub(r"\$\{?(instance|node|model|tier|env)\}?", ALL, replaced)


def _matchers(text: str | None) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in _MATCHER.finditer(text or "")]


def _matches(op: str, pattern: str, value: str) -> bool:
    if op == "=":
        return value == pattern
    if op == "!=":
        return value != pattern
    hit = re.fullmatch(pattern, value) is not None
    return hit if op == "=~" else not hit


def _push_down(expr: str, matchers: list[tuple[str, str, str]]) -> str:
    if not matchers:
        return expr
    extra = ",".join(f'{label}{op}"{value}"' for label, op, value in matchers)

    def add(match: re.Match) -> str:
        name, braces = match.group(1), match.group(2)
        inner = braces[1:-1].strip() if braces else ""
        return f"{name}{{{inner + ',' if inner else ''}{extra}}}"

    return _CATALOG_SELECTOR.sub(add, expr)


def expand(expr: str, rules: Mapping[str, list[Recording]], depth: int = 0) -> str:
    """`expr` with every recorded series replaced by the raw expression that records it."""
    if depth > 10:
        raise ValueError(f"recording rules nest more than 10 deep at {expr}")

    def replace(match: re.Match) -> str:
        name, braces, window = match.group(1), match.group(2), match.group(3)
        if name not in rules:
            return match.group(0)
        matchers = _matchers(braces)
        candidates = []
        for rule in rules[name]:
            static = [m for m in matchers if m[0] in rule.labels]
            if all(_matches(op, value, rule.labels[label]) for label, op, value in static):
                candidates.append(rule)
        if not candidates:
            raise ValueError(f"no recording rule produces {match.group(0)}")
        pushed = [m for m in matchers if not any(m[0] in rule.labels for rule in candidates) and not (m[1] == "=~" and m[2] == ALL)]
        parts = []
        for rule in candidates:
            raw = _push_down(expand(rule.expr, rules, depth + 1), pushed)
            for label, value in sorted(rule.labels.items()):
                raw = f'label_replace({raw}, "{label}", "{value}", "", "")'
            parts.append(raw)
        body = " or ".join(f"({part})" for part in parts)
        if window:
            step = candidates[0].interval
            return f"({body})[{window.strip()[1:-1]}:{step}]"
        return f"({body})"

    return _RECORDED.sub(replace, expr)


def uses_recordings(expr: str, rules: Mapping[str, list[Recording]]) -> bool:
    return any(match.group(1) in rules for match in _RECORDED.finditer(expr))


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str
    instant: bool


def panel_queries(dashboards: Mapping[str, dict]) -> list[PanelQuery]:
    """Every Prometheus query of every panel (rows included), in dashboard order."""
    found = []

    def walk(uid: str, panels: list[dict]) -> None:
        for panel in panels:
            walk(uid, panel.get("panels", []))
            if (panel.get("datasource") or {}).get("type") != "prometheus":
                continue
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found.append(PanelQuery(uid, panel["title"], target.get("refId", "A"), target["expr"], bool(target.get("instant"))))

    for uid, model in dashboards.items():
        walk(uid, model.get("panels", []))
    return found


def grafana_step(range_seconds: float, min_interval: str, max_data_points: int = 1000) -> float:
    """Grafana's $__interval: range / max data points, never below the panel's min interval."""
    return max(duration_seconds(min_interval), range_seconds / max_data_points)


def rate_interval(step: float, scrape_interval: float) -> float:
    """Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval)."""
    return max(step + scrape_interval, 4 * scrape_interval)
