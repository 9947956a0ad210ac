"""A memory guard for the benchmark: the machine must stay usable while a large TSDB is queried.

The fleet-size part loads up to ~300k series; one query that reads far more than planned (or another
program on the machine) could take all of the memory, and the kernel's OOM killer would then pick any
process. The guard watches the machine's available memory (/proc/meminfo MemAvailable) twice a second
and, when it falls under the floor, kills the benchmark's own Prometheus (and nothing else), so the
run reports the fleet size as stopped instead of taking the machine down. Before a fleet size starts,
`enough_for` refuses it when the memory the previous size used, scaled by series, would not fit.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from bench.prometheus_server import BenchPrometheus

GIB = 1 << 30


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable")


class MemoryGuard:
    """`with MemoryGuard(floor): ...`; `tripped` says why it stopped Prometheus (None: it did not)."""

    def __init__(self, floor_bytes: int, log=print, interval: float = 0.5) -> None:
        self.floor, self.log, self.interval = floor_bytes, log, interval
        self.tripped: str | None = None
        self.lowest = available_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="memory-guard", daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            available = available_bytes()
            self.lowest = min(self.lowest, available)
            if available < self.floor and BenchPrometheus.running:
                self.tripped = f"stopped by the memory guard: {available / GIB:.1f} GiB available, under the {self.floor / GIB:g} GiB floor"
                self.log(f"memory guard: {self.tripped}; killing the benchmark Prometheus")
                for pid in list(BenchPrometheus.running):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def __enter__(self) -> MemoryGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def enough_for(series: int, measured: list[tuple[int, int]], floor_bytes: int) -> str | None:
    """None when `series` should fit, else why not: the largest (series, bytes used) measured so far,
    scaled linearly, must leave the floor free."""
    if not measured:
        return None
    known_series, used = max(measured)
    needed = used * series / max(known_series, 1)
    available = available_bytes()
    if available - needed < floor_bytes:
        return f"skipped: about {needed / GIB:.1f} GiB needed (scaled from {known_series:,} series), {available / GIB:.1f} GiB available, {floor_bytes / GIB:g} GiB floor"
    return None
