"""The benchmark Prometheus: Debian's Prometheus on the benchmark TSDB, plain HTTP on a loopback
address of a private network namespace, with no scrape jobs (TLS and auth are not measured here), and
the one query call every timing goes through.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import urllib.parse
from pathlib import Path

from tests.live.clients import wait_until

QUERY_TIMEOUT = 30.0  # per query; a raw panel that needs longer is reported as a timeout
IP = "127.0.120.2"
PORT = 9090


class BenchPrometheus:
    """Debian's Prometheus on the benchmark TSDB (no scrape jobs; TLS and auth are not measured here)."""

    # The process ids of the running benchmark Prometheus servers, for the memory guard (bench/memory_guard.py).
    running: set[int] = set()

    def __init__(self, workdir: Path, data: Path) -> None:
        self.workdir, self.data = workdir, data
        self.process: subprocess.Popen | None = None
        self.config = workdir / "bench-prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n")

    @property
    def url(self) -> str:
        return f"http://{IP}:{PORT}"

    def start(self, settle: bool = True) -> None:
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
        BenchPrometheus.running.add(self.process.pid)
        wait_until(lambda: self._get("/-/ready")[0] == 200, 300, interval=1, what="benchmark Prometheus ready")
        if settle:
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
        if self.process:
            BenchPrometheus.running.discard(self.process.pid)
            stop_process(self.process)

    def restart(self, settle: bool = True) -> None:
        self.stop()
        self.start(settle)

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

    def rss_bytes(self) -> int:
        """The Prometheus process's resident memory (0 when it is not running)."""
        if not self.process or self.process.poll() is not None:
            return 0
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
        return int(line.split()[1]) * 1024

    def query(
        self, expr: str, at: float | None = None, start: float | None = None, end: float | None = None, step: float | None = None, stats: bool = False
    ) -> tuple[float, dict]:
        """(seconds, response) of one query, instant (at) or range (start, end, step). With `stats`, the
        response carries Prometheus' query statistics (`stats.samples.totalQueryableSamples`: samples
        read from storage; `stats.timings.evalTotalTime`: time spent evaluating, without HTTP)."""
        if start is None:
            params = {"query": expr, "time": at, "timeout": f"{int(QUERY_TIMEOUT)}s"}
            path = "/api/v1/query"
        else:
            params = {"query": expr, "start": start, "end": end, "step": step, "timeout": f"{int(QUERY_TIMEOUT)}s"}
            path = "/api/v1/query_range"
        if stats:
            params["stats"] = "all"
        began = time.perf_counter()
        status, body = self._get(f"{path}?{urllib.parse.urlencode(params)}")
        took = time.perf_counter() - began
        document = json.loads(body)
        if status != 200 or document.get("status") != "success":
            raise RuntimeError(f"{document.get('errorType', status)}: {document.get('error', '')[:160]}")
        return took, document["data"]


def stop_process(process: subprocess.Popen) -> None:
    """Stop a benchmark's Prometheus: SIGTERM (it closes its head cleanly), SIGKILL after a minute."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
