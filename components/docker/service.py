"""One service of the topology as Docker resources: its image, its data volume, its files and its
hardened container.

Files (rendered configuration and credentials) reach the container through a *files loader*: a
container of the same image that is created and never started. The Docker provider uploads files by
extracting a tar archive at `/` of the container it creates, and the Docker engine refuses any such
extraction into a container whose root filesystem is read-only ("container rootfs is marked
read-only") unless `/` itself is a volume. So the running container, whose root filesystem is
read-only, cannot take uploads. The loader, which never runs a process, takes them instead: its
uploads land in small volumes mounted at the files' directories, and the running container mounts the
same volumes read-only. Secret content stays a Pulumi secret as the upload's content and is never an
environment variable.

Why this shape holds together:
- A files volume is new whenever its file list or the image changes (its Docker name carries a digest
  of both), so a removed rule file does not linger. When first mounted by the loader the empty volume
  receives the image's own files at that path (Docker copies them on container creation), so a
  directory such as /etc/nginx keeps what the image ships next to the files we add.
- Any change of content replaces the loader (uploads cannot be updated in place); the running
  container carries the loader's ID as a label, so it is replaced too and starts on the new files.
"""
from __future__ import annotations

import hashlib
import math
import posixpath
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components import TYPE_PREFIX
from components.kubernetes.labels import service_labels
from components.specs import ServiceSpec
from settings.validators import volume_size_bytes
from topology import (ALLOY, GRAFANA, LOKI, NODE_EXPORTER, PROMETHEUS, PROXY, PROXY_EXPORTER,
                      REDIS_EXPORTER, SERVICES)

MIB = 1024 * 1024

# Label that ties a running container to the loader of its files (see the module docstring).
FILES_LOADER_LABEL = "ngx-monitoring/files-loader"

RESTART = "unless-stopped"
NO_NEW_PRIVILEGES = "no-new-privileges:true"
DROP_ALL = ("ALL",)
# The engine's own json-file driver, capped so a chatty service cannot fill the host's disk:
# at most 3 files of 10 MB per container.
LOG_DRIVER = "json-file"
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
# Scratch space on tmpfs counts against the container's memory limit; no service needs more here.
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"
# Removal stops the container with SIGTERM first (the provider's default is an immediate kill), so
# Prometheus, Loki and Alertmanager can close their WAL and snapshots cleanly before they go.
STOP_GRACE_SECONDS = 60

# Health check timing: a check every 10 s, failing after 3 misses in a row; the first 30 s after a
# start do not count, which covers Grafana's database migrations and Loki's ring start-up.
HEALTH_INTERVAL = "10s"
HEALTH_TIMEOUT = "5s"
HEALTH_RETRIES = 3
HEALTH_START_PERIOD = "30s"
# How long `pulumi up` waits for a new container to report healthy before it fails the update.
WAIT_TIMEOUT_SECONDS = 120
SLOW_START_SECONDS = {
    PROMETHEUS: 600,  # replays its WAL on every start; minutes on a full volume
    LOKI: 300,  # replays its WAL and joins its in-memory ring
}


# How each pinned image can call its own HTTP endpoint. Checked against the images' Dockerfiles:
def _wget(url: str) -> list[str]:
    # prom/node-exporter (busybox base) and nginx-unprivileged (Alpine) ship busybox wget.
    return ["CMD", "wget", "-q", "-T", "5", "-O", "/dev/null", url]


def _busybox_wget(url: str) -> list[str]:
    # grafana/loki 3.x is distroless static:debug: busybox lives under /busybox, not in /bin.
    return ["CMD", "/busybox/wget", "-q", "-T", "5", "-O", "/dev/null", url]


def _curl(url: str) -> list[str]:
    # grafana/grafana installs curl in both its Alpine and Ubuntu variants.
    return ["CMD", "curl", "-fsS", "--max-time", "5", "-o", "/dev/null", url]


def _bash_http(url: str) -> list[str]:
    # grafana/alloy is Ubuntu with neither wget nor (in every release) curl, but with bash: a plain
    # HTTP/1.0 request over bash's /dev/tcp, healthy on a 200 status line.
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    request = f"GET /{path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n"
    return ["CMD", "bash", "-c",
            f"exec 3<>/dev/tcp/{host}/{port} && printf '{request}' >&3 && head -n 1 <&3 | grep -q ' 200 '"]


HTTP_PROBE_CLIENTS: dict[str, Callable[[str], list[str]]] = {
    GRAFANA: _curl,
    LOKI: _busybox_wget,
    ALLOY: _bash_http,
    NODE_EXPORTER: _wget,
    PROXY: _wget,
}

# Hardening exceptions: services whose image cannot run any health check.
NO_HEALTHCHECK: dict[str, str] = {
    REDIS_EXPORTER: "oliver006/redis_exporter is FROM scratch: no shell or HTTP client, and the binary has no "
                    "health subcommand. Docker restarts it if it exits; Prometheus alerts when its scrape fails.",
    PROXY_EXPORTER: "nginx/nginx-prometheus-exporter is FROM scratch: no shell or HTTP client, and the binary "
                    "has no health subcommand. Docker restarts it if it exits; Prometheus alerts when its scrape fails.",
}
# Note: Docker's restart policy acts on a process that exits, never on an `unhealthy` status; for
# the services with a health check the status gates `pulumi up` (`wait`) and shows in `docker ps`.


def memory_mb(quantity: str) -> int:
    """A Kubernetes memory quantity (`512Mi`, `2Gi`, `500M`) as the whole MiB Docker's `memory` takes,
    rounded up so the limit is never below the one the Kubernetes backend sets."""
    return math.ceil(volume_size_bytes(quantity) / MIB)


def cpu_limit(quantity: str) -> str:
    """A Kubernetes CPU quantity (`500m`, `1`, `1.5`) as Docker's `cpus` (`0.5`, `1`, `1.5`)."""
    try:
        cores = Decimal(quantity[:-1]) / 1000 if quantity.endswith("m") else Decimal(quantity)
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a CPU quantity; write it like 500m or 1") from None
    if cores <= 0:
        raise ValueError(f"{quantity!r} is not a CPU quantity above zero")
    return format(cores.normalize(), "f")


def mount_roots(paths: Sequence[str]) -> list[str]:
    """The fewest directories that hold every file: each file's directory, minus those inside another."""
    directories = sorted({posixpath.dirname(path) for path in paths})
    roots: list[str] = []
    for directory in directories:
        if not any(directory == root or directory.startswith(f"{root}/") for root in roots):
            roots.append(directory)
    return roots


def healthcheck_test(spec: ServiceSpec) -> list[str] | None:
    """The health check command of a service's container, or None for a documented exception."""
    if spec.probe.command:
        # Prometheus and Alertmanager answer only TLS with basic auth, so the probe is their own
        # client (promtool / amtool, both in the image) with the probe user's credentials.
        return ["CMD", *spec.probe.command]
    if spec.name in NO_HEALTHCHECK:
        return None
    client = HTTP_PROBE_CLIENTS.get(spec.name)
    if client is None:
        raise KeyError(f"{spec.name}: no known HTTP client in its image; add one to HTTP_PROBE_CLIENTS or a "
                       "documented exception to NO_HEALTHCHECK")
    port = SERVICES[spec.name].port(spec.probe.port).number
    # 127.0.0.1 rather than localhost: Alpine resolves localhost to ::1 first, where nothing listens.
    return client(f"http://127.0.0.1:{port}{spec.probe.http_path}")


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace(".", "-") or "root"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class PublishedPort:
    container_port: int
    host_port: int
    host_ip: str


@dataclass(frozen=True)
class DockerServiceArgs:
    spec: ServiceSpec
    networks: Sequence[pulumi.Input[str]]  # names of the networks to join, in order
    published: Sequence[PublishedPort] = ()  # only the entry point publishes anything
    reach_host: bool = False  # resolve host.docker.internal to the host gateway (the app runs on the host)
    start_after: Sequence["DockerService"] = field(default_factory=tuple)  # created once these are healthy


class DockerService(pulumi.ComponentResource):
    """Image, data volume, files and hardened container of one service.

    `container` is named after the topology service (and so is its host name), which is how the other
    services reach it. `ready` resolves to the container's name once the container exists; with `wait`
    that is after Docker reports it healthy.
    """

    def __init__(self, name: str, args: DockerServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerService", name, None, opts)
        spec = args.spec
        if spec.replicas != 1:
            # Settings refuse more than one replica on Docker; a spec that gets here is a programming error.
            raise ValueError(f"{spec.name}: the Docker backend runs one container per service, not {spec.replicas}")
        child = pulumi.ResourceOptions(parent=self)
        self.service = spec.name
        labels = service_labels(spec.name, spec.image)

        self.image = docker.RemoteImage(f"{name}-image", name=spec.image, opts=child)

        self.data_volume: docker.Volume | None = None
        mounts: list[docker.ContainerMountArgs] = []
        if spec.data_dir is not None:
            self.data_volume = docker.Volume(
                f"{name}-data",
                # Derived from the component's name only: no setting, image or version reaches an
                # input of the volume, so no ordinary change can ask Docker to replace it.
                name=f"{name}-data",
                labels=_volume_labels(service_labels(spec.name)),
                opts=pulumi.ResourceOptions(
                    parent=self, protect=True, retain_on_delete=True,
                    # Labels of a Docker volume cannot change in place; a relabel must never replace data.
                    ignore_changes=["labels"],
                ),
            )
            mounts.append(docker.ContainerMountArgs(type="volume", source=self.data_volume.name, target=spec.data_dir))

        self.files_loader: docker.Container | None = None
        files_mounts = self._files(name, spec)
        mounts += [docker.ContainerMountArgs(type="volume", source=source, target=target, read_only=True)
                   for target, source in files_mounts]
        mounts += [docker.ContainerMountArgs(type="bind", source=mount.host_path, target=mount.container_path, read_only=True)
                   for mount in spec.host_mounts]

        container_labels = dict(labels)
        if self.files_loader is not None:
            container_labels[FILES_LOADER_LABEL] = self.files_loader.id
        test = healthcheck_test(spec)
        envs = {**spec.env, **({spec.replica_env: f"{spec.name}-0"} if spec.replica_env else {})}
        self.container = docker.Container(
            f"{name}-container",
            name=spec.name,
            hostname=spec.name,
            image=self.image.image_id,
            command=list(spec.args) or None,
            envs=[f"{key}={value}" for key, value in sorted(envs.items())] or None,
            mounts=mounts or None,
            tmpfs={path: TMPFS_OPTIONS for path in spec.scratch_dirs} or None,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network) for network in args.networks],
            hosts=[docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")] if args.reach_host else None,
            ports=[docker.ContainerPortArgs(internal=port.container_port, external=port.host_port, ip=port.host_ip, protocol="tcp")
                   for port in args.published] or None,
            labels=_container_labels(container_labels),
            read_only=True,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=test, interval=HEALTH_INTERVAL, timeout=HEALTH_TIMEOUT, retries=HEALTH_RETRIES,
                start_period=HEALTH_START_PERIOD) if test else None,
            # `wait` needs a health check; the exceptions in NO_HEALTHCHECK are created without waiting.
            wait=test is not None,
            wait_timeout=SLOW_START_SECONDS.get(spec.name, WAIT_TIMEOUT_SECONDS) if test else None,
            restart=RESTART,
            destroy_grace_seconds=STOP_GRACE_SECONDS,
            **_hardening(spec),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[service.container for service in args.start_after],
                # The container's name is fixed (it is the service's address), so a replacement must
                # remove the old container before it creates the new one.
                delete_before_replace=True,
            ),
        )
        self.ready: pulumi.Output[str] = pulumi.Output.all(self.container.id, self.container.name).apply(lambda values: values[1])
        self.register_outputs({"container": self.container.name, "image": self.image.name})

    def _files(self, name: str, spec: ServiceSpec) -> list[tuple[str, pulumi.Input[str]]]:
        """Creates the files volumes and their loader; returns (directory, volume name) to mount."""
        paths = sorted({*spec.config_files, *spec.secret_files})
        if not paths:
            return []
        roots = mount_roots(paths)
        volumes: dict[str, docker.Volume] = {}
        for root in roots:
            inside = [path for path in paths if path.startswith(f"{root}/")]
            volumes[root] = docker.Volume(
                f"{name}-files-{_slug(root)}",
                # New file list or new image -> new volume, so nothing stale survives (see module docstring).
                name=f"{name}-files-{_slug(root)}-{_digest(spec.image, *inside)}",
                labels=_volume_labels(service_labels(spec.name)),
                opts=pulumi.ResourceOptions(parent=self),
            )
        uploads = [
            docker.ContainerUploadArgs(file=path, content=text, permissions="0444")
            for path, text in sorted(spec.config_files.items())
        ] + [
            # Readable by the service's user only; the content stays an Output secret.
            docker.ContainerUploadArgs(file=path, content=value, owner=str(spec.uid), group=str(spec.gid), permissions="0440")
            for path, value in sorted(spec.secret_files.items())
        ]
        self.files_loader = docker.Container(
            f"{name}-files",
            name=f"{name}-files",
            image=self.image.image_id,
            # Created to receive the uploads, never started: it runs no process and joins no network.
            start=False,
            must_run=False,
            network_mode="none",
            mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target=root) for root, volume in volumes.items()],
            uploads=uploads,
            labels=_container_labels(service_labels(spec.name, spec.image)),
            # Hardening exception: the provider extracts uploads at `/`, which the engine refuses on a
            # read-only root filesystem. Nothing ever runs in this container.
            read_only=False,
            **_hardening(spec),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return [(root, volume.name) for root, volume in volumes.items()]


def _hardening(spec: ServiceSpec) -> dict[str, object]:
    """What every container of the stack gets, running or not."""
    return {
        "user": f"{spec.uid}:{spec.gid}",
        "capabilities": docker.ContainerCapabilitiesArgs(drops=list(DROP_ALL)),
        "security_opts": [NO_NEW_PRIVILEGES],
        "privileged": False,
        "memory": memory_mb(spec.memory),
        "cpus": cpu_limit(spec.cpu),
        "log_driver": LOG_DRIVER,
        "log_opts": dict(LOG_OPTS),
    }


def _container_labels(labels: Mapping[str, pulumi.Input[str]]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())]


def _volume_labels(labels: Mapping[str, str]) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label=key, value=value) for key, value in sorted(labels.items())]
