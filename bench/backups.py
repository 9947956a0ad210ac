"""Daily backups of a growing Prometheus TSDB, today's tar.gz archives against restic: storage, time, restore.

Seven daily backups by default, each of a TSDB one day larger; the tar.gz archives are those of
ops/backup.py. Measured: storage used and time per backup, and the restore of the newest.

    venv/bin/python -m bench.backups                 # about 10 minutes on a quiet 2-core machine; writes bench/results/backups.json
    venv/bin/python -m bench.backups --trials 1 --instances 5    # smaller and quicker
    venv/bin/python -m bench.run --parts backups     # the same, as a part of the whole benchmark

1. The TSDB (bench/backup_tsdb.py): a real Prometheus gets one more day of the bench dataset per day,
   compacts it with its own planner (the block ranges of prod's retention) and the day's snapshot is
   taken through its admin API, as the backup job takes it.
2. Each trial backs up the seven snapshots in order, with a fresh archive directory and a fresh restic
   repository (bench/backup_methods.py): per day, the time of the backup, the bytes it added and what
   the backups occupy in all (the sum of the archives kept against the repository's size), retention
   applied after each (keep as prod's `backup.keep`: 7 keeps all seven).
3. Then each restores the newest backup into an empty directory, timed, and the restored tree must be
   the snapshot's, file for file (sha256): if not, the run stops with an error and writes nothing.

Trials alternate which of the two runs first each day. Prints the tables, writes the JSON and draws
bench-backups.png beside it (bench/backup_charts.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import backup_tsdb, charts
from bench.backup_methods import BenchError, Restic, TarGzArchives, disk_bytes, tree_digest
from bench.dataset import Dataset
from bench.report import backups_tables

ROOT = Path(__file__).resolve().parent.parent
NEEDED = ("prometheus", "promtool", "restic")
# A fixed clock for the backups' names and restic's snapshot times (one day apart); nothing is timed by it.
FIRST_BACKUP = 1_767_236_400  # 2026-01-01T03:00:00Z, the default schedule's hour


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def default_methods(scratch: Path, keep: int) -> list:
    return [TarGzArchives(scratch / "archives", keep), Restic(scratch / "repository", keep, scratch / "restic-cache")]


def _cpu() -> float:
    """CPU seconds of this process and its finished children (tar.gz runs here, restic in a child)."""
    now = os.times()
    return now.user + now.system + now.children_user + now.children_system


def _timed(action: Callable, *arguments) -> tuple:
    """(result, wall seconds, CPU seconds) of action(*arguments)."""
    began, cpu = time.perf_counter(), _cpu()
    result = action(*arguments)
    return result, time.perf_counter() - began, _cpu() - cpu


def measure(workdir: Path, snapshots: list[dict], trials: int, keep: int, methods=default_methods, log=log) -> list[dict]:
    """Every trial's figures (see the module docstring); raises BenchError when a restore differs."""
    expected = tree_digest(snapshots[-1]["path"])
    results = []
    for number in range(trials):
        scratch = workdir / f"trial-{number + 1}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        order = methods(scratch, keep)
        order = order if number % 2 == 0 else order[::-1]
        days = []
        for snapshot in snapshots:
            row: dict = {"day": snapshot["day"]}
            for method in order:
                before = disk_bytes(method.store)
                facts, seconds, cpu = _timed(method.backup, snapshot["path"], FIRST_BACKUP + 86400 * (snapshot["day"] - 1))
                _, prune_seconds, _ = _timed(method.prune)
                stored = disk_bytes(method.store)
                row[method.name] = {
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "prune_seconds": prune_seconds,
                    "bytes_added": stored - before,
                    "stored_bytes": stored,
                    **facts,
                }
            days.append(row)
            log(
                f"backups: trial {number + 1}, day {snapshot['day']}: "
                + "; ".join(
                    f"{m.name} {row[m.name]['seconds']:.1f}s, +{row[m.name]['bytes_added'] / 1e6:.1f} MB, {row[m.name]['stored_bytes'] / 1e6:.1f} MB stored"
                    for m in order
                )
            )
        restore = {}
        for method in order:
            root, seconds, cpu = _timed(method.restore_newest, scratch / f"restored-{method.name.replace('.', '-')}")
            got = tree_digest(root)
            if got != expected:
                raise BenchError(
                    f"{method.name}: the tree restored from the newest backup (trial {number + 1}) differs from the snapshot it was made of "
                    f"(sha256 {got[:16]}… != {expected[:16]}…); nothing is written"
                )
            restore[method.name] = {"seconds": seconds, "cpu_seconds": cpu, "restored_bytes": disk_bytes(root), "identical": True}
        log(
            "backups: trial {}: restore of the newest: {}".format(
                number + 1, "; ".join(f"{name} {r['seconds']:.1f}s, identical" for name, r in restore.items())
            )
        )
        results.append(
            {"trial": number + 1, "order": [m.name for m in order], "methods": {m.name: m.describe() for m in order}, "days": days, "restore": restore}
        )
        shutil.rmtree(scratch)
    return results


def run(workdir: Path, dataset: Dataset, days: int, trials: int, log=log) -> dict:
    from settings import parse

    prod = parse({"platform": "kubernetes"}, stack="prod")  # the retention and keep the comparison models
    retention, keep = prod.prometheus.retention_time, prod.backup.keep
    began = time.monotonic()
    log(f"backups: growing a TSDB of {dataset.total_series():,} series by one day per backup, {days} days, retention {retention}")
    snapshots = backup_tsdb.grow(workdir / "tsdb", dataset, days, retention, log)
    built = time.monotonic() - began
    figures = measure(workdir, snapshots, trials, keep, log=log)
    shutil.rmtree(workdir / "tsdb", ignore_errors=True)
    return {
        "dataset": {
            "instances": dataset.instances,
            "endpoints": dataset.endpoints,
            "step": dataset.step,
            "series": dataset.total_series(),
            "days": days,
            "retention": retention,
            "keep": keep,
            "tsdb_build_seconds": round(built, 1),
        },
        "tools": {"restic": Restic.version(), "prometheus": subprocess.run(["prometheus", "--version"], capture_output=True, text=True).stdout.splitlines()[0]},
        "snapshots": [{key: value for key, value in snapshot.items() if key != "path"} for snapshot in snapshots],
        "trials": figures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="backup sequences over the same seven snapshots (default 3)")
    parser.add_argument("--days", type=int, default=7, help="daily backups, one day of data each (default 7)")
    parser.add_argument("--instances", type=int, default=10, help="API instances in the dataset (default 10)")
    parser.add_argument("--endpoints", type=int, default=10, help="API endpoints per instance (default 10: about 330 series per instance)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "backups.json")
    args = parser.parse_args(argv)
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        parser.error(f"missing {', '.join(missing)}: `apt-get install prometheus restic` (Debian's; promtool comes with prometheus)")
    dataset = Dataset(instances=args.instances, endpoints=args.endpoints, hours=24 * args.days)
    results: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), "load_average_at_start": os.getloadavg()},
        "command": " ".join(["venv/bin/python", "-m", "bench.backups", *(argv if argv is not None else sys.argv[1:])]),
    }
    began = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ngx-bench-backups-") as scratch:
            results["backups"] = run(Path(scratch), dataset, args.days, args.trials)
    except BenchError as error:
        parser.exit(1, f"bench.backups: {error}\n")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["seconds"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(backups_tables(results))
    drawn = charts.write(json.loads(args.out.read_text()), args.out.parent)
    print(f"\nwritten to {args.out} in {results['seconds']:.0f}s" + "".join(f"\nchart: {path}" for path in drawn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
