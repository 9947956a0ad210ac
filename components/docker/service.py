"""One service of the topology as Docker resources: its pinned image, its protected data volume, its
files (see files.py) and its hardened container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

import addresses
from components import TYPE_PREFIX
from components.docker import health
from components.docker.files import ServiceFiles, load_files
from components.docker.hardening import RESTART, STOP_GRACE_SECONDS, TMPFS_OPTIONS, base_hardening, container_labels, cpu_limit, memory_mb, volume_labels
from components.labels import service_labels
from components.service_spec import ServiceSpec
from renderers.reloader import RELOADER_NAME

# Label holding the IDs of the containers this one must be replaced with (a changed label replaces it).
RESTART_WITH_LABEL = "ngx.restart-with"
# Where the application is reached when it runs on the host rather than on a Docker network.
HOST_GATEWAY = docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")


@dataclass(frozen=True)
class PublishedPort:
    container_port: int
    host_port: int
    host_ip: str


@dataclass(frozen=True)
class DockerServiceArgs:
    spec: ServiceSpec
    networks: Sequence[pulumi.Input[str]]  # names of the networks to join
    # Those the spec's second server (ServiceSpec.sidecar) joins: where its port's clients are (networks.port_networks).
    sidecar_networks: Sequence[pulumi.Input[str]] = ()
    published: Sequence[PublishedPort] = ()  # only the entry point publishes anything
    reach_host: bool = False  # resolve host.docker.internal to the host gateway (the app runs on the host)
    start_after: Sequence[DockerService] = ()  # created once these are healthy
    # Replaced whenever one of these containers is: for nginx, which resolves upstream names once at start.
    restart_with: Sequence[DockerService] = ()

    def __post_init__(self) -> None:
        if self.spec.sidecar is not None and not self.sidecar_networks:
            # With no network Docker would put it on its default bridge, open to every container.
            raise ValueError(f"{self.spec.name}: its second server needs the networks of its port's clients (sidecar_networks)")


class DockerService(pulumi.ComponentResource):
    """Image, data volume, files and hardened container of one service.

    `container` is named after the topology service (so is its host name): that is how the other
    services reach it. `ready` resolves to the container's name once the container is created, which
    with `wait` is once Docker reports it healthy.
    """

    def __init__(self, name: str, args: DockerServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerService", name, None, opts)
        spec = args.spec
        if spec.replicas != 1:
            # Settings refuse more than one replica on Docker; a spec that gets here is a programming error.
            raise ValueError(f"{spec.name}: the Docker backend runs one container per service, not {spec.replicas}")
        self.service = spec.name

        self.image = docker.RemoteImage(f"{name}-image", name=spec.image, opts=pulumi.ResourceOptions(parent=self))

        mounts: list[docker.ContainerMountArgs] = []
        self.data_volume: docker.Volume | None = None
        if spec.data_dir is not None:
            self.data_volume = docker.Volume(
                f"{name}-data",
                # From the component's name only: no setting, image or version reaches an input of the
                # volume, so no ordinary change can ask Docker to replace it.
                name=f"{name}-data",
                labels=volume_labels(service_labels(spec.name)),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=True,
                    retain_on_delete=True,
                    # A Docker volume's labels cannot change in place: a relabel must never replace data.
                    ignore_changes=["labels"],
                ),
            )
            mounts.append(docker.ContainerMountArgs(type="volume", source=self.data_volume.name, target=spec.data_dir))

        labels: dict[str, pulumi.Input[str]] = dict(service_labels(spec.name, spec.image))
        files = load_files(name, spec, self.image.image_id, parent=self)
        self.files_loader: docker.Container | None = files.loader if files else None
        if files is not None:
            mounts += [docker.ContainerMountArgs(type="volume", source=source, target=target, read_only=True) for target, source in files.mounts]
            labels.update(files.labels(spec))
        if args.restart_with:
            labels[RESTART_WITH_LABEL] = pulumi.Output.all(*(other.container.id for other in args.restart_with)).apply(",".join)
        mounts += [docker.ContainerMountArgs(type="bind", source=mount.host_path, target=mount.container_path, read_only=True) for mount in spec.host_mounts]

        test = health.healthcheck_test(spec)
        envs = {**spec.env, **({spec.replica_env: f"{spec.name}-0"} if spec.replica_env else {})}
        self.container = docker.Container(
            f"{name}-container",
            name=spec.name,
            hostname=spec.name,
            image=self.image.image_id,  # the pulled image by ID: a re-tagged image cannot slip in
            command=list(spec.args) or None,
            envs=[f"{key}={value}" for key, value in sorted(envs.items())] or None,
            mounts=mounts or None,
            tmpfs={path: TMPFS_OPTIONS for path in spec.scratch_dirs} or None,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network) for network in args.networks],
            hosts=[HOST_GATEWAY] if args.reach_host else None,
            ports=[docker.ContainerPortArgs(internal=port.container_port, external=port.host_port, ip=port.host_ip, protocol="tcp") for port in args.published]
            or None,
            labels=container_labels(labels),
            read_only=True,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=test, interval=health.INTERVAL, timeout=health.TIMEOUT, retries=health.RETRIES, start_period=health.START_PERIOD
            )
            if test
            else None,
            # `wait` needs a health check: the exceptions in health.NO_HEALTHCHECK are created without it.
            wait=test is not None,
            wait_timeout=health.wait_timeout(spec.name) if test else None,
            restart=RESTART,
            destroy_grace_seconds=STOP_GRACE_SECONDS,
            **base_hardening(spec),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Its first files must be in place before it starts (later ones reach it in place).
                depends_on=[service.container for service in args.start_after] + ([files.loader] if files else []),
                # The name is fixed (it is the service's address), so a replacement must remove the old
                # container before it creates the new one.
                delete_before_replace=True,
            ),
        )
        self.sidecar: docker.Container | None = None
        if spec.sidecar is not None:
            self.sidecar = self._sidecar(name, spec, args.sidecar_networks)
        self.reloader: docker.Container | None = None
        if spec.reloader is not None and files is not None:
            self.reloader = self._reloader(name, spec, files)
        self.ready: pulumi.Output[str] = pulumi.Output.all(self.container.id, self.container.name).apply(lambda values: values[1])
        self.register_outputs({"container": self.container.name, "image": self.image.name})

    def _sidecar(self, name: str, spec: ServiceSpec, networks: Sequence[pulumi.Input[str]]) -> docker.Container:
        """The spec's second server (ServiceSpec.sidecar) as a container of its own, named and reached
        as addresses.second_server_name says, on `networks` only; only the host paths it names, read-only.

        Not in the service container's network namespace (`network_mode=container:<id>`, as in a pod):
        when the service's container restarts (an OOM kill, a crash) Docker gives it a new namespace and
        a container that joined the old one stays there with only `lo` for good, healthy on 127.0.0.1
        and unreachable (docker/for-linux#1299). It reads the host's /proc whatever namespace it is in."""
        sidecar = spec.sidecar
        hardening = {**base_hardening(spec), "memory": memory_mb(sidecar.memory), "cpus": cpu_limit(sidecar.cpu)}
        test = health.sidecar_healthcheck_test(spec)
        host = addresses.second_server_name(spec.name, sidecar.port)
        return docker.Container(
            f"{name}-{sidecar.name}",
            name=host,
            hostname=host,
            image=self.image.image_id,
            command=list(sidecar.args),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network) for network in networks],
            mounts=[
                docker.ContainerMountArgs(type="bind", source=mount.host_path, target=mount.container_path, read_only=True) for mount in sidecar.host_mounts
            ],
            labels=container_labels(service_labels(spec.name, spec.image)),
            read_only=True,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=test, interval=health.INTERVAL, timeout=health.TIMEOUT, retries=health.RETRIES, start_period=health.START_PERIOD
            ),
            wait=True,
            wait_timeout=health.wait_timeout(spec.name),
            restart=RESTART,
            destroy_grace_seconds=STOP_GRACE_SECONDS,
            **hardening,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _reloader(self, name: str, spec: ServiceSpec, files: ServiceFiles) -> docker.Container:
        """The spec's reloader (renderers/reloader.py): the service's image and user, in the service
        container's PID namespace (`container:<id>`: a replaced service gets a new reloader with it),
        its watched directories read-only, no network, no capability."""
        reloader = spec.reloader
        command = list(reloader.command)
        hardening = {**base_hardening(spec), "memory": memory_mb(reloader.memory), "cpus": cpu_limit(reloader.cpu)}
        return docker.Container(
            f"{name}-reloader",
            name=f"{spec.name}-{RELOADER_NAME}",
            image=self.image.image_id,
            entrypoints=command[:1],
            command=command[1:],
            pid_mode=self.container.id.apply(lambda container_id: f"container:{container_id}"),
            network_mode="none",
            mounts=[
                docker.ContainerMountArgs(type="volume", source=source, target=target, read_only=True)
                for target, source in files.mounts
                if target in reloader.watched_dirs
            ],
            labels=container_labels(service_labels(spec.name, spec.image)),
            read_only=True,
            # If the service's process exits, the kernel ends every process of its PID namespace, this
            # one included; the engine restarts it into the service's new namespace.
            restart=RESTART,
            **hardening,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
