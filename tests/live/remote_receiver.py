"""A second real Prometheus (Debian's 2.42) as the long-term store a stack remote-writes to.

It accepts writes (`--web.enable-remote-write-receiver`) over TLS from the stack's throwaway CA with
basic auth, as a hosted store would, at the host name the stack's remoteWrite URL names (the stack's
private /etc/hosts maps it to RECEIVER_HOST of the stack's block). It scrapes nothing: every series in
it came through remote write. `stop` and `start` keep its data directory, as a store's restart would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlparse

import bcrypt
import yaml

from settings.remote_write import RemoteWriteEndpoint
from tests.live.clients import Endpoint, PrometheusAPI, wait_until

RECEIVER_HOST = 31  # host part of the receiver's address in the stack's 127.0.<n>.0/24
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


class RemoteWriteReceiver:
    def __init__(self, endpoint: RemoteWriteEndpoint, password: str, ip: str, ca, workdir: Path) -> None:
        url = urlparse(endpoint.url)
        self.host, self.port, self.ip = url.hostname, url.port or 443, ip
        self.username, self.password = endpoint.username, password
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        leaf = ca.issue("remote-write-receiver", [self.host])
        (workdir / "tls.crt").write_text(leaf.cert)
        (workdir / "tls.key").write_text(leaf.key)
        users = {self.username: bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}
        web = {"tls_server_config": {"cert_file": str(workdir / "tls.crt"), "key_file": str(workdir / "tls.key")}, "basic_auth_users": users}
        (workdir / "web.yml").write_text(yaml.safe_dump(web))
        (workdir / "prometheus.yml").write_text("global: {}\n")  # scrapes nothing
        self.ca_file = str(ca.dir / "ca.crt")
        self.popen: subprocess.Popen | None = None

    @property
    def api(self) -> PrometheusAPI:
        return PrometheusAPI(Endpoint(self.ip, self.port, name=self.host, ca_file=self.ca_file, auth=(self.username, self.password)))

    def start(self) -> RemoteWriteReceiver:
        argv = [
            "prometheus",
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--web.config.file={self.workdir / 'web.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.ip}:{self.port}",
            "--web.enable-remote-write-receiver",
        ]
        with (self.workdir / "process.log").open("ab") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._ready, START_TIMEOUT, interval=0.25, what=f"remote-write receiver on {self.ip}:{self.port}")
        return self

    def _ready(self) -> bool:
        if self.popen is None or self.popen.poll() is not None:
            raise RuntimeError(f"the receiver exited:\n{self.log_tail()}")
        return self.api.endpoint.get("/-/ready").status == 200

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT)

    def log_tail(self) -> str:
        try:
            return (self.workdir / "process.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""
