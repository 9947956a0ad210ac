"""How the cost grows with the fleet: rule evaluation and panels at several fleet sizes.

For each number of API instances (default 10, 100 and 300: about 10k, 100k and 300k series) a TSDB
of the same shape is loaded (bench/tsdb.py, without the raw panels and the honesty check, which the
main part runs) and every rule group and panel is measured on it. Then, per rule group, a straight line
through (series, samples touched) and (series, evaluation time) by least squares: samples per series
is the cost that does not depend on the machine, seconds per series the one that does. From the time
line, the fleet at which the group would take 10% of its interval: the point to act at (well before
100%, where Prometheus starts missing evaluations).

Each fleet size runs under a memory guard (bench/memory_guard.py): one that would not fit is skipped,
one that runs the machine low is stopped, and either is reported as such.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from bench import tsdb
from bench.dataset import Dataset
from bench.memory_guard import GIB, MemoryGuard, available_bytes, enough_for

FLEET = (10, 100, 300)
HOURS = 1.0  # every 5m and 1h window the rules read is full; 300 instances x 1h = 72M samples, half the main part's
ALERT_SHARE = 0.10  # the share of its interval at which a group needs attention


def _fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(intercept, slope) of the least-squares line through `points`; None with fewer than two x values."""
    xs = {x for x, _ in points}
    if len(xs) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return mean_y - slope * mean_x, slope


def growth(points: list[dict], series_per_instance: int) -> list[dict]:
    """Per rule group: slopes of samples and time against series, and the fleet at ALERT_SHARE of its interval."""
    done = [p for p in points if "queries" in p]
    if not done:
        return []
    rows = []
    for group in done[0]["queries"]["rule_groups"]:
        key = (group["file"], group["group"])
        measured = [(p["series"], g) for p in done for g in p["queries"]["rule_groups"] if (g["file"], g["group"]) == key]
        time_fit = _fit([(series, g["duration_s"]) for series, g in measured])
        samples_fit = _fit([(series, g["samples_touched"]) for series, g in measured if g.get("samples_touched") is not None])
        row = {
            "file": group["file"],
            "group": group["group"],
            "interval_s": group["interval_s"],
            "series": [series for series, _ in measured],
            "duration_s": [g["duration_s"] for _, g in measured],
            "samples_touched": [g.get("samples_touched") for _, g in measured],
            "seconds_per_million_series": None if time_fit is None else time_fit[1] * 1e6,
            "samples_per_series": None if samples_fit is None else samples_fit[1],
            "series_at_alert_share": None,
            "instances_at_alert_share": None,
        }
        if time_fit is not None and time_fit[1] > 0:
            series = (ALERT_SHARE * group["interval_s"] - time_fit[0]) / time_fit[1]
            row["series_at_alert_share"] = max(series, 0.0)
            row["instances_at_alert_share"] = max(series, 0.0) / series_per_instance
        rows.append(row)
    return rows


def run(
    workdir: Path,
    fleet: tuple[int, ...],
    hours: float,
    endpoints: int,
    files: Mapping[str, str],
    dashboards: Mapping[str, dict],
    scrape_interval: str,
    evaluation_interval: str,
    repetitions: int = 5,
    memory_floor_gib: float = 3.0,
    log=print,
) -> dict:
    floor = int(memory_floor_gib * GIB)
    points: list[dict] = []
    used: list[tuple[int, int]] = []
    for instances in sorted(fleet):
        dataset = Dataset(instances=instances, endpoints=endpoints, hours=hours)
        point: dict = {"instances": instances, "series": dataset.total_series(), "hours": hours}
        points.append(point)
        refused = enough_for(dataset.total_series(), used, floor)
        if refused:
            point["error"] = refused
            log(f"scaling: {instances} instances {refused}")
            continue
        began, before = time.monotonic(), available_bytes()
        log(f"scaling: {instances} instances ({dataset.total_series():,} series, {hours:g}h)")
        with MemoryGuard(floor, log) as guard:
            try:
                point["queries"] = tsdb.run(
                    workdir / f"fleet-{instances}", dataset, files, dashboards, scrape_interval, evaluation_interval, repetitions, log, full=False
                )
            except Exception as error:  # noqa: BLE001 - reported in the results, the next size may still run
                point["error"] = guard.tripped or f"{error!r}"[:300]
        point["memory_used_bytes"] = max(before - guard.lowest, 0)
        point["seconds"] = round(time.monotonic() - began, 1)
        if guard.tripped:
            point["error"] = guard.tripped
            point.pop("queries", None)
        else:
            used.append((dataset.total_series(), point["memory_used_bytes"]))
    return {
        "hours": hours,
        "endpoints": endpoints,
        "memory_floor_gib": memory_floor_gib,
        "alert_share": ALERT_SHARE,
        "series_per_instance": Dataset(endpoints=endpoints).series_per_instance(),
        "points": points,
        "growth": growth(points, Dataset(endpoints=endpoints).series_per_instance()),
    }
