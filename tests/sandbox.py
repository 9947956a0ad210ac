"""Run a real tool on rendered files at the paths they name, without touching the host.

Rendered configs name in-container paths (/etc/prometheus/..., /etc/ngx/tls/...) and service host
names (prometheus, alertmanager, ...). Instead of rewriting them into a twin, a command runs in a
private mount namespace (`unshare -m`, root only) where an overlay on /etc holds the files and a
private /etc/hosts maps the service names to loopback addresses. Writes land in the overlay's upper
directory under the test's tmp dir; the host's /etc is never changed.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Mapping


class Sandbox:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.stage = workdir / "stage"
        self.upper = workdir / "upper"
        self.work = workdir / "work"
        for path in (self.stage, self.upper, self.work):
            path.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, str] = {}

    def put(self, path: str, content: str | bytes, mode: int = 0o644) -> Path:
        """Place a file at absolute `path` (must be under /etc) inside the sandbox."""
        if not path.startswith("/etc/"):
            raise ValueError(f"{path}: only /etc is overlaid")
        target = self.stage / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(mode)
        return target

    def put_all(self, files: Mapping[str, str]) -> None:
        for path, content in files.items():
            self.put(path, content)

    def command(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0 or not shutil.which("unshare"):
            raise RuntimeError("the sandbox needs root and unshare(1): run the tests as root (CI does)")
        hosts = "".join(f"{ip} {name}\n" for name, ip in sorted(self.hosts.items()))
        script = "\n".join([
            "set -e",
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={shlex.quote(str(self.upper))},workdir={shlex.quote(str(self.work))} /etc",
            f"cp -a {shlex.quote(str(self.stage / 'etc'))}/. /etc/ 2>/dev/null || true",
            f"printf '127.0.0.1 localhost\\n%s' {shlex.quote(hosts)} > /etc/hosts",
            "exec " + " ".join(shlex.quote(arg) for arg in argv),
        ])
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]

    def run(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout)
