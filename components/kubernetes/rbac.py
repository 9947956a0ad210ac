"""What Prometheus may read from the Kubernetes API: its service discovery, nothing else.

Prometheus is the only pod of the stack with a service account token (every other pod sets
`automountServiceAccountToken: false`). Its access is namespaced Roles, never a ClusterRole, and
only read verbs, in exactly the namespaces its scrape configuration discovers:
- the application's namespace (`role: endpoints`: endpoints, the services they belong to and their pods);
- the host-access namespace (`role: pod`: the node-exporter and log-shipper pods).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components import labels
from settings import Settings
from topology import PROMETHEUS

READ = ("get", "list", "watch")
ROLE_NAME = "prometheus-discovery"


@dataclass(frozen=True)
class Grant:
    namespace: str
    rules: tuple[tuple[str, tuple[str, ...]], ...]  # (API group, resources), always with READ verbs
    why: str


def discovery_grants(settings: Settings) -> list[Grant]:
    return [
        Grant(settings.app.namespace, (
            ("", ("endpoints", "pods", "services")),
            # Endpoints is deprecated since Kubernetes 1.33; reading slices too lets the scrape config move
            # to `role: endpointslice` without an RBAC change.
            ("discovery.k8s.io", ("endpointslices",)),
        ), "discovers the NGX API by its Service's endpoints"),
        Grant(settings.kubernetes.host_namespace, (("", ("pods",)),), "discovers the node-exporter and log-shipper pods"),
    ]


def create_prometheus_rbac(name: str, settings: Settings, service_account: pulumi.Output[str],
                           service_account_namespace: pulumi.Output[str], namespaces: Mapping[str, pulumi.Input[str]],
                           parent: pulumi.Resource) -> list[pulumi.Resource]:
    """`namespaces` maps the stack's own namespaces to their resource's name Output (for ordering);
    the application's namespace is not the stack's and is named as it is."""
    created: list[pulumi.Resource] = []
    meta_labels = labels.service_labels(PROMETHEUS)
    for grant in discovery_grants(settings):
        child = pulumi.ResourceOptions(parent=parent)
        role = k8s.rbac.v1.Role(
            f"{name}-{grant.namespace}-discovery-role",
            metadata={"name": ROLE_NAME, "namespace": namespaces.get(grant.namespace, grant.namespace), "labels": meta_labels,
                      "annotations": {"ngx-monitoring/why": grant.why}},
            rules=[{"api_groups": [group], "resources": list(resources), "verbs": list(READ)} for group, resources in grant.rules],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-{grant.namespace}-discovery-binding",
            metadata={"name": ROLE_NAME, "namespace": namespaces.get(grant.namespace, grant.namespace), "labels": meta_labels},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": service_account, "namespace": service_account_namespace}],
            opts=child,
        )
        created += [role, binding]
    return created
