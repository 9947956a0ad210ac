"""What the two readers of the Kubernetes API may read: exactly what they use, nothing else.

Only Prometheus, kube-state-metrics and Alloy have a service account token (every other pod sets
`automountServiceAccountToken: false`), and only read verbs:
- Prometheus's service discovery, as namespaced Roles in exactly the namespaces its scrape configuration
  discovers: the application's (`role: endpoints`: endpoints, the services they belong to and their
  pods) and the host-access namespace (`role: pod`: the node-exporter and log-shipper pods);
- Prometheus's kubelet and cAdvisor jobs, the one cluster-scoped grant, because nodes are: list/watch
  of nodes (`role: node`) and get on `nodes/proxy`, the API server's proxy to each kubelet
  (docs/deploying-prod.md says why the proxy and what that subresource allows);
- kube-state-metrics: list/watch of exactly the kinds it exports (renderers.commands.
  KUBE_STATE_METRICS_RESOURCES), as a Role in each namespace it watches (its --namespaces flag);
- Alloy: list/watch of pods in the application's namespace (its pods' metadata labels their logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

import addresses
from components import labels
from renderers.commands import KUBE_STATE_METRICS_RESOURCES
from settings import Settings
from topology import ALLOY, KUBE_STATE_METRICS, PROMETHEUS

READ = ("get", "list", "watch")
ROLE_NAME = "prometheus-discovery"
ROLE_NAMES = {PROMETHEUS: ROLE_NAME, KUBE_STATE_METRICS: KUBE_STATE_METRICS, ALLOY: "alloy-pod-discovery"}


def node_role_name(settings: Settings) -> str:
    """The ClusterRole of Prometheus's node jobs: cluster objects have no namespace, so the stack's is
    part of the name (two stacks in one cluster do not share it)."""
    return f"{settings.kubernetes.namespace}-prometheus-nodes"


@dataclass(frozen=True)
class Grant:
    namespace: str | None  # None: cluster-scoped (a ClusterRole)
    # (API group, resources, verbs)
    rules: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    why: str


def discovery_grants(settings: Settings) -> list[Grant]:
    return [
        Grant(
            settings.app.namespace,
            (
                ("", ("endpoints", "pods", "services"), READ),
                # Endpoints is deprecated since Kubernetes 1.33; reading slices too lets the scrape config move
                # to `role: endpointslice` without an RBAC change.
                ("discovery.k8s.io", ("endpointslices",), READ),
            ),
            "discovers the NGX API by its Service's endpoints",
        ),
        Grant(settings.kubernetes.host_namespace, (("", ("pods",), READ),), "discovers the node-exporter and log-shipper pods"),
    ]


def node_grant() -> Grant:
    return Grant(
        None,
        (
            ("", ("nodes",), ("list", "watch")),
            # get only: the jobs' GETs of /metrics and /metrics/cadvisor through the API server.
            ("", ("nodes/proxy",), ("get",)),
        ),
        "discovers the nodes and scrapes each kubelet's /metrics and /metrics/cadvisor through the API server's node proxy",
    )


def kube_state_metrics_grants(settings: Settings) -> list[Grant]:
    rules = tuple((group, kinds, ("list", "watch")) for group, kinds in sorted(KUBE_STATE_METRICS_RESOURCES.items()))
    return [Grant(namespace, rules, "kube-state-metrics exports the state of these objects") for namespace in addresses.watched_namespaces(settings)]


def grants(settings: Settings, service: str) -> list[Grant]:
    """Every grant of a service that reads the Kubernetes API (topology egress to kube-api)."""
    if service == PROMETHEUS:
        return discovery_grants(settings) + [node_grant()]
    if service == KUBE_STATE_METRICS:
        return kube_state_metrics_grants(settings)
    if service == ALLOY:
        # list/watch only: discovery.kubernetes watches; it never gets one pod by name.
        return [
            Grant(
                settings.app.namespace, (("", ("pods",), ("list", "watch")),), "the log shipper labels the application's logs by namespace, pod and container"
            )
        ]
    raise ValueError(f"{service} reads the Kubernetes API but components/kubernetes/rbac.py grants it nothing")


def _rules(grant: Grant) -> list[dict]:
    return [{"api_groups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources, verbs in grant.rules]


def create_reader_rbac(
    name: str,
    settings: Settings,
    service: str,
    service_account: pulumi.Output[str],
    service_account_namespace: pulumi.Output[str],
    namespaces: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """`namespaces` maps the stack's own namespaces to their resource's name Output (for ordering);
    the application's namespace is not the stack's and is named as it is."""
    created: list[pulumi.Resource] = []
    meta_labels = labels.service_labels(service)
    subjects = [{"kind": "ServiceAccount", "name": service_account, "namespace": service_account_namespace}]
    child = pulumi.ResourceOptions(parent=parent)
    for grant in grants(settings, service):
        if grant.namespace is None:
            role = k8s.rbac.v1.ClusterRole(
                f"{name}-nodes-cluster-role",
                metadata={"name": node_role_name(settings), "labels": meta_labels, "annotations": {"ngx-monitoring/why": grant.why}},
                rules=_rules(grant),
                opts=child,
            )
            binding = k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-nodes-cluster-role-binding",
                metadata={"name": node_role_name(settings), "labels": meta_labels},
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
                subjects=subjects,
                opts=child,
            )
            created += [role, binding]
            continue
        namespace = namespaces.get(grant.namespace, grant.namespace)
        role = k8s.rbac.v1.Role(
            f"{name}-{grant.namespace}-{'discovery' if service == PROMETHEUS else 'reader'}-role",
            metadata={"name": ROLE_NAMES[service], "namespace": namespace, "labels": meta_labels, "annotations": {"ngx-monitoring/why": grant.why}},
            rules=_rules(grant),
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-{grant.namespace}-{'discovery' if service == PROMETHEUS else 'reader'}-binding",
            metadata={"name": ROLE_NAMES[service], "namespace": namespace, "labels": meta_labels},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=subjects,
            opts=child,
        )
        created += [role, binding]
    return created


def create_prometheus_rbac(
    name: str,
    settings: Settings,
    service_account: pulumi.Output[str],
    service_account_namespace: pulumi.Output[str],
    namespaces: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """Prometheus's grants (kept for callers that know only Prometheus)."""
    return create_reader_rbac(name, settings, PROMETHEUS, service_account, service_account_namespace, namespaces, parent)
