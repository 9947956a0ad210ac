"""A Prometheus TSDB that grows by one day of data per daily backup, and the snapshot each backup reads.

Each day's data (bench/dataset.py, 2h windows turned into blocks by `promtool tsdb create-blocks-from
openmetrics`) is moved into the data directory of a real Prometheus (Debian's 2.42) running with the
retention of the stack being modelled and its default block ranges (2h, 6h, 18h, 54h for 30d: at most a
tenth of the retention). Prometheus loads the new blocks and compacts them with its own planner, which
leaves the newest block alone and rewrites older ones into larger blocks; the blocks it has finished
stay byte for byte the same from then on. Then the day's snapshot is taken as ops/backup.py takes it:
POST /api/v1/admin/tsdb/snapshot?skip_head=false, a directory of hard links under snapshots/.

The values vary from step to step and from series to series (VariedWriter): bench/dataset.py gives
every API instance the same traffic, byte for byte, which a compressor with a window as long as
restic's zstd finds and shrinks tenfold, a gain no real fleet would give it.

The head is empty (nothing is scraped): the newest data is in 2h blocks rather than in the head, which
a real snapshot writes out as one more block of the same data. Prometheus looks for new blocks only
once a minute, so each day takes at least that long; the next day's blocks are written meanwhile.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.backfill import BLOCK
from bench.dataset import Dataset, Writer, _labels
from bench.prometheus_server import stop_process
from tests.live.clients import wait_until

DAY = 86400
SETTLE_TIMEOUT = 300.0  # Prometheus reloads blocks every minute; compacting a day takes seconds more
QUIET = 5.0  # seconds without a compaction, a reload or a block being written: the planner is done


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SnapshotPrometheus:
    """Debian's Prometheus on the growing TSDB: its own compaction planner, the admin API for snapshots."""

    def __init__(self, workdir: Path, data: Path, retention: str) -> None:
        self.workdir, self.data, self.retention = workdir, data, retention
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 15s\n")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # Block ranges follow from the retention, as in the stack (no min/max-block-duration flags).
                f"--storage.tsdb.retention.time={self.retention}",
                "--web.enable-admin-api",
            ],
            stdout=(self.workdir / "prometheus.log").open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: self._request("GET", "/-/ready")[0] == 200, 120, interval=0.5, what="Prometheus ready")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(urllib.request.Request(self.url + path, method=method), timeout=600) as reply:
            return reply.status, reply.read()

    def value(self, name: str) -> float:
        for line in self._request("GET", "/metrics")[1].decode().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        raise RuntimeError(f"Prometheus exposes no {name}")

    def _state(self) -> tuple[float, ...]:
        return tuple(self.value(name) for name in ("prometheus_tsdb_compactions_total", "prometheus_tsdb_reloads_total", "prometheus_tsdb_blocks_loaded"))

    def settle_after_new_blocks(self, triggered_before: float) -> None:
        """Wait for the reload that finds the new blocks and the compactions that follow it."""
        wait_until(
            lambda: self.value("prometheus_tsdb_compactions_triggered_total") > triggered_before,
            SETTLE_TIMEOUT,
            interval=1,
            what="Prometheus to load the new blocks",
        )
        deadline, last, quiet_since = time.monotonic() + SETTLE_TIMEOUT, None, time.monotonic()
        while time.monotonic() < deadline:
            now = (self._state(), sorted(path.name for path in self.data.glob("*.tmp-for-creation")))
            if now != last or now[1]:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Prometheus kept compacting for {SETTLE_TIMEOUT:g}s; see {self.workdir / 'prometheus.log'}")

    def snapshot(self) -> Path:
        """The admin API's snapshot, head included, as ops/backup.py requests it."""
        status, body = self._request("POST", "/api/v1/admin/tsdb/snapshot?skip_head=false")
        name = json.loads(body)["data"]["name"]
        return self.data / "snapshots" / name


class VariedWriter(Writer):
    """bench/dataset.py's window, with every counter's and histogram's increments scaled by a random
    factor (0.5-1.5) per step and per series, and each series' value carried from one window to the
    next in `carried` (so windows must be written in order, which `grow` does)."""

    def __init__(self, dataset: Dataset, start: int, end: int, series_start: int, carried: dict) -> None:
        super().__init__(dataset, start, end, series_start)
        self.carried, self.noise = carried, random.Random(f"{dataset.seed}-{start}")

    def _factors(self) -> list[float]:
        return [0.5 + self.noise.random() for _ in self.times]

    def _counter(self, out: list[str], name: str, labels: str, per_step: float, kind: str = "plain") -> None:
        factor = 30 if kind == "error" else 1  # errors x30 during the incident, as in bench/dataset.py
        acc = self.carried.get(name + labels, 0.0)
        for t, swing, incident, jitter in zip(self.times, self.swing, self.incident, self._factors(), strict=True):
            acc += per_step * swing * (factor if incident else 1) * jitter
            out.append(f"{name}{labels} {int(acc)} {t}\n")
        self.carried[name + labels] = acc

    def _histogram(self, out: list[str], name: str, labels: dict, per_step: float, buckets: tuple[float, ...], median: float, slow_in_incident: bool) -> None:
        def shares(m: float) -> list[float]:  # bench/dataset.py's latency distribution with median m
            return [1.0 / (1.0 + (m / le) ** 3) for le in buckets] + [1.0]

        normal = shares(median)
        slow = shares(median * 4) if slow_in_incident else normal
        slow_mean = 4.4 if slow_in_incident else 1.1
        label_texts = [_labels(**labels, le=le) for le in [*(f"{b:g}" for b in buckets), "+Inf"]]
        plain = _labels(**labels)
        cumulative, total = self.carried.get(name + plain, ([0.0] * len(normal), 0.0))
        cumulative, last = list(cumulative), len(normal) - 1
        for t, swing, incident, jitter in zip(self.times, self.swing, self.incident, self._factors(), strict=True):
            inc = per_step * swing * jitter
            current = slow if incident else normal
            total += inc * median * (slow_mean if incident else 1.1)
            for index, share in enumerate(current):
                cumulative[index] += inc * share
                out.append(f"{name}_bucket{label_texts[index]} {int(cumulative[index])} {t}\n")
            out.append(f"{name}_count{plain} {int(cumulative[last])} {t}\n")
            out.append(f"{name}_sum{plain} {total:.3f} {t}\n")
        self.carried[name + plain] = (cumulative, total)


def write_day(dataset: Dataset, start: int, day: int, stage: Path, carried: dict) -> dict:
    """Day `day` (0-based) of the dataset as 2h blocks in `stage` (promtool), one window at a time;
    `carried` holds every series' value at the end of the previous day."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    samples = 0
    for w_start in range(start + day * DAY, start + (day + 1) * DAY, BLOCK):
        window = stage / "window.om"
        samples += VariedWriter(dataset, w_start, w_start + BLOCK, start, carried).write(window)
        done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(window), str(stage)], capture_output=True, text=True, timeout=1800)
        window.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"promtool create-blocks-from openmetrics failed: {done.stderr[-500:]}")
    return {"samples": samples}


def _blocks(directory: Path) -> list[dict]:
    blocks = []
    for meta_file in sorted(directory.glob("*/meta.json")):
        meta = json.loads(meta_file.read_text())
        blocks.append(
            {
                "ulid": meta["ulid"],
                "hours": round((meta["maxTime"] - meta["minTime"]) / 3.6e6, 2),
                "level": meta["compaction"]["level"],
                "bytes": sum(path.stat().st_size for path in meta_file.parent.rglob("*") if path.is_file()),
            }
        )
    return blocks


def grow(workdir: Path, dataset: Dataset, days: int, retention: str, log=print) -> list[dict]:
    """Build the TSDB day by day; one snapshot per day: {day, path, bytes, files, blocks, samples}."""
    data, stages = workdir / "data", [workdir / "stage-a", workdir / "stage-b"]
    shutil.rmtree(workdir, ignore_errors=True)
    data.mkdir(parents=True)
    start = int(time.time()) // BLOCK * BLOCK - days * DAY
    prometheus = SnapshotPrometheus(workdir, data, retention)
    snapshots: list[dict] = []
    carried: dict = {}  # each series' value, from one day to the next (days are written in order)
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = writer.submit(write_day, dataset, start, 0, stages[0], carried)
        prometheus.start()
        try:
            for day in range(days):
                written, stage = pending.result(), stages[day % 2]
                triggered = prometheus.value("prometheus_tsdb_compactions_triggered_total")
                for block in sorted(path for path in stage.iterdir() if path.is_dir()):
                    block.rename(data / block.name)
                if day + 1 < days:  # the next day is written while Prometheus compacts this one
                    pending = writer.submit(write_day, dataset, start, day + 1, stages[(day + 1) % 2], carried)
                began = time.monotonic()
                prometheus.settle_after_new_blocks(triggered)
                path = prometheus.snapshot()
                files = [item for item in path.rglob("*") if item.is_file()]
                snapshots.append(
                    {
                        "day": day + 1,
                        "path": path,
                        "samples_added": written["samples"],
                        "bytes": sum(item.stat().st_size for item in files),
                        "files": len(files),
                        "blocks": _blocks(path),
                    }
                )
                log(
                    f"backups: day {day + 1}: {written['samples'] / 1e6:.1f}M samples added, compacted in {time.monotonic() - began:.0f}s; "
                    f"snapshot of {len(snapshots[-1]['blocks'])} blocks, {snapshots[-1]['bytes'] / 1e6:.1f} MB"
                )
        finally:
            prometheus.stop()
            pending.cancel()
    for stage in stages:
        shutil.rmtree(stage, ignore_errors=True)
    return snapshots
