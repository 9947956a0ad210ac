"""Loading the benchmark TSDB: the raw dataset (bench/dataset.py) turned into blocks by promtool, then
the rendered recording rules backfilled against a Prometheus serving it, one dependency level at a time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import yaml

from bench.dataset import Dataset, Writer
from bench.prometheus_server import BenchPrometheus

BLOCK = 7200  # promtool's (and Prometheus's) block range, seconds


# --- 1. raw data --------------------------------------------------------------------------------------


def backfill_raw(dataset: Dataset, end: int, data: Path, scratch: Path, log=print) -> dict:
    start = end - int(dataset.hours * 3600)
    windows = [(t, min(t + BLOCK, end)) for t in range(start, end, BLOCK)]
    scratch.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    samples = 0
    importing: threading.Thread | None = None
    errors: list[str] = []

    def promtool(path: Path) -> None:
        result = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(data)], capture_output=True, text=True, timeout=3600)
        if result.returncode != 0:
            errors.append(result.stderr[-500:])
        path.unlink(missing_ok=True)

    for number, (w_start, w_end) in enumerate(windows):
        path = scratch / f"window-{number}.om"
        samples += Writer(dataset, w_start, w_end, start).write(path)
        if importing is not None:
            importing.join()  # at most one window on disk while the next is written
        importing = threading.Thread(target=promtool, args=(path,))
        importing.start()
        log(f"tsdb: window {number + 1}/{len(windows)} written ({samples / 1e6:.1f}M samples so far)")
    if importing is not None:
        importing.join()
    if errors:
        raise RuntimeError(f"promtool create-blocks-from openmetrics failed: {errors[0]}")
    return {"series": dataset.total_series(), "samples": samples, "start": start, "end": end, "seconds": round(time.monotonic() - began, 1)}


# --- 2. recording rules -------------------------------------------------------------------------------


def _levels(rules: Mapping[str, list]) -> list[list]:
    """Recording rules by dependency level: level 0 reads raw series only."""
    level: dict[str, int] = {}

    def of(name: str, seen: tuple = ()) -> int:
        if name in level:
            return level[name]
        if name in seen:
            raise ValueError(f"recording rules depend on each other in a cycle at {name}")
        deps = [other for other in rules if other != name and any(re.search(rf"(?<![\w:]){re.escape(other)}(?![\w:])", r.expr) for r in rules[name])]
        level[name] = 1 + max((of(dep, seen + (name,)) for dep in deps), default=-1)
        return level[name]

    for name in rules:
        of(name)
    by_level: dict[int, list] = defaultdict(list)
    for name, items in rules.items():
        by_level[level[name]].extend(items)
    return [by_level[index] for index in sorted(by_level)]


def backfill_rules(prometheus: BenchPrometheus, rules: Mapping[str, list], start: int, end: int, default_interval: str, scratch: Path, log=print) -> dict:
    began = time.monotonic()
    levels = _levels(rules)
    for number, items in enumerate(levels):
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for rule in items:
            groups[(rule.group, rule.interval)].append(rule)
        document = {
            "groups": [
                {
                    "name": name,
                    "interval": interval,
                    "rules": [{"record": r.record, "expr": r.expr, **({"labels": dict(r.labels)} if r.labels else {})} for r in members],
                }
                for (name, interval), members in groups.items()
            ]
        }
        # One path for every level: promtool, like Prometheus, offsets a group's evaluations by a hash of
        # its name and file, so the same path keeps every rule of a group on one time grid, as in
        # production, where a rule reads what the rules before it recorded at the same instant.
        rule_file = scratch / "rules.yml"
        rule_file.write_text(yaml.safe_dump(document, sort_keys=False))
        out = scratch / f"rule-blocks-{number}"
        shutil.rmtree(out, ignore_errors=True)
        promtool_began = time.monotonic()
        result = subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--url={prometheus.url}",
                f"--start={start}",
                f"--end={end}",
                f"--eval-interval={default_interval}",
                f"--output-dir={out}",
                str(rule_file),
            ],
            capture_output=True,
            text=True,
            timeout=7200,
        )
        if result.returncode != 0:
            raise RuntimeError(f"promtool create-blocks-from rules (level {number}) failed: {result.stderr[-800:]}")
        for block in out.iterdir():
            if block.is_dir():
                shutil.move(str(block), prometheus.data / block.name)
        promtool_took = time.monotonic() - promtool_began
        # Only the timings need a settled TSDB: promtool's queries for the next level do not.
        prometheus.restart(settle=number == len(levels) - 1)
        log(f"tsdb: recording rules level {number + 1}/{len(levels)} backfilled ({len(items)} rules, promtool {promtool_took:.0f}s)")
    return {"levels": len(levels), "rules": sum(len(items) for items in levels), "seconds": round(time.monotonic() - began, 1)}
