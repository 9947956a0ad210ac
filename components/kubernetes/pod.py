"""Pod building blocks shared by the services' workloads (workload.py) and the job runs (job.py):
security contexts, resources, probes, environment, file/scratch/host mounts, the ConfigMap and Secret
that hold a spec's files, claim specs and (anti-)affinity. One place, so a service's pod and a job's
pod cannot drift apart in how they are hardened or how they read their files.

Files are mounted one by one with `subPath`, at exactly the in-container path the spec names (as the
Docker backend bind-mounts them): a directory mount would hide what the image ships next to them
(nginx's mime.types, for one). subPath mounts do not follow later ConfigMap/Secret updates, which is
why every pod template carries a checksum of every file (`config_checksum`): a changed file rolls
the pods.
"""
from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components import labels
from components.specs import ServiceSpec

DATA_VOLUME = "data"
CONFIG_VOLUME = "config"
SECRET_VOLUME = "secrets"
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
        for path, text in [*sorted(config_files.items()), *zip(secret_paths, secret_values)]:
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
        # already owned by this group, its new archive claim is given to it once).
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
        found["startup_probe"] = {**action, "period_seconds": STARTUP_PERIOD_SECONDS, "timeout_seconds": 5,
                                  "failure_threshold": STARTUP_FAILURES}
    return found


def env(spec: ServiceSpec) -> list[dict]:
    found: list[dict] = [{"name": key, "value": value} for key, value in sorted(spec.env.items())]
    if spec.replica_env:
        # Each replica's own pod name (prometheus-0, prometheus-1): a distinct `replica` external label.
        found.append({"name": spec.replica_env, "value_from": {"field_ref": {"field_path": "metadata.name"}}})
    if spec.pod_ip_env:
        found.append({"name": spec.pod_ip_env, "value_from": {"field_ref": {"field_path": "status.podIP"}}})
    return found


def file_mounts(spec: ServiceSpec) -> list[dict]:
    """One read-only subPath mount per config file and per secret file, at its in-container path."""
    mounts: list[dict] = []
    for volume, files in ((CONFIG_VOLUME, spec.config_files), (SECRET_VOLUME, spec.secret_files)):
        mounts += [{"name": volume, "mount_path": path, "sub_path": key, "read_only": True}
                   for path, key in file_keys(list(files)).items()]
    return mounts


def scratch_volumes(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts) of the spec's scratch directories: size-limited emptyDirs."""
    volumes = [{"name": f"scratch-{index}", "empty_dir": {"size_limit": SCRATCH_LIMIT}} for index, _ in enumerate(spec.scratch_dirs)]
    mounts = [{"name": f"scratch-{index}", "mount_path": directory} for index, directory in enumerate(spec.scratch_dirs)]
    return volumes, mounts


def host_volumes(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts) of the spec's node paths, read-only."""
    # Type Directory: a missing node path fails the pod visibly instead of being created empty (as root).
    volumes = [{"name": f"host-{index}", "host_path": {"path": mount.host_path, "type": "Directory"}}
               for index, mount in enumerate(spec.host_mounts)]
    mounts = [{"name": f"host-{index}", "mount_path": mount.container_path, "read_only": True}
              for index, mount in enumerate(spec.host_mounts)]
    return volumes, mounts


@dataclass(frozen=True)
class FileObjects:
    """The ConfigMap and Secret holding a spec's files (None where it has none of that kind)."""

    config_map: k8s.core.v1.ConfigMap | None
    secret: k8s.core.v1.Secret | None

    def volumes(self) -> list[dict]:
        volumes: list[dict] = []
        if self.config_map is not None:
            volumes.append({"name": CONFIG_VOLUME, "config_map": {"name": self.config_map.metadata.name, "default_mode": CONFIG_MODE}})
        if self.secret is not None:
            volumes.append({"name": SECRET_VOLUME, "secret": {"secret_name": self.secret.metadata.name, "default_mode": SECRET_MODE}})
        return volumes


def create_file_objects(name: str, spec: ServiceSpec, namespace: pulumi.Input[str], parent: pulumi.Resource) -> FileObjects:
    """`<service>-config` and `<service>-secrets`, keyed by file name (`file_keys`)."""
    child = pulumi.ResourceOptions(parent=parent)

    def metadata(object_name: str) -> dict:
        return {"name": object_name, "namespace": namespace, "labels": labels.service_labels(spec.name)}

    config_map = secret = None
    if spec.config_files:
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=metadata(f"{spec.name}-config"),
            data={key: spec.config_files[path] for path, key in file_keys(list(spec.config_files)).items()},
            opts=child)
    if spec.secret_files:
        secret = k8s.core.v1.Secret(
            f"{name}-secrets", metadata=metadata(f"{spec.name}-secrets"), type="Opaque",
            string_data={key: spec.secret_files[path] for path, key in file_keys(list(spec.secret_files)).items()},
            opts=child)
    return FileObjects(config_map, secret)


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
    return {"pod_anti_affinity": {"preferred_during_scheduling_ignored_during_execution": [{
        "weight": 100,
        "pod_affinity_term": {"topology_key": "kubernetes.io/hostname",
                              "label_selector": {"match_labels": labels.selector_labels(service)}},
    }]}}


def colocate_with(service: str, replica: int) -> dict:
    """Required: on the node of that replica's pod, the only node that can mount its ReadWriteOnce claim."""
    return {"pod_affinity": {"required_during_scheduling_ignored_during_execution": [{
        "topology_key": "kubernetes.io/hostname",
        "label_selector": {"match_labels": {**labels.selector_labels(service), POD_NAME_LABEL: f"{service}-{replica}"}},
    }]}}
