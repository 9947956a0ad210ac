"""Pod building blocks shared by the services' workloads (workload.py) and the job runs (job.py):
security contexts, resources, probes, environment, file/scratch/host mounts, the ConfigMaps and Secrets
that hold a spec's files, claim specs and (anti-)affinity. One place, so a service's pod and a job's
pod cannot drift apart in how they are hardened or how they read their files.

Files: one ConfigMap and/or Secret per file directory of the spec (components/file_layout.py), named
`<service>-<directory name>` and keyed by file name, and one volume per directory. A service whose
files reload (Prometheus, Alertmanager) mounts each directory whole, so the kubelet's updates reach
the running container and no pod template names a file's content. Any other service mounts its
files one by one with `subPath` at exactly their in-container paths (a directory mount would hide
what the image ships next to them, nginx's mime.types for one); subPath mounts never follow an
update, so its pod template carries a checksum of every file (`config_checksum`): a changed file
rolls its pods. The objects are updated in place (the provider's enableConfigMapMutable /
enableSecretMutable, provider.py), under names that never change.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import labels
from components.file_layout import RELOAD, RESTART, FileDirectory, file_directories
from components.service_spec import ServiceSpec

DATA_VOLUME = "data"
CHECKSUM_ANNOTATION = "checksum/config"
CONFIG_MODE = 0o444
# Owner and group (the pod's fsGroup) may read a credential; nobody else, and nobody may change it.
SECRET_MODE = 0o440
# A scratch directory larger than this is a runaway writer: the kubelet evicts the pod rather than
# letting it fill the node's disk.
SCRATCH_LIMIT = "1Gi"
# Replays of a large WAL (Prometheus), a TSDB head (Loki) or schema migrations (Grafana) can take
# minutes after a restart; the startup probe gives them 10 minutes before liveness may kill them.
STARTUP_PERIOD_SECONDS, STARTUP_FAILURES = 10, 60
# Set by the StatefulSet controller on every pod: the pod's own name (`prometheus-1`).
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def file_keys(paths: list[str]) -> dict[str, str]:
    """In-container path -> ConfigMap/Secret key (the file's name). Two files of one service with
    the same name would overwrite each other in the volume, so that is refused here."""
    keys: dict[str, str] = {}
    for path in sorted(paths):
        key = posixpath.basename(path)
        if key in keys.values():
            other = next(p for p, k in keys.items() if k == key)
            raise ValueError(f"{path} and {other} share the file name {key!r}; give them distinct names")
        keys[path] = key
    return keys


def config_checksum(config_files: Mapping[str, str], secret_files: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """sha256 over every file a pod reads. Computed inside `apply` for the secret files; the digest
    itself is not secret (it covers random passwords and private keys, so it cannot be inverted)."""
    secret_paths = sorted(secret_files)

    def digest(secret_values: list[str]) -> str:
        hasher = hashlib.sha256()
        for path, text in [*sorted(config_files.items()), *zip(secret_paths, secret_values, strict=False)]:
            hasher.update(path.encode() + b"\0" + text.encode() + b"\0")
        return hasher.hexdigest()

    return pulumi.Output.unsecret(pulumi.Output.all(*(secret_files[path] for path in secret_paths)).apply(digest))


def container_security_context(uid: int, gid: int) -> dict:
    """Pod Security `restricted` for one container (services and job runs alike)."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": gid,
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int, gid: int, supplemental_groups: tuple[int, ...] = ()) -> dict:
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": gid,
        # Volumes (claims, ConfigMaps, Secrets) are group-owned by the service's group, so a 0440
        # credential is readable by the service and nobody else; OnRootMismatch skips the recursive
        # chown of a large data volume on every start once it is right (a job run's source claim is
        # already owned by this group).
        "fs_group": gid,
        "fs_group_change_policy": "OnRootMismatch",
        "seccomp_profile": {"type": "RuntimeDefault"},
        # Alloy joins group 0 to read the kubelet's 0640 log files (host-access namespace only).
        **({"supplemental_groups": list(supplemental_groups)} if supplemental_groups else {}),
    }


def resources(spec: ServiceSpec) -> dict:
    """Requests equal limits: the scheduler reserves what the container may use (Guaranteed QoS, the
    last to be evicted under node pressure)."""
    return {"requests": {"cpu": spec.cpu, "memory": spec.memory}, "limits": {"cpu": spec.cpu, "memory": spec.memory}}


def _probe_action(spec: ServiceSpec) -> dict:
    probe = spec.probe
    if probe.http_path is not None:
        return {"http_get": {"path": probe.http_path, "port": probe.port, "scheme": "HTTP"}}
    if probe.command is not None:
        return {"exec": {"command": list(probe.command)}}
    raise ValueError(f"{spec.name}: the probe has neither an HTTP path nor a command")


def probes(spec: ServiceSpec) -> dict:
    action = _probe_action(spec)
    found = {
        # An exec probe runs a TLS client (promtool/amtool); 5s leaves room for the handshake on a busy node.
        "liveness_probe": {**action, "period_seconds": 10, "timeout_seconds": 5, "failure_threshold": 6},
        "readiness_probe": {**action, "period_seconds": 10, "timeout_seconds": 5, "failure_threshold": 3},
    }
    if spec.stateful:
        found["startup_probe"] = {**action, "period_seconds": STARTUP_PERIOD_SECONDS, "timeout_seconds": 5, "failure_threshold": STARTUP_FAILURES}
    return found


def env(spec: ServiceSpec) -> list[dict]:
    found: list[dict] = [{"name": key, "value": value} for key, value in sorted(spec.env.items())]
    if spec.replica_env:
        # Each replica's own pod name (prometheus-0, prometheus-1): a distinct `replica` external label.
        found.append({"name": spec.replica_env, "value_from": {"field_ref": {"field_path": "metadata.name"}}})
    if spec.pod_ip_env:
        found.append({"name": spec.pod_ip_env, "value_from": {"field_ref": {"field_path": "status.podIP"}}})
    if spec.node_name_env:
        found.append({"name": spec.node_name_env, "value_from": {"field_ref": {"field_path": "spec.nodeName"}}})
    return found


def spec_directories(spec: ServiceSpec) -> list[FileDirectory]:
    file_keys([*spec.config_files, *spec.secret_files])  # refuses two files of one name
    return file_directories(spec.name, spec.config_files, spec.secret_files)


def file_mounts(spec: ServiceSpec, only: tuple[str, ...] | None = None) -> list[dict]:
    """Read-only mounts of the spec's files: each directory whole when the spec's files reload, else one
    subPath mount per file at its in-container path. `only`: just these directories (a sidecar's)."""
    mounts: list[dict] = []
    for directory in spec_directories(spec):
        if only is not None and directory.path not in only:
            continue
        if spec.file_change == RELOAD:
            mounts.append({"name": directory.name, "mount_path": directory.path, "read_only": True})
            continue
        mounts += [
            {"name": directory.name, "mount_path": f"{directory.path}/{relative}", "sub_path": relative, "read_only": True}
            for relative in sorted([*directory.config, *directory.secret])
        ]
    return mounts


def scratch_volumes(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts) of the spec's scratch directories: size-limited emptyDirs."""
    volumes = [{"name": f"scratch-{index}", "empty_dir": {"size_limit": SCRATCH_LIMIT}} for index, _ in enumerate(spec.scratch_dirs)]
    mounts = [{"name": f"scratch-{index}", "mount_path": directory} for index, directory in enumerate(spec.scratch_dirs)]
    return volumes, mounts


def host_volumes(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts) of the spec's node paths, read-only."""
    # Type Directory: a missing node path fails the pod visibly instead of being created empty (as root).
    volumes = [{"name": f"host-{index}", "host_path": {"path": mount.host_path, "type": "Directory"}} for index, mount in enumerate(spec.host_mounts)]
    mounts = [{"name": f"host-{index}", "mount_path": mount.container_path, "read_only": True} for index, mount in enumerate(spec.host_mounts)]
    return volumes, mounts


def _items(files: dict) -> list[dict] | None:
    """Key (file name) -> path in the volume, only where a file sits in a subdirectory: the list is then
    the program's own file list, never a setting's (file_layout.py)."""
    if not any("/" in relative for relative in files):
        return None
    return [{"key": posixpath.basename(relative), "path": relative} for relative in sorted(files)]


def _volume_source(name_key: str, object_name: pulumi.Input[str], files: dict) -> dict:
    """`name_key`: `secret_name` in a secret volume, `name` everywhere else (projections too)."""
    items = _items(files)
    return {name_key: object_name, **({"items": items} if items else {})}


@dataclass(frozen=True)
class FileObjects:
    """The ConfigMap and/or Secret of each of a spec's file directories."""

    directories: list[FileDirectory]
    config_maps: dict[str, k8s.core.v1.ConfigMap]  # directory name -> its ConfigMap
    secrets: dict[str, k8s.core.v1.Secret]  # directory name -> its Secret

    def volumes(self, only: tuple[str, ...] | None = None) -> list[dict]:
        """One volume per directory, named after it: a configMap or secret volume, or a projected one
        where a directory holds both (config files and web.yml in /etc/prometheus)."""
        volumes: list[dict] = []
        for directory in self.directories:
            if only is not None and directory.path not in only:
                continue
            config_map, secret = self.config_maps.get(directory.name), self.secrets.get(directory.name)
            if config_map is not None and secret is not None:
                volumes.append(
                    {
                        "name": directory.name,
                        "projected": {
                            "default_mode": SECRET_MODE,
                            "sources": [
                                {"config_map": _volume_source("name", config_map.metadata.name, dict(directory.config))},
                                {"secret": _volume_source("name", secret.metadata.name, dict(directory.secret))},
                            ],
                        },
                    }
                )
            elif config_map is not None:
                volumes.append(
                    {
                        "name": directory.name,
                        "config_map": {**_volume_source("name", config_map.metadata.name, dict(directory.config)), "default_mode": CONFIG_MODE},
                    }
                )
            else:
                volumes.append(
                    {
                        "name": directory.name,
                        "secret": {**_volume_source("secret_name", secret.metadata.name, dict(directory.secret)), "default_mode": SECRET_MODE},
                    }
                )
        return volumes


def create_file_objects(name: str, spec: ServiceSpec, namespace: pulumi.Input[str], parent: pulumi.Resource) -> FileObjects:
    """`<service>-<directory name>` (a ConfigMap and a Secret may share it), keyed by file name."""
    child = pulumi.ResourceOptions(parent=parent)

    def metadata(object_name: str) -> dict:
        return {"name": object_name, "namespace": namespace, "labels": labels.service_labels(spec.name)}

    directories = spec_directories(spec)
    config_maps: dict[str, k8s.core.v1.ConfigMap] = {}
    secrets: dict[str, k8s.core.v1.Secret] = {}
    for directory in directories:
        object_name = f"{spec.name}-{directory.name}"
        if directory.config:
            config_maps[directory.name] = k8s.core.v1.ConfigMap(
                f"{name}-{directory.name}-configmap",
                metadata=metadata(object_name),
                data={posixpath.basename(relative): text for relative, text in directory.config.items()},
                opts=child,
            )
        if directory.secret:
            secrets[directory.name] = k8s.core.v1.Secret(
                f"{name}-{directory.name}-secret",
                metadata=metadata(object_name),
                type="Opaque",
                string_data={posixpath.basename(relative): value for relative, value in directory.secret.items()},
                opts=child,
            )
    return FileObjects(directories, config_maps, secrets)


def restart_annotations(spec: ServiceSpec) -> dict:
    """The checksum that rolls a RESTART service's pods when a file changes; nothing for a RELOAD one,
    whose pod template must not change with its files."""
    if spec.file_change != RESTART:
        return {}
    return {CHECKSUM_ANNOTATION: config_checksum(spec.config_files, spec.secret_files)}


def claim_spec(size: str, storage_class: str | None) -> dict:
    """A ReadWriteOnce claim of `size`; without a storage class the cluster's default provisions it."""
    spec: dict = {"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storage_class_name"] = storage_class
    return spec


def replica_claim(service: str, replica: int) -> str:
    """The claim the StatefulSet controller creates for a replica: <template>-<statefulset>-<ordinal>."""
    return f"{DATA_VOLUME}-{service}-{replica}"


def spread_replicas(service: str) -> dict:
    """Preferred, not required: a small cluster still runs every replica, a larger one spreads them
    over nodes so one node failure never takes all replicas."""
    return {
        "pod_anti_affinity": {
            "preferred_during_scheduling_ignored_during_execution": [
                {
                    "weight": 100,
                    "pod_affinity_term": {"topology_key": "kubernetes.io/hostname", "label_selector": {"match_labels": labels.selector_labels(service)}},
                }
            ]
        }
    }


ZONE_KEY = "topology.kubernetes.io/zone"


def spread_over_zones(service: str) -> list[dict]:
    """At most one replica more in any zone than in another (loki.zoneAware). ScheduleAnyway: a zone
    that is down or full delays nothing, the scheduler only prefers the emptiest zone."""
    return [
        {
            "max_skew": 1,
            "topology_key": ZONE_KEY,
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": labels.selector_labels(service)},
        }
    ]


def colocate_with(service: str, replica: int) -> dict:
    """Required: on the node of that replica's pod, the only node that can mount its ReadWriteOnce claim."""
    return {
        "pod_affinity": {
            "required_during_scheduling_ignored_during_execution": [
                {
                    "topology_key": "kubernetes.io/hostname",
                    "label_selector": {"match_labels": {**labels.selector_labels(service), POD_NAME_LABEL: f"{service}-{replica}"}},
                }
            ]
        }
    }
