"""The shape of what a service runs, independent of the backend: ServiceSpec and its parts (probe,
mounts, scheduled runs, reloader sidecar). components/specs.py fills them in for each service; the
Docker and Kubernetes components consume them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.file_layout import FILE_CHANGES, RELOAD, RESTART
from topology import Port


@dataclass(frozen=True)
class Probe:
    port: str  # topology port name
    http_path: str | None = None  # HTTP GET on an unauthenticated endpoint
    command: tuple[str, ...] | None = None  # exec, for endpoints behind TLS and basic auth


@dataclass(frozen=True)
class HostMount:
    host_path: str
    container_path: str  # always mounted read-only


@dataclass(frozen=True)
class DataMount:
    """Another service's data volume, as a job reads it: on Kubernetes the claim of one replica."""

    service: str
    replica: int
    path: str  # where it appears in the job's container
    writable: bool = False


@dataclass(frozen=True)
class JobStep:
    """One container of a run, in order: on Kubernetes every step but the last is an init container of
    the run's pod; on Docker each is a container that scripts/backup-dev.sh starts after the one before.
    All steps of a run share its stage directory (ServiceSpec.stage_dir)."""

    name: str  # "stage", "restic", "report": names the container
    image: str
    args: tuple[str, ...]  # the whole command line
    user: tuple[int, int] | None = None  # (uid, gid); None: the run's
    env: tuple[tuple[str, str], ...] = ()  # never a credential: a path to one at most
    repository: bool = False  # mounts the repository volume (ServiceSpec.repository_dir), where there is one
    data_read_only: bool = False  # mounts the run's data read-only even where the run may write it


@dataclass(frozen=True)
class JobRun:
    """One scheduled run of a job spec: a CronJob on Kubernetes, containers that are started on demand
    on Docker. Its steps that touch the data run as the user that owns it, so they never need more rights."""

    name: str  # "prometheus-0": names its CronJob / containers
    steps: tuple[JobStep, ...]
    uid: int
    gid: int
    data: tuple[DataMount, ...]
    cron: str | None = None  # its own schedule, instead of the spec's

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"{self.name}: a run needs at least one step")

    @property
    def colocated_with(self) -> DataMount | None:
        """The replica whose volume it reads: on Kubernetes a ReadWriteOnce claim is only mountable on
        that replica's node, so the run's pod must be scheduled there. None: it reads no data volume."""
        return self.data[0] if self.data else None


@dataclass(frozen=True)
class Schedule:
    cron: str  # five fields, UTC
    start_deadline_seconds: int  # a run not started within this is skipped
    run_deadline_seconds: int  # a run taking longer is stopped and fails
    retries: int  # failed attempts retried within one scheduled run
    history: int  # finished runs kept (with their logs)
    final_exit_codes: tuple[int, ...] = ()  # exit codes that fail the run without a retry


@dataclass(frozen=True)
class Reloader:
    """A sidecar in the service's own image, user and process namespace that tells the service to
    re-read its files when those in `watched_dirs` change (renderers/reloader.py says why a signal)."""

    command: tuple[str, ...]  # the whole command line
    watched_dirs: tuple[str, ...]  # file directories (file_layout.mount_roots) it reads, mounted read-only
    probe_command: tuple[str, ...]  # succeeds while it can signal the service
    memory: str = "16Mi"  # a shell loop hashing a few kilobytes every 30 s
    cpu: str = "10m"


@dataclass(frozen=True)
class Sidecar:
    """A second server of the service: a container in its pod on Kubernetes; on Docker a container of
    its own, in its own network namespace, named `<service>-<port>` (addresses.second_server_name), on
    the networks where the service's clients reach that port (topology.Service.extra_scrapes). The
    service's image and user; only the host mounts it names."""

    args: tuple[str, ...]
    port: str  # topology port name it listens on
    probe: Probe  # on `port`
    host_mounts: tuple[HostMount, ...]  # a subset of the service's, read-only
    memory: str
    cpu: str

    @property
    def name(self) -> str:
        """Its container's name in the pod, and the suffix of its name on Docker: its port's name, one
        name for both, so the Docker host name Prometheus scrapes and the container cannot disagree."""
        return self.port


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    args: tuple[str, ...]
    env: Mapping[str, str]  # never a credential: those are secret_files
    config_files: Mapping[str, str]  # in-container path -> text
    secret_files: Mapping[str, pulumi.Output[str]]  # in-container path -> Output secret
    uid: int
    gid: int
    replicas: int
    memory: str
    cpu: str
    probe: Probe | None  # None only for a scheduled job: it serves nothing
    data_dir: str | None = None
    storage_size: str | None = None
    scratch_dirs: tuple[str, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()
    supplemental_groups: tuple[int, ...] = ()
    # Per-replica environment a backend fills in (e.g. Prometheus's replica label).
    replica_env: str | None = None
    # Environment variable that holds the pod's IP (Kubernetes downward API), for args that name it.
    pod_ip_env: str | None = None
    # Kubernetes: environment variable that holds the name of the pod's node (downward API), for a
    # DaemonSet that discovers only its own node's pods (Alloy).
    node_name_env: str | None = None
    # A job rather than a server: it runs `runs` on this schedule and exits.
    schedule: Schedule | None = None
    runs: tuple[JobRun, ...] = ()
    stage_dir: str | None = None  # the scratch directory a run's steps share
    repository_dir: str | None = None  # where the job's one repository volume is mounted (steps with `repository`)
    repository_size: str | None = None  # its size; None: no volume (the repository is elsewhere)
    # What a changed file does to the running service: RELOAD (picked up in place) or RESTART
    # (components/file_layout.py).
    file_change: str = RESTART
    reloader: Reloader | None = None  # RELOAD without a reload of its own: the sidecar that triggers it
    sidecar: Sidecar | None = None  # a second server beside it (node-exporter's netdev exporter)
    # Ports its replicas talk to each other on, opened only while it runs as a cluster (topology.ports_of).
    cluster_ports: tuple[Port, ...] = ()
    # Kubernetes: spread replicas over zones too (topology.kubernetes.io/zone), not only over nodes.
    zone_spread: bool = False
    # Kubernetes: what binds the pod to a cloud identity (workload identity): ServiceAccount
    # annotations and pod labels, as (key, value) pairs.
    service_account_annotations: tuple[tuple[str, str], ...] = ()
    pod_labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.file_change not in FILE_CHANGES:
            raise ValueError(f"{self.name}: file_change must be one of {', '.join(FILE_CHANGES)}, not {self.file_change!r}")
        if self.sidecar is not None and not set(self.sidecar.host_mounts) <= set(self.host_mounts):
            raise ValueError(f"{self.name}: a sidecar may only mount host paths the service mounts")
        if self.reloader is not None and self.file_change != RELOAD:
            raise ValueError(f"{self.name}: a reloader only makes sense for a service whose files reload in place")

    @property
    def stateful(self) -> bool:
        return self.data_dir is not None

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None
