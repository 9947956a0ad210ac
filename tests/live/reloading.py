"""How the live harness runs the reload mechanism the program renders (renderers/reloader.py).

Alertmanager: exactly the rendered sidecar. Alertmanager runs as PID 1 of its own PID namespace (the
sandbox's `pid_namespace`, like Docker's `pid: container:<alertmanager>` and close to Kubernetes'
shareProcessNamespace), and the spec's reloader command runs unchanged inside that PID and mount
namespace (`nsenter`), so `pidof` sees only that Alertmanager and the watched directories are the
files the process reads. One difference: the process name argument becomes Debian's binary name
(`prometheus-alertmanager`) instead of the image's `alertmanager`.

Prometheus: Debian's 2.42 has no `auto-reload-config` feature (Prometheus 3.0+), so the harness drops
the two flags (`prometheus_reload_flags`) and `PrometheusAutoReload` does what 3.5 does
(config/reload.go and cmd/prometheus/main.go at v3.5.0): every interval of the rendered flag, a
SHA-256 over prometheus.yml and over every file each `rule_files` pattern globs (name and content);
when it differs from the last successfully loaded one, the same reload as SIGHUP. A reload that
fails is retried on every tick, and the checksum is kept only once
`prometheus_config_last_reload_successful` says it loaded. With a 3.x binary nothing is emulated.
"""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from components.service_spec import ServiceSpec
from renderers.reloader import RELOAD_FLAG_PREFIXES

RELOADED_PROCESS_ARG = 4  # index of the process name in reloader_command's argv


def interval_seconds(args: list[str] | tuple[str, ...]) -> float:
    flag = next(arg for arg in args if arg.startswith("--config.auto-reload-interval="))
    return float(flag.split("=", 1)[1].removesuffix("s"))


def without_reload_flags(args: list[str]) -> list[str]:
    return [arg for arg in args if not arg.startswith(RELOAD_FLAG_PREFIXES)]


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def namespaced_server_pid(unshare_pid: int, timeout: float = 10.0) -> int:
    """The server behind `unshare --fork` (PID 1 of the new PID namespace), as the host numbers it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = _children(unshare_pid)
        if children:
            return children[0]
        time.sleep(0.05)
    raise RuntimeError(f"unshare {unshare_pid} started no server within {timeout}s")


def start_time(pid: int) -> int:
    """Clock ticks after boot at which `pid` started: equal only for the same process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def start_reloader(spec: ServiceSpec, server_pid: int, process_name: str, log: Path) -> subprocess.Popen:
    """The spec's reloader sidecar, in the server's PID and mount namespaces."""
    command = list(spec.reloader.command)
    command[RELOADED_PROCESS_ARG] = process_name
    argv = ["nsenter", f"--target={server_pid}", "--pid", "--mount", "--", *command]
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


class PrometheusAutoReload(threading.Thread):
    """Prometheus 3.5's config auto-reload, for a 2.x process (module docstring)."""

    def __init__(self, pid: int, config_file: str, interval: float, loaded: Callable[[], bool]) -> None:
        super().__init__(name=f"auto-reload-{pid}", daemon=True)
        self.pid, self.config_file, self.interval, self.loaded = pid, config_file, interval, loaded
        self._stop_event = threading.Event()
        self.applied = self.checksum()  # what the process loaded at start
        self.reloads = 0

    def _view(self, path: str) -> str:
        return f"/proc/{self.pid}/root{path}"

    def checksum(self) -> str:
        digest = hashlib.sha256()
        config = Path(self._view(self.config_file)).read_bytes()
        digest.update(config)
        try:
            patterns = (yaml.safe_load(config) or {}).get("rule_files") or []
        except yaml.YAMLError:
            patterns = []  # Prometheus hashes the bytes alone too, and the reload reports the error
        root = os.path.dirname(self.config_file)
        for pattern in patterns:
            absolute = pattern if pattern.startswith("/") else f"{root}/{pattern}"
            for match in sorted(glob.glob(self._view(absolute))):
                digest.update(match.encode())
                digest.update(Path(match).read_bytes())
        return digest.hexdigest()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                current = self.checksum()
                if current == self.applied:
                    continue
                os.kill(self.pid, signal.SIGHUP)
                self.reloads += 1
                time.sleep(1)  # the reload runs in the process; its outcome is the metric
                if self.loaded():
                    self.applied = current
            except (OSError, ValueError):
                return  # the process is gone

    def stop(self) -> None:
        self._stop_event.set()
