"""What every policy of the pack shares: the resource types it judges, its configuration, the shape
of a resource, a policy and a violation, and small readers over plain props (wire names, camelCase).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --- resource types (Pulumi type tokens) -------------------------------------------------------

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_VOLUME = "docker:index/volume:Volume"
DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage"
K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_PVC = "kubernetes:core/v1:PersistentVolumeClaim"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
K8S_WORKLOADS = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        K8S_STATEFUL_SET,
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
        "kubernetes:batch/v1:Job",
        K8S_CRON_JOB,
        K8S_POD,
    }
)
GRAFANA_PROVIDER = "pulumi:providers:grafana"

NAME_LABEL = "app.kubernetes.io/name"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# The annotation that documents why a namespace is exempt from `restricted` (components/kubernetes/namespaces.py).
EXCEPTION_ANNOTATION = "ngx-monitoring/pod-security-exception"

# Pack configuration: the one service users may reach (topology.ENTRYPOINT) and the one namespace
# where pods may use host paths (settings `kubernetes.hostNamespace`). A test keeps these defaults
# equal to the program's; a stack that changes either passes --policy-pack-config (docs/development.md, "Policy as code").
DEFAULT_CONFIG: Mapping[str, str] = {"entrypoint": "proxy", "hostAccessNamespace": "ngx-monitoring-host"}
CONFIG_SCHEMA: Mapping[str, Mapping[str, Any]] = {
    "entrypoint": {"type": "string", "default": DEFAULT_CONFIG["entrypoint"], "description": "app.kubernetes.io/name of the only service that may be exposed"},
    "hostAccessNamespace": {
        "type": "string",
        "default": DEFAULT_CONFIG["hostAccessNamespace"],
        "description": "the documented namespace whose pods may mount host paths",
    },
}


class _Unknown:
    """A value the engine cannot know during preview (an output of a resource not yet created)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)
    urn: str | None = None


ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, str]], list[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, str]], list[tuple[Resource | None, str]]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    remediation: str
    scope: str  # "resource" | "stack"
    check: ResourceCheck | StackCheck


@dataclass(frozen=True)
class Violation:
    policy: str
    resource_type: str | None
    resource_name: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.resource_type} {self.resource_name}" if self.resource_type else "stack"
        return f"[{self.policy}] {where}: {self.message}"


# --- small readers over plain props ------------------------------------------------------------


def get(node: Any, *path: str | int, default: Any = None) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return default
        elif not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if resource_type == K8S_POD:
        return as_map(props.get("spec"))
    if resource_type == K8S_CRON_JOB:
        return as_map(get(props, "spec", "jobTemplate", "spec", "template", "spec"))
    if resource_type in K8S_WORKLOADS:
        return as_map(get(props, "spec", "template", "spec"))
    return None


def pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, str]:
    if resource_type == K8S_POD:
        return as_map(get(props, "metadata", "labels"))
    if resource_type == K8S_CRON_JOB:
        return as_map(get(props, "spec", "jobTemplate", "spec", "template", "metadata", "labels"))
    return as_map(get(props, "spec", "template", "metadata", "labels"))


def namespace_of(props: Mapping[str, Any]) -> str:
    namespace = get(props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) else "default"


def k8s_containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in as_list(pod.get(key)):
            if isinstance(container, Mapping):
                yield container


def docker_env(props: Mapping[str, Any]) -> dict[str, str]:
    env = {}
    for item in as_list(props.get("envs")):
        if isinstance(item, str):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def k8s_plain_env(container: Mapping[str, Any]) -> dict[str, str]:
    """Variables with a literal `value` (those with `valueFrom` come from a Secret or a field)."""
    return {
        item["name"]: item.get("value") or ""
        for item in as_list(container.get("env"))
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and "valueFrom" not in item
    }


def docker_labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {item.get("label"): item.get("value") for item in as_list(props.get("labels")) if isinstance(item, Mapping)}


# A container created stopped but run on demand (a backup job's run) carries this label: it runs a process.
JOB_RUN_LABEL = "ngx-monitoring/job-run"


def docker_runs(props: Mapping[str, Any]) -> bool:
    """False for a container that is created and never started (the Docker backend's file loaders):
    it runs no process, so runtime hardening does not apply to it. A job run is started on demand."""
    return props.get("start") is not False or JOB_RUN_LABEL in docker_labels(props)


def service_of_container(props: Mapping[str, Any]) -> str | None:
    return docker_labels(props).get(NAME_LABEL) or (props.get("name") if isinstance(props.get("name"), str) else None)
