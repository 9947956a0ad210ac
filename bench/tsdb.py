"""Dashboard query cost and rule evaluation cost on a backfilled TSDB.

1. Raw data: bench/dataset.py writes each 2h window as OpenMetrics while promtool turns the previous
   one into a block (`promtool tsdb create-blocks-from openmetrics`).
2. Recording rules: the rendered rule files' recording rules, backfilled with
   `promtool tsdb create-blocks-from rules` against a Prometheus serving the data, one dependency level
   at a time (a rule that reads a recorded series needs that series backfilled first).
3. Dashboard panels: every Prometheus query of every dashboard (dashboards.build_dashboards), as
   Grafana sends it for the dashboard's default range, timed through the HTTP API; and the same panel
   written against raw series (bench/promql.py), checked to return the same values.
4. Rule groups: every rule of every rendered group evaluated as the rule manager does (an instant
   query at the end of the data), summed per group, as a share of the group's interval.

The benchmark Prometheus is Debian's, plain HTTP on a loopback address of a private network
namespace, with the rendered rule files but no scrape job: it measures storage and PromQL, not TLS.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.dataset import Dataset, Writer
from bench.promql import PanelQuery, expand, grafana_step, panel_queries, rate_interval, recordings, substitute, uses_recordings
from settings.validators import duration_seconds
from tests.live.clients import wait_until

BLOCK = 7200  # promtool's (and Prometheus's) block range, seconds
QUERY_TIMEOUT = 30.0  # per query; a raw panel that needs longer is reported as a timeout
IP = "127.0.120.2"
PORT = 9090


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


class BenchPrometheus:
    """Debian's Prometheus on the benchmark TSDB (no scrape jobs; TLS and auth are not measured here)."""

    def __init__(self, workdir: Path, data: Path) -> None:
        self.workdir, self.data = workdir, data
        self.process: subprocess.Popen | None = None
        self.config = workdir / "bench-prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n")

    @property
    def url(self) -> str:
        return f"http://{IP}:{PORT}"

    def start(self) -> None:
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address={IP}:{PORT}",
                "--storage.tsdb.retention.time=3650d",
                # Keep the backfilled 2h blocks as they are (no time-range compaction while timing);
                # overlapping blocks (raw + recorded) are still merged vertically, as in production.
                "--storage.tsdb.min-block-duration=2h",
                "--storage.tsdb.max-block-duration=2h",
                # promtool's rule backfill runs long range queries; panels get QUERY_TIMEOUT per request.
                "--query.timeout=10m",
                "--query.max-samples=50000000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: self._get("/-/ready")[0] == 200, 300, interval=1, what="benchmark Prometheus ready")
        self.settle()

    def settle(self, quiet_for: float = 20.0, timeout: float = 900.0) -> None:
        """Wait until compactions stop (merging backfilled blocks), so they do not disturb the timings."""
        deadline = time.monotonic() + timeout
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = (
                self.value("prometheus_tsdb_compactions_total"),
                self.value("prometheus_tsdb_vertical_compactions_total"),
                self.value("prometheus_tsdb_blocks_loaded"),
            )
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for:
                return
            time.sleep(2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _get(self, path: str, timeout: float = QUERY_TIMEOUT + 10) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(IP, PORT, timeout=timeout)
        try:
            connection.request("GET", path)
            reply = connection.getresponse()
            return reply.status, reply.read()
        finally:
            connection.close()

    def metrics(self) -> str:
        return self._get("/metrics")[1].decode()

    def value(self, name: str) -> float | None:
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def query(self, expr: str, at: float | None = None, start: float | None = None, end: float | None = None, step: float | None = None) -> tuple[float, dict]:
        """(seconds, response) of one query, instant (at) or range (start, end, step)."""
        if start is None:
            params = {"query": expr, "time": at, "timeout": f"{int(QUERY_TIMEOUT)}s"}
            path = "/api/v1/query"
        else:
            params = {"query": expr, "start": start, "end": end, "step": step, "timeout": f"{int(QUERY_TIMEOUT)}s"}
            path = "/api/v1/query_range"
        began = time.perf_counter()
        status, body = self._get(f"{path}?{urllib.parse.urlencode(params)}")
        took = time.perf_counter() - began
        document = json.loads(body)
        if status != 200 or document.get("status") != "success":
            raise RuntimeError(f"{document.get('errorType', status)}: {document.get('error', '')[:160]}")
        return took, document["data"]


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
        rule_file = scratch / f"rules-level-{number}.yml"
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
        prometheus.restart()
        log(f"tsdb: recording rules level {number + 1}/{len(levels)} backfilled ({len(items)} rules, promtool {promtool_took:.0f}s)")
    return {"levels": len(levels), "rules": sum(len(items) for items in levels), "seconds": round(time.monotonic() - began, 1)}


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


def time_panels(
    prometheus: BenchPrometheus,
    dashboards: Mapping[str, dict],
    rules: Mapping[str, list],
    start: float,
    end: float,
    scrape_interval: float,
    repetitions: int,
    log=print,
) -> list[dict]:
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
                differences = [_difference(_values(prometheus, a, end), _values(prometheus, b, end)) for a, b in zip(recorded, raw, strict=False)]
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


def time_rule_groups(prometheus: BenchPrometheus, files: Mapping[str, str], default_interval: str, at: float, repetitions: int = 5) -> list[dict]:
    groups = []
    for key, text in sorted(files.items()):
        if not key.startswith("prometheus/rules/"):
            continue
        for group in yaml.safe_load(text)["groups"]:
            interval = group.get("interval", default_interval)
            per_rule = []
            failures = []
            for rule in group["rules"]:
                timing = Timing([])
                for _ in range(repetitions):
                    try:
                        took, _ = prometheus.query(rule["expr"], at=at)
                        timing.seconds.append(took)
                    except (RuntimeError, OSError, http.client.HTTPException) as error:
                        failures.append(f"{rule.get('record') or rule.get('alert')}: {error}"[:160])
                        break
                per_rule.append(timing.percentile(50) or 0.0)
            duration = sum(per_rule)
            groups.append(
                {
                    "file": key.rsplit("/", 1)[-1],
                    "group": group["name"],
                    "rules": len(group["rules"]),
                    "interval_s": duration_seconds(interval),
                    "duration_s": duration,
                    "share_of_interval": duration / duration_seconds(interval),
                    "failures": failures,
                }
            )
    return groups


def run(
    workdir: Path,
    dataset: Dataset,
    files: Mapping[str, str],
    dashboards: Mapping[str, dict],
    scrape_interval: str,
    evaluation_interval: str,
    repetitions: int = 7,
    log=print,
) -> dict:
    data, scratch = workdir / "data", workdir / "scratch"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    end = int(time.time()) // BLOCK * BLOCK  # block-aligned, so each window is exactly one block
    log(f"tsdb: backfilling {dataset.total_series():,} series x {dataset.hours:g}h at {dataset.step}s ({dataset.samples() / 1e6:.0f}M samples)")
    raw = backfill_raw(dataset, end, data, scratch, log)
    prometheus = BenchPrometheus(workdir, data)
    rules = recordings(files, evaluation_interval)
    try:
        prometheus.start()
        recorded = backfill_rules(prometheus, rules, raw["start"], end, evaluation_interval, scratch, log)
        head_series = prometheus.value("prometheus_tsdb_head_series")
        panels = time_panels(prometheus, dashboards, rules, raw["start"], end, duration_seconds(scrape_interval), repetitions, log)
        groups = time_rule_groups(prometheus, files, evaluation_interval, at=end - 60)
        disk = sum(path.stat().st_size for path in data.rglob("*") if path.is_file())
    finally:
        prometheus.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "dataset": {**dataset.__dict__, **raw, "disk_bytes": disk, "head_series_after_load": head_series},
        "recording_backfill": recorded,
        "query_timeout_s": QUERY_TIMEOUT,
        "panels": panels,
        "rule_groups": groups,
    }
