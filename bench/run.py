"""Benchmarks of the rendered stack: `venv/bin/python -m bench.run`, from the repository root
(bench/run.sh sets up a fresh machine).

Prints a table per benchmark, writes every figure to bench/results/latest.json and draws charts of them
beside it (bench/charts.py):
- program:  wall time of `synth.py --stack <s>` for each stack file
- latency:  fault -> page at the receiver for APIDown and HighErrorRate, overhead beyond each alert's
            `for`, next to scrape + evaluation interval + group_wait; dev's settings and
            kube-prometheus-stack's defaults in the same run (bench/latency.py)
- queries:  every dashboard panel on a backfilled TSDB, recorded series vs raw series (bench/tsdb.py)
- rules:    every rule group's evaluation time on that TSDB as a share of its interval, and the samples
            it reads per evaluation, for this tree's rules and a baseline's (--baseline-ref); every
            recording checked against its raw expression (bench/honesty.py)
- scaling:  rule groups and panels at several fleet sizes (--fleet), the growth per group and the fleet
            at which a group would take 10% of its interval (bench/scaling.py)
- backups:  seven daily backups of a growing TSDB, today's tar.gz archives against restic, and the
            restore of the newest (bench/backups.py; not in the default set: it needs restic and adds
            about ten minutes; its published figures come from `python -m bench.backups`)

Everything runs on loopback inside a private network namespace (tests/live/netns.py); needs root and
the Debian packages scripts/setup.sh installs. `--quick` shrinks every part (a smoke run, minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench import backups, charts, latency, scaling, tsdb
from bench.baseline import DEFAULT_REF, rule_files_at
from bench.dataset import Dataset
from bench.memory_guard import GIB, MemoryGuard
from bench.report import tables
from bench.targets import targets_markdown
from tests.live.netns import PrivateNetwork

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# What the benchmarks run: Prometheus and Alertmanager (latency), promtool (backfill), the
# application's Redis (the simulated API's side of a stack) and the namespace and certificate tools.
NEEDED = ("prometheus", "promtool", "prometheus-alertmanager", "redis-server", "unshare", "openssl")
PARTS = ("program", "latency", "queries", "scaling", "backups")
DEFAULT_PARTS = ("program", "latency", "queries", "scaling")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def stacks() -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in ROOT.glob("Pulumi.*.yaml"))


def bench_program(repetitions: int) -> list[dict]:
    results = []
    for stack in stacks():
        seconds = []
        for _ in range(repetitions):
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "synth.py", "--stack", stack], cwd=ROOT, capture_output=True, text=True, timeout=600)
            seconds.append(time.perf_counter() - began)
            if done.returncode != 0:
                results.append({"stack": stack, "error": done.stderr.strip()[-300:]})
                break
        else:
            results.append({"stack": stack, "runs": repetitions, "median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds)})
        log(f"program: synth --stack {stack}: {results[-1].get('median_s', 0):.2f}s")
    return results


def rendered() -> tuple[dict[str, str], dict[str, dict], dict]:
    """The dev stack's files (plus the rule files only prod renders), its dashboards, its global intervals."""
    from dashboards import build_dashboards
    from synthesis.run import synth

    result = synth("dev")
    prometheus = yaml.safe_load(result.files["prometheus/prometheus.yml"])["global"]
    # The rule files only prod renders (kubernetes.yml) are timed too, so the table lists every group the
    # stack ships; the dataset holds no Kubernetes series, so they measure the rule manager's floor.
    prod_only = {key: text for key, text in synth("prod").files.items() if key.startswith("prometheus/rules/") and key not in result.files}
    return {**result.files, **prod_only}, build_dashboards(result.settings), prometheus


def bench_queries(dataset: Dataset, workdir: Path, repetitions: int, baseline_ref: str) -> dict:
    files, dashboards, prometheus = rendered()
    baseline = None
    if baseline_ref:
        baseline = rule_files_at(baseline_ref)
        baseline.update({key: text for key, text in rule_files_at(baseline_ref, "prod").items() if key not in baseline})
    result = tsdb.run(
        workdir / "tsdb",
        dataset,
        files,
        dashboards,
        prometheus["scrape_interval"],
        prometheus["evaluation_interval"],
        repetitions,
        log,
        baseline_files=baseline,
    )
    return {**result, **({"baseline_ref": baseline_ref} if baseline_ref else {})}


def bench_scaling(args: argparse.Namespace, workdir: Path) -> dict:
    files, dashboards, prometheus = rendered()
    fleet = tuple(int(size) for size in args.fleet.split(","))
    return scaling.run(
        workdir / "scaling",
        fleet,
        args.fleet_hours,
        args.endpoints,
        files,
        dashboards,
        prometheus["scrape_interval"],
        prometheus["evaluation_interval"],
        repetitions=3 if args.quick else 5,
        memory_floor_gib=args.memory_floor_gib,
        log=log,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(DEFAULT_PARTS), help=f"comma-separated subset of {', '.join(PARTS)} (default {','.join(DEFAULT_PARTS)})")
    parser.add_argument("--quick", action="store_true", help="small dataset, one latency trial, fewer repetitions")
    parser.add_argument("--trials", type=int, help="latency trials per configuration (default 4, quick 1)")
    parser.add_argument("--instances", type=int, help="API instances in the dataset (default 100: ~100k series)")
    parser.add_argument("--endpoints", type=int, default=40, help="API endpoints (series per instance grow with them)")
    parser.add_argument("--hours", type=float, help="dataset length (default 6)")
    parser.add_argument("--baseline-ref", default=DEFAULT_REF, help=f"commit whose rules are measured beside this tree's (default {DEFAULT_REF}; '' for none)")
    parser.add_argument("--fleet", help="API instances per fleet size of the scaling part (default 10,100,300; quick 5,10)")
    parser.add_argument("--fleet-hours", type=float, help=f"dataset length of each fleet size (default {scaling.HOURS:g}; quick 1)")
    parser.add_argument("--memory-floor-gib", type=float, default=3.0, help="the memory guard stops a fleet size when less than this is available")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    args.fleet = args.fleet or ("5,10" if args.quick else ",".join(map(str, scaling.FLEET)))
    args.fleet_hours = args.fleet_hours or (1.0 if args.quick else scaling.HOURS)
    if os.geteuid() != 0:
        parser.error("needs root: the stacks run in private mount and network namespaces")
    missing = [tool for tool in NEEDED + (backups.NEEDED if "backups" in parts else ()) if shutil.which(tool) is None]
    if missing:
        parser.error(f"missing {', '.join(missing)}: run scripts/setup.sh (or bench/run.sh)")

    dataset = Dataset(instances=args.instances or (10 if args.quick else 100), endpoints=args.endpoints, hours=args.hours or (2 if args.quick else 6))
    results: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "command": " ".join(["venv/bin/python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])]),
    }
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ngx-bench-") as scratch, PrivateNetwork():
        workdir = Path(scratch)
        if "program" in parts:
            results["program"] = bench_program(1 if args.quick else 3)
        if "latency" in parts:
            results["latency"] = latency.run(workdir / "latency", args.trials or (1 if args.quick else 4), log)
        if "queries" in parts:
            # The raw panels are the heaviest queries of the run: the guard keeps them from taking the machine.
            with MemoryGuard(int(args.memory_floor_gib * GIB), log) as guard:
                try:
                    results["queries"] = bench_queries(dataset, workdir, 3 if args.quick else 7, args.baseline_ref)
                except Exception:
                    if not guard.tripped:
                        raise
                    results["queries_error"] = guard.tripped
        if "scaling" in parts:
            results["scaling"] = bench_scaling(args, workdir)
        if "backups" in parts:
            # bench.backups' own defaults (10 instances x 10 endpoints, 7 days), not the query dataset's size.
            results["backups"] = backups.run(
                workdir / "backups", Dataset(instances=5 if args.quick else 10, endpoints=10, hours=24 * 7), 7, 1 if args.quick else 3, log
            )
    results["seconds"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(tables(results))
    if "latency" in results or "queries" in results:
        print("\nTargets\n")
        print(targets_markdown(results))
    # Drawn from the JSON as written (json.loads), so they match a later `bench/charts.py <json>` byte for byte.
    drawn = charts.write(json.loads(args.out.read_text()), args.out.parent)
    shown = lambda path: path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # noqa: E731
    print(f"\nwritten to {shown(args.out)} in {results['seconds']:.0f}s" + "".join(f"\ncharts: {shown(path)}" for path in drawn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
