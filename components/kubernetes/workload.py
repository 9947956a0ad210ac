"""One ServiceSpec on Kubernetes: its ConfigMap, Secret, ServiceAccount, Service(s), workload and PDB.

The kind follows from the spec: host mounts -> DaemonSet (one pod per node), a data directory ->
StatefulSet with a claim per replica, otherwise a Deployment. Every pod gets the same hardening
(pod.py): non-root with the spec's UID, no privilege escalation, read-only root filesystem, no
capabilities, seccomp RuntimeDefault, requests equal to limits, liveness/readiness probes and, unless
the service reads the Kubernetes API, no service account token. How files are mounted, and whether a
changed file rolls the pods or is reloaded in place, is in pod.py and components/file_layout.py; a
service with a reloader (Alertmanager) gets it as a second container sharing the pod's process
namespace, so it can signal the service without any credential (renderers/reloader.py says why); a
service with a sidecar (node-exporter's netdev exporter) gets it as a second container on its own port.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

import addresses
from components import TYPE_PREFIX, labels
from components.kubernetes import pod
from components.service_spec import ServiceSpec
from renderers.reloader import RELOADER_NAME
from settings.docs import spelled_duration
from topology import EDGES, ENTRYPOINT, PROMETHEUS, SERVICES, egress_of

STATEFUL_SET, DEPLOYMENT, DAEMON_SET = "StatefulSet", "Deployment", "DaemonSet"
# checkov reads `<check id>=<reason>` from this annotation (the reason must not contain "=").
CHECKOV_SKIP_ANNOTATION = "checkov.io/skip1"
TOKEN_CHECK = "CKV_K8S_38"
# Services whose replicas answer the same query differently, and how long (seconds) a client stays on
# the replica it first reached. Grafana queries Prometheus through its Service; the replicas scrape
# independently, so their samples differ slightly (scrape offsets, gaps across a restart) and a panel
# whose refreshes alternate between replicas jumps. ClientIP affinity keeps Grafana's pod (and each
# proxy pod) on one replica. 3h (Kubernetes' default) is far longer than the slowest dashboard
# refresh interval (1h, dashboards/defaults.py), so an open dashboard never changes replica between
# refreshes; when a replica goes away, its clients move to another at once. docs/deploying-prod.md
# says why affinity rather than a deduplicating query layer.
SESSION_AFFINITY_SECONDS = {PROMETHEUS: 3 * 3600}
TOKEN_REASON = (
    "this service reads the Kubernetes API (service discovery or object state) and needs its token; its "
    "access is read verbs on exactly what it reads (components/kubernetes/rbac.py)"
)


@dataclass(frozen=True)
class KubernetesWorkloadArgs:
    spec: ServiceSpec  # a long-running service (not a scheduled job: that is a KubernetesJob)
    namespace: pulumi.Input[str]  # the namespace the service runs in (addresses.namespace)
    storage_class: str | None = None  # StorageClass of the data claims; None: the cluster's default

    def __post_init__(self) -> None:
        if self.spec.scheduled:
            raise ValueError(f"KubernetesWorkloadArgs.spec: {self.spec.name} is a scheduled job; give it to a KubernetesJob")


def workload_kind(spec: ServiceSpec) -> str:
    if spec.host_mounts:
        return DAEMON_SET
    return STATEFUL_SET if spec.stateful else DEPLOYMENT


def needs_api_token(service: str) -> bool:
    """Only a service whose topology egress includes the Kubernetes API gets a token."""
    return egress_of(service, "kube-api") is not None


def client_ports(service: str) -> list[str]:
    """Port names other services (or, for the entrypoint, the ingress controller) reach through the
    Service's load-balanced name; peer-to-peer ports (Alertmanager's mesh) stay on the headless Service."""
    names = {edge.port for edge in EDGES if edge.target == service and edge.source != service}
    if service == ENTRYPOINT:
        names.add("https")
    return [port.name for port in SERVICES[service].ports if port.name in names]


def _mounts(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes without the claim template and the file objects, volume mounts)."""
    mounts = pod.file_mounts(spec)
    if spec.data_dir:
        mounts.append({"name": pod.DATA_VOLUME, "mount_path": spec.data_dir})
    scratch_volumes, scratch_mounts = pod.scratch_volumes(spec)
    host_volumes, host_mounts = pod.host_volumes(spec)
    return scratch_volumes + host_volumes, mounts + scratch_mounts + host_mounts


def _annotations(annotations: dict) -> dict:
    return {"annotations": annotations} if annotations else {}


def reloader_container(spec: ServiceSpec) -> dict:
    """The reloader sidecar: the service's image and user, its watched directories read-only, no ports.
    It runs as the service's UID, which is all sending it SIGHUP takes (no capability)."""
    reloader = spec.reloader
    size = {"cpu": reloader.cpu, "memory": reloader.memory}
    return {
        "name": RELOADER_NAME,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "command": list(reloader.command),
        "resources": {"requests": dict(size), "limits": dict(size)},
        "security_context": pod.container_security_context(spec.uid, spec.gid),
        "volume_mounts": pod.file_mounts(spec, only=reloader.watched_dirs),
        # Not ready (and, after a few minutes, restarted) while it cannot signal the service: a pod
        # without a shared process namespace or a different UID shows up here, not at the next change.
        "readiness_probe": {"exec": {"command": list(reloader.probe_command)}, "period_seconds": 30, "timeout_seconds": 5, "failure_threshold": 3},
        "liveness_probe": {"exec": {"command": list(reloader.probe_command)}, "period_seconds": 30, "timeout_seconds": 5, "failure_threshold": 10},
    }


def sidecar_container(spec: ServiceSpec) -> dict:
    """The spec's second server (ServiceSpec.sidecar): the service's image and user, its own port and
    HTTP probes, only the node paths it names (read-only, the pod's volumes)."""
    sidecar = spec.sidecar
    size = {"cpu": sidecar.cpu, "memory": sidecar.memory}
    port = SERVICES[spec.name].port(sidecar.port)
    action = {"http_get": {"path": sidecar.probe.http_path, "port": sidecar.probe.port, "scheme": "HTTP"}}
    _, host_mounts = pod.host_volumes(spec)
    wanted = {mount.container_path for mount in sidecar.host_mounts}
    return {
        "name": sidecar.name,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "args": list(sidecar.args),
        "ports": [{"name": port.name, "container_port": port.number, "protocol": port.protocol}],
        "resources": {"requests": dict(size), "limits": dict(size)},
        "security_context": pod.container_security_context(spec.uid, spec.gid),
        "volume_mounts": [mount for mount in host_mounts if mount["mount_path"] in wanted],
        "liveness_probe": {**action, "period_seconds": 10, "timeout_seconds": 5, "failure_threshold": 6},
        "readiness_probe": {**action, "period_seconds": 10, "timeout_seconds": 5, "failure_threshold": 3},
    }


def pod_template(spec: ServiceSpec, kind: str, volumes: list[dict], mounts: list[dict], service_account: pulumi.Input[str], api_token: bool) -> dict:
    container = {
        "name": spec.name,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "args": list(spec.args),
        "env": pod.env(spec),
        "ports": [
            {"name": port.name, "container_port": port.number, "protocol": port.protocol}
            for port in SERVICES[spec.name].ports + spec.cluster_ports
            if spec.sidecar is None or port.name != spec.sidecar.port  # the sidecar's own
        ],
        "resources": pod.resources(spec),
        "security_context": pod.container_security_context(spec.uid, spec.gid),
        "volume_mounts": mounts,
        **pod.probes(spec),
    }
    pod_spec: dict = {
        "service_account_name": service_account,
        "automount_service_account_token": api_token,
        "security_context": pod.pod_security_context(spec.uid, spec.gid, spec.supplemental_groups),
        "containers": [container],
        "volumes": sorted(volumes, key=lambda volume: volume["name"]),
    }
    if spec.sidecar is not None:
        pod_spec["containers"].append(sidecar_container(spec))
    if spec.reloader is not None:
        pod_spec["containers"].append(reloader_container(spec))
        # The reloader must see the service's process to signal it (same UID: no capability needed).
        pod_spec["share_process_namespace"] = True
    if spec.replicas > 1:
        pod_spec["affinity"] = pod.spread_replicas(spec.name)
    if spec.zone_spread:
        pod_spec["topology_spread_constraints"] = pod.spread_over_zones(spec.name)
    if kind == DAEMON_SET:
        # Node metrics and logs are wanted from every node, tainted ones (control plane, dedicated pools) included.
        pod_spec["tolerations"] = [{"operator": "Exists"}]
    return {
        "metadata": {"labels": {**labels.service_labels(spec.name, spec.image), **dict(spec.pod_labels)}, **_annotations(pod.restart_annotations(spec))},
        "spec": pod_spec,
    }


class KubernetesWorkload(pulumi.ComponentResource):
    """One service of the stack. Outputs: `workload` (the StatefulSet, Deployment or DaemonSet),
    `service` (its ClusterIP Service, None for a DaemonSet), `ready` (resolves once the workload
    is ready: pulumi-kubernetes waits for ready replicas before it reports a workload created)."""

    def __init__(self, name: str, args: KubernetesWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesWorkload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, namespace = args.spec, args.namespace
        service = spec.name
        kind = workload_kind(spec)
        meta_labels = labels.service_labels(service)
        selector = labels.selector_labels(service)

        def metadata(object_name: str) -> dict:
            return {"name": object_name, "namespace": namespace, "labels": meta_labels}

        volumes, mounts = _mounts(spec)
        volumes += pod.create_file_objects(name, spec, namespace, self).volumes()

        api_token = needs_api_token(service)
        account_metadata = metadata(service)
        if spec.service_account_annotations:
            account_metadata["annotations"] = dict(spec.service_account_annotations)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=account_metadata, automount_service_account_token=api_token, opts=child
        )
        template = pod_template(spec, kind, volumes, mounts, self.service_account.metadata.name, api_token)
        workload_metadata = {"name": service, "namespace": namespace, "labels": labels.service_labels(service, spec.image)}
        if api_token:
            workload_metadata["annotations"] = {CHECKOV_SKIP_ANNOTATION: f"{TOKEN_CHECK}={TOKEN_REASON}"}

        headless = None
        if kind == STATEFUL_SET:
            headless = k8s.core.v1.Service(
                f"{name}-headless",
                metadata=metadata(addresses.headless(service)),
                spec={
                    "cluster_ip": "None",
                    "selector": selector,
                    # Peers must find each other before they are ready (Alertmanager's cluster settles first).
                    "publish_not_ready_addresses": True,
                    "ports": [self._service_port(service, port.name) for port in SERVICES[service].ports + spec.cluster_ports],
                },
                opts=child,
            )

        self.service = None
        if kind != DAEMON_SET:
            service_spec: dict = {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [self._service_port(service, port_name) for port_name in client_ports(service)],
            }
            if service in SESSION_AFFINITY_SECONDS:
                service_spec["session_affinity"] = "ClientIP"
                service_spec["session_affinity_config"] = {"client_ip": {"timeout_seconds": SESSION_AFFINITY_SECONDS[service]}}
            self.service = k8s.core.v1.Service(f"{name}-service", metadata=metadata(service), spec=service_spec, opts=child)

        if kind == STATEFUL_SET:
            self.workload = k8s.apps.v1.StatefulSet(
                f"{name}-statefulset",
                metadata=workload_metadata,
                spec={
                    "service_name": headless.metadata.name,
                    "replicas": spec.replicas,
                    "selector": {"match_labels": selector},
                    # Replicas are peers, not a chain: start and replace them independently.
                    "pod_management_policy": "Parallel",
                    "update_strategy": {"type": "RollingUpdate"},
                    "template": template,
                    "volume_claim_templates": [self._claim_template(spec, args.storage_class)],
                    # Claims outlive the StatefulSet and a scale-down: data is only ever deleted by hand.
                    "persistent_volume_claim_retention_policy": {"when_deleted": "Retain", "when_scaled": "Retain"},
                },
                # The controller creates the claims from volumeClaimTemplates (one per ordinal), so Pulumi
                # never owns them and no Pulumi operation can delete them. What Pulumi can do is delete or
                # replace the StatefulSet (a changed claim template is an immutable-field replacement):
                # protect makes that fail loudly, retain_on_delete keeps it running if it leaves the program.
                opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
            )
        elif kind == DEPLOYMENT:
            self.workload = k8s.apps.v1.Deployment(
                f"{name}-deployment",
                metadata=workload_metadata,
                spec={
                    "replicas": spec.replicas,
                    "selector": {"match_labels": selector},
                    "template": template,
                    # Start the new pod before stopping the old one: no gap with a single replica.
                    "strategy": {"type": "RollingUpdate", "rolling_update": {"max_surge": 1, "max_unavailable": 0}},
                },
                opts=child,
            )
        else:
            self.workload = k8s.apps.v1.DaemonSet(
                f"{name}-daemonset",
                metadata=workload_metadata,
                spec={
                    "selector": {"match_labels": selector},
                    "template": template,
                    "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}},
                },
                opts=child,
            )

        self.disruption_budget = None
        if kind != DAEMON_SET and spec.replicas > 1:
            # Voluntary disruptions (node drains, upgrades) take one replica at a time.
            self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb", metadata=metadata(service), spec={"max_unavailable": 1, "selector": {"match_labels": selector}}, opts=child
            )

        self.ready: pulumi.Output[bool] = self.workload.id.apply(lambda _: True)
        self.register_outputs({"workload": self.workload.metadata.name})

    @staticmethod
    def _service_port(service: str, port_name: str) -> dict:
        port = SERVICES[service].port(port_name)
        return {"name": port.name, "port": port.number, "target_port": port.name, "protocol": port.protocol}

    @staticmethod
    def _claim_template(spec: ServiceSpec, storage_class: str | None) -> dict:
        # No `version` label: a claim template is immutable, and an image bump must not touch it.
        claim_labels = {**labels.selector_labels(spec.name), labels.PART_OF: labels.STACK, labels.COMPONENT: labels.COMPONENTS[spec.name]}
        return {"metadata": {"name": pod.DATA_VOLUME, "labels": claim_labels}, "spec": pod.claim_spec(spec.storage_size, storage_class)}


def session_affinity_markdown() -> str:
    """How long the Prometheus Service keeps a client on one replica (docs/deploying-prod.md)."""
    return spelled_duration(SESSION_AFFINITY_SECONDS[PROMETHEUS])
