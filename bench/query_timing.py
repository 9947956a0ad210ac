"""Timing queries on the benchmark TSDB: every dashboard panel, recorded series against the same panel
written on raw series (checked to return the same values), and every rule group as the rule manager
evaluates it.
"""

from __future__ import annotations

import http.client
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from bench.prometheus_server import BenchPrometheus
from bench.promql import PanelQuery, expand, grafana_step, panel_queries, rate_interval, substitute, uses_recordings
from settings.validators import duration_seconds


@dataclass
class Timing:
    seconds: list[float]
    error: str | None = None

    def percentile(self, p: float) -> float | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]


# --- 3. dashboard panels ------------------------------------------------------------------------------


def _time(prometheus: BenchPrometheus, queries: list[str], instant: bool, start: float, end: float, step: float, repetitions: int) -> Timing:
    """Run a panel's queries (sequentially) `repetitions` times; fewer when one round is slow."""
    seconds: list[float] = []
    for round_ in range(repetitions):
        total = 0.0
        try:
            for expr in queries:
                took, _ = prometheus.query(expr, at=end) if instant else prometheus.query(expr, start=start, end=end, step=step)
                total += took
        except (RuntimeError, OSError, http.client.HTTPException) as error:
            return Timing(seconds, f"{error}"[:200])
        seconds.append(total)
        if round_ == 0 and total > 5:
            break  # a slow panel is timed once: its cost is plain, and the run stays bounded
    return Timing(seconds)


def _values(prometheus: BenchPrometheus, expr: str, at: float) -> dict[str, float]:
    _, data = prometheus.query(expr, at=at)
    result = {}
    for series in data["result"]:
        labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
        result[json.dumps(labels, sort_keys=True)] = float(series["value"][1])
    return result


def _difference(recorded: dict[str, float], raw: dict[str, float]) -> float | None:
    """Largest relative difference between the two versions' values (None when nothing to compare)."""
    shared = set(recorded) & set(raw)
    if not shared:
        return None
    worst = 0.0
    for key in shared:
        a, b = recorded[key], raw[key]
        if a != a and b != b:  # both NaN
            continue
        scale = max(abs(a), abs(b), 1e-12)
        worst = max(worst, abs(a - b) / scale)
    return worst


def _evaluated_at(prometheus: BenchPrometheus, exprs: list[str], rules: Mapping[str, list], before: float) -> float:
    """The time of the last sample, at or before `before`, of the first recorded series `exprs` read."""
    names = [name for name in rules if any(re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) for expr in exprs)]
    if names:
        try:
            _, data = prometheus.query(f"max(timestamp({names[0]}))", at=before)
            if data["result"]:
                return float(data["result"][0]["value"][1])
        except (RuntimeError, OSError, http.client.HTTPException, KeyError, IndexError, ValueError):
            pass
    return before


# A range or subquery window: `[30d]`, `[30d:5m]`.
_WINDOW = re.compile(r"\[(\d+[smhdwy])(?::[^\]]*)?\]")


def _span(seconds: float) -> str:
    return f"{seconds / 86400:g}d" if seconds >= 86400 else f"{seconds / 3600:g}h"


def _longest_window(exprs: list[str]) -> float:
    return max((duration_seconds(window) for expr in exprs for window in _WINDOW.findall(expr)), default=0.0)


def time_panels(
    prometheus: BenchPrometheus,
    dashboards: Mapping[str, dict],
    rules: Mapping[str, list],
    start: float,
    end: float,
    scrape_interval: float,
    repetitions: int,
    log=print,
    raw: bool = True,
) -> list[dict]:
    """Each panel timed on recorded series; with `raw`, also on raw series and checked to agree."""
    run_raw = raw
    range_seconds = end - start
    by_panel: dict[tuple[str, str], list[PanelQuery]] = defaultdict(list)
    min_interval = {}
    for query in panel_queries(dashboards):
        by_panel[(query.dashboard, query.panel)].append(query)
    for uid, model in dashboards.items():
        stack = list(model.get("panels", []))
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            min_interval[(uid, panel.get("title"))] = panel.get("interval") or "15s"
    results = []
    for (uid, title), queries in by_panel.items():
        step = grafana_step(range_seconds, min_interval.get((uid, title), "15s"))
        rate = f"{int(rate_interval(step, scrape_interval))}s"
        recorded = [substitute(q.expr, rate, f"{int(step)}s", f"{int(range_seconds)}s") for q in queries]
        instant = all(q.instant for q in queries)
        uses = any(uses_recordings(expr, rules) for expr in recorded)
        raw = [expand(expr, rules) for expr in recorded] if uses else recorded
        entry = {"dashboard": uid, "panel": title, "queries": len(queries), "instant": instant, "step_s": step, "uses_recordings": uses}
        fast = _time(prometheus, recorded, instant, start, end, step, repetitions)
        entry["recorded"] = {"p50_s": fast.percentile(50), "p95_s": fast.percentile(95), "runs": len(fast.seconds), "error": fast.error}
        try:
            entry["has_data"] = any(_values(prometheus, expr, end) for expr in recorded)
        except (RuntimeError, OSError, http.client.HTTPException):
            entry["has_data"] = False
        if not run_raw:
            results.append(entry)
            log(f"tsdb: panel {uid} / {title}: {entry['recorded']['p50_s'] or 0:.3f}s")
            continue
        window = _longest_window(raw)
        if uses and window > range_seconds:
            # A raw window longer than the data (the SLO's 30 days over hours of data) reads every sample of
            # every raw series at each step: it cannot finish, and takes all the memory of the machine
            # before the query timeout stops it, disturbing every figure after it. Not run.
            error = f"not run: its {_span(window)} window is longer than the {range_seconds / 3600:g}h of data"
            entry["raw"] = {"p50_s": None, "p95_s": None, "runs": 0, "error": error}
            entry["raw_max_relative_difference"] = "not compared: the raw version was not run"
            entry["raw_queries"] = raw
            results.append(entry)
            log(f"tsdb: panel {uid} / {title}: {entry['recorded']['p50_s'] or 0:.3f}s vs raw: {error}")
            continue
        if uses:
            slow = _time(prometheus, raw, instant, start, end, step, repetitions)
            entry["raw"] = {"p50_s": slow.percentile(50), "p95_s": slow.percentile(95), "runs": len(slow.seconds), "error": slow.error}
            if fast.percentile(50) and slow.percentile(50):
                entry["ratio_p50"] = slow.percentile(50) / fast.percentile(50)
            if slow.error:
                entry["raw_max_relative_difference"] = "not compared: the raw version did not finish"
                entry["raw_queries"] = raw
                results.append(entry)
                log(f"tsdb: panel {uid} / {title}: {entry['recorded']['p50_s'] or 0:.3f}s vs raw: {slow.error}")
                continue
            try:
                # At an evaluation of the recordings (the time of their last sample), not at `end`, which the
                # last recorded sample may precede: both versions then see the same instant.
                at = _evaluated_at(prometheus, recorded, rules, end - 60)
                differences = [_difference(_values(prometheus, a, at), _values(prometheus, b, at)) for a, b in zip(recorded, raw, strict=False)]
                known = [d for d in differences if d is not None]
                entry["raw_max_relative_difference"] = max(known) if known else None
            except (RuntimeError, OSError, http.client.HTTPException) as error:
                entry["raw_max_relative_difference"] = f"not compared: {error}"[:120]
            entry["raw_queries"] = raw
        results.append(entry)
        log(
            f"tsdb: panel {uid} / {title}: {entry['recorded']['p50_s'] or 0:.3f}s"
            + (
                f" vs raw {entry['raw']['p50_s']:.3f}s"
                if uses and entry["raw"]["p50_s"]
                else (" vs raw: " + str(entry.get("raw", {}).get("error")) if uses else "")
            )
        )
    return results


# --- 4. rule groups -----------------------------------------------------------------------------------


def _samples(prometheus: BenchPrometheus, expr: str, at: float) -> tuple[int | None, int | None]:
    """(samples read from storage, peak samples in memory) of one instant query: Prometheus' own count,
    the same on any machine for the same data (Prometheus 2.42: `totalQueryableSamples`, `peakSamples`)."""
    _, data = prometheus.query(expr, at=at, stats=True)
    samples = (data.get("stats") or {}).get("samples") or {}
    return samples.get("totalQueryableSamples"), samples.get("peakSamples")


def time_rule_groups(
    prometheus: BenchPrometheus, files: Mapping[str, str], default_interval: str, at: float, repetitions: int = 5, samples: bool = True
) -> list[dict]:
    """Every rule group evaluated as the rule manager does: each rule an instant query at `at` (median of
    `repetitions`), summed per group; with `samples`, the samples each rule reads (Prometheus' query
    statistics), summed per group: what one evaluation of the group touches, independent of the machine."""
    groups = []
    for key, text in sorted(files.items()):
        if not key.startswith("prometheus/rules/"):
            continue
        for group in yaml.safe_load(text)["groups"]:
            interval = group.get("interval", default_interval)
            per_rule = []
            failures = []
            for rule in group["rules"]:
                name = rule.get("record") or rule.get("alert")
                timing = Timing([])
                for _ in range(repetitions):
                    try:
                        took, _ = prometheus.query(rule["expr"], at=at)
                        timing.seconds.append(took)
                    except (RuntimeError, OSError, http.client.HTTPException) as error:
                        failures.append(f"{name}: {error}"[:160])
                        break
                touched, peak = None, None
                if samples and not timing.error and timing.seconds:
                    try:
                        touched, peak = _samples(prometheus, rule["expr"], at)
                    except (RuntimeError, OSError, http.client.HTTPException) as error:
                        failures.append(f"{name}: stats: {error}"[:160])
                per_rule.append({"rule": name, "p50_s": timing.percentile(50) or 0.0, "samples": touched, "peak_samples": peak})
            duration = sum(r["p50_s"] for r in per_rule)
            counted = [r["samples"] for r in per_rule if r["samples"] is not None]
            groups.append(
                {
                    "file": key.rsplit("/", 1)[-1],
                    "group": group["name"],
                    "rules": len(group["rules"]),
                    "interval_s": duration_seconds(interval),
                    "duration_s": duration,
                    "share_of_interval": duration / duration_seconds(interval),
                    "samples_touched": sum(counted) if samples and len(counted) == len(per_rule) else None,
                    "peak_samples": max((r["peak_samples"] or 0 for r in per_rule), default=0) if samples else None,
                    "per_rule": per_rule,
                    "failures": failures,
                }
            )
    return groups
