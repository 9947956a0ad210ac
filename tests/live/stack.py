"""The rendered stack as real processes on loopback: one `LiveStack` per test scenario.

Each service runs the real binary (Debian's Prometheus, Alertmanager, nginx, exporters) with the
arguments and files of its spec (tests/live/deployment.py), in a private mount namespace (tests/sandbox.py)
where the files sit at their in-container paths and a private /etc/hosts maps every service name to
that service's own loopback address. A stack owns the block 127.0.<index>.0/24, so several stacks run
side by side without sharing a port.

What cannot be the same outside containers, and is changed, nothing else (DIFFERENCES lists it too):
- listen addresses: `:PORT` (all interfaces of the container's own network) becomes `<service IP>:PORT`,
  in the flags that set it and in nginx's `listen` directives;
- data directories (spec.data_dir) are private directories under the test's tmp dir;
- host mounts: a path under a HostMount's container path is the host path itself (node-exporter's /host/proc);
  node-exporter's sidecar (its netdev exporter) runs beside it, at the same address, which the sidecar's
  own host name on Docker (node-exporter-netdev, addresses.extra_scrape_hosts) maps to as well;
- scratch directories (spec.scratch_dirs, e.g. nginx's /tmp) get a private tmpfs;
- certificates are issued by a throwaway CA, for the DNS names the program requests;
- the trust store (/etc/ssl/certs/ca-certificates.crt) holds that CA only, and /etc/resolv.conf names an
  address where nothing listens, so the receivers' real host names resolve to the sink only;
- Prometheus 2.x (Debian) needs --enable-feature=expand-external-labels for ${PROMETHEUS_REPLICA}, which
  the pinned 3.x image expands by default; the replica variable gets the value a backend would give;
- Prometheus 2.x has no config auto-reload: its two flags are dropped and the harness does what 3.5
  does, SIGHUP on a changed checksum (tests/live/reloading.py);
- Alertmanager runs as PID 1 of its own PID namespace with the rendered reloader sidecar beside it,
  which names Debian's binary instead of the image's (tests/live/reloading.py);
- processes run as root (the images' users need files owned for them, which is the backend's job).
Grafana, Loki and Alloy have no Debian package and are not run: `NOT_RUN` names them and the tests
assert that their targets are down, not up.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import addresses
from renderers import auth, paths
from renderers.nginx import CONFIG_FILE as NGINX_CONFIG
from tests.certs import ThrowawayCA
from tests.live.clients import AlertmanagerAPI, Endpoint, PrometheusAPI, wait_until
from tests.live.deployment import TLS_FILES, DeployedService, Deployment
from tests.live.reloading import PrometheusAutoReload, interval_seconds, namespaced_server_pid, start_reloader, without_reload_flags
from tests.live.remote_receiver import RECEIVER_HOST, RemoteWriteReceiver
from tests.live.simulator import Simulator
from tests.live.sink import Sink
from tests.sandbox import Sandbox
from topology import ALERTMANAGER, ALLOY, GRAFANA, LOKI, NODE_EXPORTER, PROMETHEUS, PROXY, PROXY_EXPORTER, REDIS_EXPORTER, SERVICES, services_on

DIFFERENCES = (
    "listen addresses bound to the service's loopback IP (flags and nginx `listen`)",
    "data directories in the test's tmp dir",
    "host mounts resolved to the host paths they mount",
    "a second server (node-exporter-netdev) at its service's address, its own host name mapped there",
    "scratch directories on a private tmpfs",
    "certificates from a throwaway CA for the DNS names the program requests",
    "trust store = that CA; resolv.conf = an address where nothing listens",
    "Prometheus 2.x: --enable-feature=expand-external-labels; PROMETHEUS_REPLICA=<service>-0",
    "Prometheus 2.x: auto-reload flags dropped, the harness reloads on a changed checksum as 3.5 does",
    "Alertmanager's reloader signals `prometheus-alertmanager`, Debian's binary name",
    "processes run as root",
)

# Host part of each service's address in the stack's 127.0.<index>.0/24; a service added to the
# topology later gets the next free number (40 and up), so its name resolves too.
_FIXED_HOSTS = {PROMETHEUS: 2, ALERTMANAGER: 3, GRAFANA: 4, LOKI: 5, ALLOY: 6, NODE_EXPORTER: 7, REDIS_EXPORTER: 8, PROXY: 9, PROXY_EXPORTER: 10}
HOST_NUMBERS = {**_FIXED_HOSTS, **{name: 40 + number for number, name in enumerate(sorted(set(SERVICES) - set(_FIXED_HOSTS)))}}
APP_HOST = 20  # "the host" of the Docker stack: the simulated API and the application's Redis
SINK_HOST = 30  # every receiver's host name
NO_RESOLVER_HOST = 254  # /etc/resolv.conf points here: nothing listens, so unknown names fail at once
PAGERDUTY_HOST = "events.pagerduty.com"  # Alertmanager's default PagerDuty Events v2 URL host

# Debian's binary of each service's image; the spec's arguments are passed to it unchanged.
BINARIES = {
    PROMETHEUS: "prometheus",
    ALERTMANAGER: "prometheus-alertmanager",
    NODE_EXPORTER: "prometheus-node-exporter",
    REDIS_EXPORTER: "prometheus-redis-exporter",
    PROXY: "nginx",
    PROXY_EXPORTER: "prometheus-nginx-exporter",
    "pushgateway": "prometheus-pushgateway",
}
# Services the harness does not run, and why; their scrape targets must be down, which the tests assert.
# The harness runs the dev (Docker) stack: Kubernetes-only services have no place in it at all.
NOT_RUN = {
    **{service: "no Debian package" for service in (GRAFANA, LOKI, ALLOY)},
    **{name: "runs on a schedule, not as a server" for name, service in services_on("docker").items() if getattr(service, "scheduled", False)},
    **{
        name: "no binary known to the live harness"
        for name, service in services_on("docker").items()
        if name not in BINARIES and name not in (GRAFANA, LOKI, ALLOY) and not getattr(service, "scheduled", False)
    },
}
# Dependencies first: nginx-prometheus-exporter gives up when nginx is not there at its start.
START_ORDER = tuple(name for name in (NODE_EXPORTER, REDIS_EXPORTER, "pushgateway", ALERTMANAGER, PROMETHEUS, PROXY, PROXY_EXPORTER) if name in SERVICES)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"
LOG_TAIL = 3000  # characters of a process's log shown when it fails


def missing_tools() -> list[str]:
    """Binaries the live tests need and this machine lacks (scripts/setup.sh installs them)."""
    needed = ["unshare", "nsenter", "openssl", "redis-server", *(BINARIES[service] for service in START_ORDER)]
    return [tool for tool in needed if shutil.which(tool) is None]


def _major_version(binary: str) -> int:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"version (\d+)\.", output.stdout + output.stderr)
    return int(match.group(1)) if match else 0


@dataclass
class Process:
    service: str
    popen: subprocess.Popen
    log: Path
    sandbox: Sandbox | None
    server_pid: int = 0  # the server itself (popen's child in a PID namespace); 0: popen.pid
    reloader: subprocess.Popen | None = None  # the rendered reloader sidecar, where the spec has one
    sidecar: subprocess.Popen | None = None  # the spec's second server (ServiceSpec.sidecar), where it has one
    auto_reload: PrometheusAutoReload | None = None  # Prometheus 3's auto-reload, for a 2.x binary

    @property
    def pid(self) -> int:
        return self.server_pid or self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return ""


class LiveStack:
    def __init__(self, deployment: Deployment, workdir: Path, index: int, name: str | None = None) -> None:
        if not 1 <= index <= 250:
            raise ValueError("a stack index must be 1..250 (it is the third octet of its loopback block)")
        self.name = name or f"stack {index}"  # in progress lines (tests/live/progress.py)
        self.deployment = deployment
        self.settings = deployment.settings
        self.workdir = workdir
        self.index = index
        self.prefix = f"127.0.{index}."
        self.processes: dict[str, Process] = {}
        self.fault_at: float | None = None  # when a scenario injected its fault (time.time())
        self.simulators: list[Simulator] = []
        self.sink: Sink | None = None
        self.redis: Process | None = None
        self.remote_receiver: RemoteWriteReceiver | None = None  # with prometheus.remoteWrite: the store
        self.ca = ThrowawayCA(workdir / "ca")
        self.ca_file = str(self.ca.dir / "ca.crt")
        self._certificates = {service: self.ca.issue(service, list(names)) for service, names in deployment.certificate_names.items()}
        self._prometheus_2 = _major_version(BINARIES[PROMETHEUS]) == 2

    # --- addresses ---------------------------------------------------------------------------------

    def ip(self, service: str) -> str:
        return f"{self.prefix}{HOST_NUMBERS[service]}"

    @property
    def app_ip(self) -> str:
        return f"{self.prefix}{APP_HOST}"

    @property
    def sink_ip(self) -> str:
        return f"{self.prefix}{SINK_HOST}"

    def app_endpoints(self) -> list[tuple[str, int]]:
        """(host name, port) of every API target and of Redis, as the settings name them."""
        targets = [target.rsplit(":", 1) for target in self.settings.app.targets]
        return [(host, int(port)) for host, port in targets]

    def receiver_hosts(self) -> list[str]:
        receivers = self.settings.receivers
        hosts = [PAGERDUTY_HOST]
        if receivers.slack:
            hosts.append(urlparse(receivers.slack.webhook_url.reveal()).hostname)
        if receivers.heartbeat:
            hosts.append(urlparse(receivers.heartbeat.url.reveal()).hostname)
        if receivers.email:
            hosts.append(receivers.email.smarthost.rsplit(":", 1)[0])
        return sorted(set(hosts))

    def hosts(self) -> dict[str, str]:
        """The private /etc/hosts of every process of this stack."""
        mapping = {name: self.ip(name) for name in HOST_NUMBERS}
        # A second server (ServiceSpec.sidecar) listens at its service's address here; on Docker it has
        # a name of its own (node-exporter-netdev), which Prometheus scrapes, so that name maps there too.
        for service in HOST_NUMBERS:
            for _, port in SERVICES[service].extra_scrapes:
                for host in addresses.extra_scrape_hosts(self.settings, service, port):
                    mapping.setdefault(host, self.ip(service))
        mapping[self.settings.domain] = self.ip(PROXY)
        for host, _ in self.app_endpoints():
            mapping[host] = self.app_ip
        mapping[self.settings.redis.address.rsplit(":", 1)[0]] = self.app_ip
        for host in self.receiver_hosts():
            mapping[host] = self.sink_ip
        # Every remote-write store is the stack's one receiver (tests/live/remote_receiver.py).
        for endpoint in self.settings.prometheus.remote_write:
            mapping[urlparse(endpoint.url).hostname] = f"{self.prefix}{RECEIVER_HOST}"
        return mapping

    # --- clients -----------------------------------------------------------------------------------

    def password(self, user: str) -> str:
        return self.deployment.passwords[user]

    def endpoint(self, service: str, port: str = "web", user: str | None = None) -> Endpoint:
        spec = SERVICES[service]
        # `scheme` is the service's main port's; the proxy's status port is plain HTTP.
        name = service if spec.scheme == "https" and port in ("web", "https") else None
        credentials = (user, self.password(user)) if user else None
        # Prometheus and Alertmanager serve everything under their route prefix, on their own port too.
        base = addresses.route_prefix(service) if port == "web" else ""
        return Endpoint(self.ip(service), spec.port(port).number, name=name, ca_file=self.ca_file if name else None, auth=credentials, base=base)

    @property
    def prometheus(self) -> PrometheusAPI:
        # Grafana's user: the tests read Prometheus as the dashboards do.
        return PrometheusAPI(self.endpoint(PROMETHEUS, user=auth.GRAFANA_USER))

    @property
    def alertmanager(self) -> AlertmanagerAPI:
        return AlertmanagerAPI(self.endpoint(ALERTMANAGER, user=auth.GRAFANA_USER))

    def proxy(self, user: str | None = None) -> Endpoint:
        """The stack's entry point, as a browser reaches it (https://<domain>)."""
        credentials = (user, self.password(user)) if user else None
        return Endpoint(self.ip(PROXY), SERVICES[PROXY].port("https").number, name=self.settings.domain, ca_file=self.ca_file, auth=credentials)

    @property
    def admin_user(self) -> str:
        return self.settings.proxy.admin_user

    # --- the application side: simulated API, its Redis, and the receivers' sink ---------------------

    def start_application(self) -> None:
        sink_names = self.receiver_hosts()
        leaf = self.ca.issue("sink", sink_names)
        (self.workdir / "sink").mkdir(exist_ok=True)
        cert, key = self.workdir / "sink" / "tls.crt", self.workdir / "sink" / "tls.key"
        cert.write_text(leaf.cert)
        key.write_text(leaf.key)
        self.sink = Sink(self.sink_ip, str(cert), str(key), name=self.name).start()
        for number, (_, port) in enumerate(self.app_endpoints()):
            simulator = Simulator(self.app_ip, port, self.workdir / "app-logs" / f"api-{number}.log")
            self.simulators.append(simulator.start())
        self._start_redis()

    def start_remote_receiver(self) -> None:
        """The store of the (first) remote-write endpoint, before Prometheus, so its first send succeeds."""
        endpoint = self.settings.prometheus.remote_write[0]
        password = endpoint.password.reveal() if endpoint.password else ""
        receiver = RemoteWriteReceiver(endpoint, password, f"{self.prefix}{RECEIVER_HOST}", self.ca, self.workdir / "remote-write-receiver")
        self.remote_receiver = receiver.start()

    @property
    def simulator(self) -> Simulator:
        return self.simulators[0]

    def _start_redis(self) -> None:
        port = int(self.settings.redis.address.rsplit(":", 1)[1])
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        log = data / "redis.log"
        argv = [
            "redis-server",
            "--bind",
            self.app_ip,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            # A cache with a memory limit, as the application's should be: the Overview's Redis memory
            # panel draws maxmemory (redis_memory_max_bytes > 0) beside what is used.
            "--maxmemory",
            "64mb",
            "--maxmemory-policy",
            "allkeys-lru",
            "--protected-mode",
            "no",
            "--dir",
            str(data),
            "--logfile",
            "",
        ]
        with log.open("ab") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.redis = Process("redis", popen, log, None)

        def pong() -> bool:
            with socket.create_connection((self.app_ip, port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")

        wait_until(pong, START_TIMEOUT, what=f"redis on {self.app_ip}:{port}")

    # --- the stack's services ----------------------------------------------------------------------

    def runnable(self) -> list[str]:
        """Services with a binary here, in start order; a missing binary is a failure, not a skip."""
        missing = [BINARIES[service] for service in START_ORDER if not shutil.which(BINARIES[service])]
        if missing:
            raise RuntimeError(f"missing {', '.join(missing)}: run scripts/setup.sh")
        return list(START_ORDER)

    def start(self, services: list[str] | None = None) -> LiveStack:
        if self.sink is None:
            self.start_application()
        if self.settings.prometheus.remote_write and self.remote_receiver is None:
            self.start_remote_receiver()
        for service in services or self.runnable():
            self.start_service(service)
        return self

    def _service(self, service: str) -> DeployedService:
        return self.deployment.services[service]

    def _data_dir(self, service: str) -> Path:
        path = self.workdir / service / "data"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _files(self, service: str) -> dict[str, str]:
        """The container's files, with the throwaway CA's certificates in place of the fake ones."""
        files = dict(self._service(service).files)
        for path in TLS_FILES:
            if path not in files:
                continue
            if path == paths.TLS_CA:
                files[path] = self.ca.ca_pem
            else:
                leaf = self._certificates[service]
                files[path] = leaf.cert if path == paths.TLS_CERT else leaf.key
        if service == PROXY:
            files[NGINX_CONFIG] = self._bind_nginx(files[NGINX_CONFIG], self.ip(PROXY))
        return files

    @staticmethod
    def _bind_nginx(text: str, ip: str) -> str:
        listen = re.compile(r"^(\s*listen\s+)(\d+)(\s|;)", re.MULTILINE)
        rewritten, count = listen.subn(lambda m: f"{m.group(1)}{ip}:{m.group(2)}{m.group(3)}", text)
        directives = len(re.findall(r"^\s*listen\s", text, re.MULTILINE))
        if count == 0 or count != directives:
            raise AssertionError(
                f"nginx.conf has {directives} listen directives, {count} of them bare ports; "
                "the harness only knows how to bind bare ports to a loopback address"
            )
        return rewritten

    def _argv(self, service: str) -> list[str]:
        spec = self._service(service).spec
        if service == PROXY:
            # The image's default command; -e keeps the pre-config error log off the host's /var/log.
            return [BINARIES[PROXY], "-e", "stderr", "-c", NGINX_CONFIG, "-g", "daemon off;"]
        args = self._mapped_args(service, spec.args)
        if service == PROMETHEUS and self._prometheus_2:
            args = [*without_reload_flags(args), "--enable-feature=expand-external-labels"]
        return [BINARIES[service], *args]

    def _sidecar_argv(self, service: str) -> list[str]:
        """The spec's second server (node-exporter's netdev exporter): the service's binary with the
        sidecar's arguments, mapped as the service's are (its /host/proc/1 is the host's /proc/1)."""
        return [BINARIES[service], *self._mapped_args(service, self._service(service).spec.sidecar.args)]

    def _mapped_args(self, service: str, given: tuple[str, ...]) -> list[str]:
        spec = self._service(service).spec
        args = []
        for arg in given:
            name, sep, value = arg.partition("=")
            if sep and name.endswith(("listen-address", "listen-addr")) and value:
                host, _, port = value.rpartition(":")
                if host in ("", "0.0.0.0", "[::]"):
                    value = f"{self.ip(service)}:{port}"
            # Storage flags only (--storage.path, --storage.tsdb.path): --web.route-prefix=/prometheus
            # is a URL path that happens to equal the data directory's.
            if sep and spec.data_dir and value == spec.data_dir and name.endswith(".path"):
                value = str(self._data_dir(service))
            for mount in spec.host_mounts:
                if sep and (value == mount.container_path or value.startswith(mount.container_path + "/")):
                    value = os.path.normpath(mount.host_path + value[len(mount.container_path) :])
            args.append(f"{name}={value}" if sep else arg)
        return args

    def _env(self, service: str) -> dict[str, str]:
        spec = self._service(service).spec
        env = dict(spec.env)
        if spec.replica_env:
            env[spec.replica_env] = f"{service}-0"
        return env

    def _sandbox(self, service: str) -> Sandbox:
        box = Sandbox(self.workdir / service / "sandbox")
        for path, content in self._files(service).items():
            box.put(path, content)
        box.put(TRUST_STORE, self.ca.ca_pem)
        box.hosts.update(self.hosts())
        box.resolv_conf = f"nameserver {self.prefix}{NO_RESOLVER_HOST}\noptions timeout:1 attempts:1\n"
        box.tmpfs = [path for path in self._service(service).spec.scratch_dirs if os.path.isdir(path)]
        box.pid_namespace = self._service(service).spec.reloader is not None
        return box

    def run_beside(self, service: str, argv: list[str]) -> subprocess.CompletedProcess:
        """Run `argv` as a second process of the service's container would: a fresh sandbox with the
        container's files at their paths and the stack's host names (a health check, for example)."""
        box = Sandbox(self.workdir / service / "beside")
        box.put_all(self._files(service))
        box.put(TRUST_STORE, self.ca.ca_pem)
        box.hosts.update(self.hosts())
        return box.run(argv)

    def start_service(self, service: str) -> Process:
        if service in self.processes and self.processes[service].alive():
            raise RuntimeError(f"{service} is already running")
        box = self._sandbox(service)
        log = self.workdir / service / "process.log"
        popen = box.popen(self._argv(service), log, env=self._env(service))
        process = Process(service, popen, log, box)
        if box.pid_namespace:
            process.server_pid = namespaced_server_pid(popen.pid)
        self.processes[service] = process
        try:
            wait_until(lambda: self._ready(process), START_TIMEOUT, interval=0.25, what=f"{self.name}: {service} ready")
        except TimeoutError as error:
            raise AssertionError(f"{service} did not become ready: {error}\n--- {log}:\n{process.log_tail()}") from None
        self._start_reloading(process)
        if self._service(service).spec.sidecar is not None:
            self._start_sidecar(process)
        return process

    def _start_sidecar(self, process: Process) -> None:
        """The second server of the service's pod, in a sandbox of its own like the service's, with its
        files and host names, listening on the service's address (as in a pod or in the container's
        network namespace); ready once its /metrics answers on its port."""
        service = process.service
        sidecar = self._service(service).spec.sidecar
        box = Sandbox(self.workdir / service / sidecar.name)
        box.put_all(self._files(service))
        box.hosts.update(self.hosts())
        log = self.workdir / service / f"{sidecar.name}.log"
        process.sidecar = box.popen(self._sidecar_argv(service), log)
        sidecar_process = Process(f"{service}-{sidecar.name}", process.sidecar, log, box)

        def ready() -> bool:
            if not sidecar_process.alive():
                raise RuntimeError(f"{sidecar_process.service} exited with {process.sidecar.returncode}:\n{sidecar_process.log_tail()}")
            return self.endpoint(service, port=sidecar.port).get("/metrics").status == 200

        wait_until(ready, START_TIMEOUT, interval=0.25, what=f"{self.name}: {sidecar_process.service} ready")

    def _start_reloading(self, process: Process) -> None:
        """What reloads the running server's files as the backends do (tests/live/reloading.py)."""
        spec = self._service(process.service).spec
        if spec.reloader is not None:
            process.reloader = start_reloader(spec, process.pid, BINARIES[process.service], self.workdir / process.service / "reloader.log")
        if process.service == PROMETHEUS and self._prometheus_2:
            config = next(arg for arg in spec.args if arg.startswith("--config.file=")).split("=", 1)[1]
            process.auto_reload = PrometheusAutoReload(process.pid, config, interval_seconds(spec.args), self._prometheus_loaded)
            process.auto_reload.start()

    def _prometheus_loaded(self) -> bool:
        """Prometheus's own `prometheus_config_last_reload_successful`, read from its /metrics."""
        body = self.endpoint(PROMETHEUS, user=auth.PROBE_USER).get("/metrics").body.decode()
        return "\nprometheus_config_last_reload_successful 1\n" in f"\n{body}"

    def _ready(self, process: Process) -> bool:
        if not process.alive():
            raise RuntimeError(f"{process.service} exited with {process.popen.returncode}:\n{process.log_tail()}")
        service = process.service
        if service in (PROMETHEUS, ALERTMANAGER):
            return self.endpoint(service, user=auth.PROBE_USER).get("/-/ready").status == 200
        if service == PROXY:
            return self.endpoint(PROXY, port="status").get("/healthz").status == 200
        return self.endpoint(service).get("/metrics").status == 200

    def stop_service(self, service: str) -> None:
        process = self.processes.get(service)
        if process is not None:
            if process.auto_reload is not None:
                process.auto_reload.stop()
            _terminate(process.popen, process.pid)
            if process.reloader is not None:
                _terminate(process.reloader)  # ended with its PID namespace already, as in a container
            if process.sidecar is not None:
                _terminate(process.sidecar)

    def restart_service(self, service: str) -> Process:
        self.stop_service(service)
        return self.start_service(service)

    def file_in(self, service: str, path: str) -> Path:
        """A file as the running `service` sees it: write here to change its config in place."""
        return Sandbox.path_in(self.processes[service].pid, path)

    def close(self) -> None:
        for service in reversed(list(self.processes)):
            self.stop_service(service)
        if self.redis is not None:
            _terminate(self.redis.popen)
        for simulator in self.simulators:
            simulator.stop()
        if self.sink is not None:
            self.sink.stop()
        if self.remote_receiver is not None:
            self.remote_receiver.stop()

    def __enter__(self) -> LiveStack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def logs(self) -> str:
        """Every process's log tail, for a failing assertion's message."""
        return "\n".join(f"--- {name}:\n{process.log_tail()}" for name, process in self.processes.items())


def _terminate(popen: subprocess.Popen, server_pid: int | None = None) -> None:
    """SIGTERM to the server (popen itself, or its child in a PID namespace), then SIGKILL to popen
    after STOP_TIMEOUT (in a PID namespace that ends the server too: --kill-child)."""
    if popen.poll() is not None:
        return
    try:
        os.kill(server_pid or popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        popen.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=STOP_TIMEOUT)
