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
   query at the end of the data), summed per group, as a share of the group's interval, with the
   samples each group reads per evaluation (Prometheus' query statistics); the same for a baseline
   rule set (the rules before a change) on the same data.
5. Honesty: every recorded series against its rule's expression and its raw chain (bench/honesty.py).

The benchmark Prometheus is Debian's, plain HTTP on a loopback address of a private network
namespace, with the rendered rule files but no scrape job: it measures storage and PromQL, not TLS.

`run` runs the four steps in order: 1 and 2 are in bench/backfill.py, 3 and 4 in
bench/query_timing.py, the benchmark Prometheus in bench/prometheus_server.py.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from bench.backfill import BLOCK, backfill_raw, backfill_rules
from bench.dataset import Dataset
from bench.honesty import check_recordings
from bench.prometheus_server import QUERY_TIMEOUT, BenchPrometheus
from bench.promql import recordings
from bench.query_timing import time_panels, time_rule_groups
from settings.validators import duration_seconds


def run(
    workdir: Path,
    dataset: Dataset,
    files: Mapping[str, str],
    dashboards: Mapping[str, dict],
    scrape_interval: str,
    evaluation_interval: str,
    repetitions: int = 7,
    log=print,
    baseline_files: Mapping[str, str] | None = None,
    full: bool = True,
) -> dict:
    """Load the TSDB and time the panels and rule groups on it. `baseline_files`: another rule set (the
    one before a change) whose groups are evaluated on the same data. `full`: also the raw version of
    every panel and the honesty check of every recording (the fleet-size runs leave them out)."""
    data, scratch = workdir / "data", workdir / "scratch"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    end = int(time.time()) // BLOCK * BLOCK  # block-aligned, so each window is exactly one block
    log(f"tsdb: backfilling {dataset.total_series():,} series x {dataset.hours:g}h at {dataset.step}s ({dataset.samples() / 1e6:.0f}M samples)")
    raw = backfill_raw(dataset, end, data, scratch, log)
    prometheus = BenchPrometheus(workdir, data)
    rules = recordings(files, evaluation_interval)
    try:
        prometheus.start(settle=not rules)  # the last recording level's restart settles it
        recorded = backfill_rules(prometheus, rules, raw["start"], end, evaluation_interval, scratch, log)
        head_series = prometheus.value("prometheus_tsdb_head_series")
        panels = time_panels(prometheus, dashboards, rules, raw["start"], end, duration_seconds(scrape_interval), repetitions, log, raw=full)
        groups = time_rule_groups(prometheus, files, evaluation_interval, at=end - 60)
        before = time_rule_groups(prometheus, baseline_files, evaluation_interval, at=end - 60) if baseline_files else None
        honesty = check_recordings(prometheus, rules, raw["start"], end, log) if full else None
        peak_rss = prometheus.rss_bytes()
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
        **({"rule_groups_before": before} if before is not None else {}),
        **({"recording_honesty": honesty} if honesty is not None else {}),
        "prometheus_rss_bytes_at_end": peak_rss,
    }
