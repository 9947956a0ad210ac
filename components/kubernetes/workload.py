"""One ServiceSpec on Kubernetes: its ConfigMap, Secret, ServiceAccount, Service(s), workload and PDB.

The kind follows from the spec: host mounts -> DaemonSet (one pod per node), a data directory ->
StatefulSet with a claim per replica, otherwise a Deployment. Every pod gets the same hardening:
non-root with the spec's UID, no privilege escalation, read-only root filesystem, no capabilities,
seccomp RuntimeDefault, requests equal to limits, liveness/readiness probes and, unless the service
reads the Kubernetes API, no service account token.

Files are mounted one by one with `subPath`, at exactly the in-container path the spec names (as the
Docker backend bind-mounts them): a directory mount would hide what the image ships next to them
(nginx's mime.types, for one). subPath mounts do not follow later ConfigMap/Secret updates, which is
why the pod template carries a checksum of every file: a changed file rolls the pods.
"""
from __future__ import annotations

import hashlib
import posixpath
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

import addresses
from components import TYPE_PREFIX
from components import labels
from components.specs import ServiceSpec
from settings import Settings
from topology import EDGES, ENTRYPOINT, SERVICES, egress_of

STATEFUL_SET, DEPLOYMENT, DAEMON_SET = "StatefulSet", "Deployment", "DaemonSet"
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
# checkov reads `<check id>=<reason>` from this annotation (the reason must not contain "=").
CHECKOV_SKIP_ANNOTATION = "checkov.io/skip1"
TOKEN_CHECK = "CKV_K8S_38"
TOKEN_REASON = ("this service reads the Kubernetes API for service discovery and needs its token; its access is "
                "namespaced Roles with get/list/watch only (components/kubernetes/rbac.py)")


def workload_kind(spec: ServiceSpec) -> str:
    if spec.host_mounts:
        return DAEMON_SET
    return STATEFUL_SET if spec.stateful else DEPLOYMENT


def needs_api_token(service: str) -> bool:
    """Only a service whose topology egress includes the Kubernetes API gets a token."""
    return egress_of(service, "kube-api") is not None


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


def client_ports(service: str) -> list[str]:
    """Port names other services (or, for the entrypoint, the ingress controller) reach through the
    Service's load-balanced name; peer-to-peer ports (Alertmanager's mesh) stay on the headless Service."""
    names = {edge.port for edge in EDGES if edge.target == service and edge.source != service}
    if service == ENTRYPOINT:
        names.add("https")
    return [port.name for port in SERVICES[service].ports if port.name in names]


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


def _env(spec: ServiceSpec) -> list[dict]:
    env: list[dict] = [{"name": key, "value": value} for key, value in sorted(spec.env.items())]
    if spec.replica_env:
        # Each replica's own pod name (prometheus-0, prometheus-1): a distinct `replica` external label.
        env.append({"name": spec.replica_env, "value_from": {"field_ref": {"field_path": "metadata.name"}}})
    return env


def _mounts(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes without the claim template, volume mounts)."""
    volumes: list[dict] = []
    mounts: list[dict] = []
    for volume, files in ((CONFIG_VOLUME, spec.config_files), (SECRET_VOLUME, spec.secret_files)):
        mounts += [{"name": volume, "mount_path": path, "sub_path": key, "read_only": True}
                   for path, key in file_keys(list(files)).items()]
    if spec.data_dir:
        mounts.append({"name": DATA_VOLUME, "mount_path": spec.data_dir})
    for index, directory in enumerate(spec.scratch_dirs):
        volumes.append({"name": f"scratch-{index}", "empty_dir": {"size_limit": SCRATCH_LIMIT}})
        mounts.append({"name": f"scratch-{index}", "mount_path": directory})
    for index, host_mount in enumerate(spec.host_mounts):
        # Type Directory: a missing node path fails the pod visibly instead of being created empty (as root).
        volumes.append({"name": f"host-{index}", "host_path": {"path": host_mount.host_path, "type": "Directory"}})
        mounts.append({"name": f"host-{index}", "mount_path": host_mount.container_path, "read_only": True})
    return volumes, mounts


def _anti_affinity(service: str) -> dict:
    # Preferred, not required: a small cluster still runs every replica, a larger one spreads them
    # over nodes so one node failure never takes all replicas.
    return {"pod_anti_affinity": {"preferred_during_scheduling_ignored_during_execution": [{
        "weight": 100,
        "pod_affinity_term": {"topology_key": "kubernetes.io/hostname",
                              "label_selector": {"match_labels": labels.selector_labels(service)}},
    }]}}


def pod_template(spec: ServiceSpec, kind: str, volumes: list[dict], mounts: list[dict],
                 service_account: pulumi.Input[str], api_token: bool) -> dict:
    container = {
        "name": spec.name,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "args": list(spec.args),
        "env": _env(spec),
        "ports": [{"name": port.name, "container_port": port.number, "protocol": port.protocol}
                  for port in SERVICES[spec.name].ports],
        # Requests equal limits: the scheduler reserves what the service may use (Guaranteed QoS, the
        # last to be evicted under node pressure).
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory},
                      "limits": {"cpu": spec.cpu, "memory": spec.memory}},
        "security_context": container_security_context(spec.uid, spec.gid),
        "volume_mounts": mounts,
        **probes(spec),
    }
    pod_spec: dict = {
        "service_account_name": service_account,
        "automount_service_account_token": api_token,
        "security_context": pod_security_context(spec.uid, spec.gid, spec.supplemental_groups),
        "containers": [container],
        "volumes": sorted(volumes, key=lambda volume: volume["name"]),
    }
    if spec.replicas > 1:
        pod_spec["affinity"] = _anti_affinity(spec.name)
    if kind == DAEMON_SET:
        # Node metrics and logs are wanted from every node, tainted ones (control plane, dedicated pools) included.
        pod_spec["tolerations"] = [{"operator": "Exists"}]
    return {
        "metadata": {"labels": labels.service_labels(spec.name, spec.image),
                     "annotations": {CHECKSUM_ANNOTATION: config_checksum(spec.config_files, spec.secret_files)}},
        "spec": pod_spec,
    }


class KubernetesWorkload(pulumi.ComponentResource):
    """One service of the stack. Outputs: `workload` (the StatefulSet, Deployment or DaemonSet),
    `service` (its ClusterIP Service, None for a DaemonSet), `ready` (resolves once the workload
    is ready: pulumi-kubernetes waits for ready replicas before it reports a workload created)."""

    def __init__(self, name: str, spec: ServiceSpec, settings: Settings, namespace: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesWorkload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service = spec.name
        kind = workload_kind(spec)
        meta_labels = labels.service_labels(service)
        selector = labels.selector_labels(service)

        def metadata(object_name: str) -> dict:
            return {"name": object_name, "namespace": namespace, "labels": meta_labels}

        volumes, mounts = _mounts(spec)
        if spec.config_files:
            config_map = k8s.core.v1.ConfigMap(
                f"{name}-config", metadata=metadata(f"{service}-config"),
                data={key: spec.config_files[path] for path, key in file_keys(list(spec.config_files)).items()},
                opts=child)
            volumes.append({"name": CONFIG_VOLUME, "config_map": {"name": config_map.metadata.name, "default_mode": CONFIG_MODE}})
        if spec.secret_files:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets", metadata=metadata(f"{service}-secrets"), type="Opaque",
                string_data={key: spec.secret_files[path] for path, key in file_keys(list(spec.secret_files)).items()},
                opts=child)
            volumes.append({"name": SECRET_VOLUME, "secret": {"secret_name": secret.metadata.name, "default_mode": SECRET_MODE}})

        api_token = needs_api_token(service)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=metadata(service), automount_service_account_token=api_token, opts=child)
        template = pod_template(spec, kind, volumes, mounts, self.service_account.metadata.name, api_token)
        workload_metadata = {"name": service, "namespace": namespace, "labels": labels.service_labels(service, spec.image)}
        if api_token:
            workload_metadata["annotations"] = {CHECKOV_SKIP_ANNOTATION: f"{TOKEN_CHECK}={TOKEN_REASON}"}

        headless = None
        if kind == STATEFUL_SET:
            headless = k8s.core.v1.Service(
                f"{name}-headless", metadata=metadata(addresses.headless(service)),
                spec={"cluster_ip": "None", "selector": selector,
                      # Peers must find each other before they are ready (Alertmanager's cluster settles first).
                      "publish_not_ready_addresses": True,
                      "ports": [self._service_port(service, port.name) for port in SERVICES[service].ports]},
                opts=child)

        self.service = None
        if kind != DAEMON_SET:
            self.service = k8s.core.v1.Service(
                f"{name}-service", metadata=metadata(service),
                spec={"type": "ClusterIP", "selector": selector,
                      "ports": [self._service_port(service, port_name) for port_name in client_ports(service)]},
                opts=child)

        if kind == STATEFUL_SET:
            self.workload = k8s.apps.v1.StatefulSet(
                f"{name}-statefulset", metadata=workload_metadata,
                spec={
                    "service_name": headless.metadata.name,
                    "replicas": spec.replicas,
                    "selector": {"match_labels": selector},
                    # Replicas are peers, not a chain: start and replace them independently.
                    "pod_management_policy": "Parallel",
                    "update_strategy": {"type": "RollingUpdate"},
                    "template": template,
                    "volume_claim_templates": [self._claim_template(spec, settings)],
                    # Claims outlive the StatefulSet and a scale-down: data is only ever deleted by hand.
                    "persistent_volume_claim_retention_policy": {"when_deleted": "Retain", "when_scaled": "Retain"},
                },
                # The controller creates the claims from volumeClaimTemplates (one per ordinal), so Pulumi
                # never owns them and no Pulumi operation can delete them. What Pulumi can do is delete or
                # replace the StatefulSet (a changed claim template is an immutable-field replacement):
                # protect makes that fail loudly, retain_on_delete keeps it running if it leaves the program.
                opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True))
        elif kind == DEPLOYMENT:
            self.workload = k8s.apps.v1.Deployment(
                f"{name}-deployment", metadata=workload_metadata,
                spec={"replicas": spec.replicas, "selector": {"match_labels": selector}, "template": template,
                      # Start the new pod before stopping the old one: no gap with a single replica.
                      "strategy": {"type": "RollingUpdate", "rolling_update": {"max_surge": 1, "max_unavailable": 0}}},
                opts=child)
        else:
            self.workload = k8s.apps.v1.DaemonSet(
                f"{name}-daemonset", metadata=workload_metadata,
                spec={"selector": {"match_labels": selector}, "template": template,
                      "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}}},
                opts=child)

        self.disruption_budget = None
        if kind != DAEMON_SET and spec.replicas > 1:
            # Voluntary disruptions (node drains, upgrades) take one replica at a time.
            self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb", metadata=metadata(service),
                spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
                opts=child)

        self.ready: pulumi.Output[bool] = self.workload.id.apply(lambda _: True)
        self.register_outputs({"workload": self.workload.metadata.name})

    @staticmethod
    def _service_port(service: str, port_name: str) -> dict:
        port = SERVICES[service].port(port_name)
        return {"name": port.name, "port": port.number, "target_port": port.name, "protocol": port.protocol}

    @staticmethod
    def _claim_template(spec: ServiceSpec, settings: Settings) -> dict:
        claim_spec: dict = {"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": spec.storage_size}}}
        if settings.kubernetes.storage_class:
            claim_spec["storage_class_name"] = settings.kubernetes.storage_class
        # No `version` label: a claim template is immutable, and an image bump must not touch it.
        claim_labels = {**labels.selector_labels(spec.name), labels.PART_OF: labels.STACK,
                        labels.COMPONENT: labels.COMPONENTS[spec.name]}
        return {"metadata": {"name": DATA_VOLUME, "labels": claim_labels}, "spec": claim_spec}
