"""Run a real tool on rendered files at the paths they name, without touching the host.

Rendered configs name in-container paths (/etc/prometheus/..., /etc/ngx/tls/...) and service host
names (prometheus, alertmanager, ...). Instead of rewriting them into a twin, a command runs in a
private mount namespace (`unshare -m`, root only) where an overlay on /etc holds the files and a
private /etc/hosts maps the service names to loopback addresses. Writes land in the overlay's upper
directory under the test's tmp dir; the host's /etc is never changed.

For long-running servers (tests/live) a sandbox can also stand in for the rest of a container:
`resolv_conf` (a private resolver, so a name missing from `hosts` never reaches a real DNS server),
`tmpfs` and `binds` (private scratch and data directories at their in-container paths, when those
paths exist on the host), `popen` for a server and `path_in` to reach a running server's files.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path


class Sandbox:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.stage = workdir / "stage"
        self.upper = workdir / "upper"
        self.work = workdir / "work"
        for path in (self.stage, self.upper, self.work):
            path.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, str] = {}
        self.resolv_conf: str | None = None  # replaces /etc/resolv.conf when set
        self.tmpfs: list[str] = []  # existing directories that get a private, empty tmpfs (mode 1777)
        self.binds: dict[str, Path] = {}  # existing in-namespace directory -> host directory mounted there
        # The command as PID 1 of its own PID namespace (with its own /proc), as a container runs:
        # `unshare --fork` is then the returned process and the server its child.
        self.pid_namespace = False

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
        lines = [
            "set -e",
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={shlex.quote(str(self.upper))},workdir={shlex.quote(str(self.work))} /etc",
            f"cp -a {shlex.quote(str(self.stage / 'etc'))}/. /etc/ 2>/dev/null || true",
            f"printf '127.0.0.1 localhost\\n%s' {shlex.quote(hosts)} > /etc/hosts",
        ]
        if self.resolv_conf is not None:
            # /etc/resolv.conf is often a symlink (systemd-resolved); replace the link, not its target.
            lines.append(f"rm -f /etc/resolv.conf && printf '%s' {shlex.quote(self.resolv_conf)} > /etc/resolv.conf")
        lines += [f"mount -t tmpfs -o mode=1777 tmpfs {shlex.quote(path)}" for path in self.tmpfs]
        lines += [f"mount --bind {shlex.quote(str(source))} {shlex.quote(path)}" for path, source in sorted(self.binds.items())]
        lines.append("exec " + " ".join(shlex.quote(arg) for arg in argv))
        pid = ["-p", "--fork", "--mount-proc", "--kill-child=KILL"] if self.pid_namespace else []
        return ["unshare", "-m", *pid, "--propagation", "private", "sh", "-c", "\n".join(lines)]

    def popen(self, argv: list[str], log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start a long-running `argv` in the sandbox, stdout and stderr appended to `log`.

        The shell execs the command, so the returned process is the server itself: signals sent to
        it (SIGHUP to reload, SIGTERM to stop) reach the server, not a wrapper. With `pid_namespace`
        it is `unshare`, which passes no signal on: signal its child (tests/live/reloading.py).
        """
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            return subprocess.Popen(
                self.command(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, start_new_session=True
            )

    @staticmethod
    def path_in(pid: int, path: str) -> Path:
        """`path` as the running process `pid` sees it (through its mount namespace), to read or
        replace a file while it runs, as an operator editing a mounted ConfigMap would."""
        return Path(f"/proc/{pid}/root") / path.lstrip("/")

    def run(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout)
