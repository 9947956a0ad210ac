"""The stack's two namespaces and their Pod Security Standards level.

Everything runs under `restricted` except node-exporter and the log shipper: both read the node's
filesystem through hostPath volumes, which only the `privileged` level admits (`baseline` already
refuses hostPath). They get a namespace of their own so the exception covers nothing else; their
pods still run as non-root, without capabilities, with a read-only root filesystem and every host
path mounted read-only (see pod.py), so the exception is about volume types, not about rights.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import labels
from settings import Settings
from topology import SERVICES

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
AUDIT = "pod-security.kubernetes.io/audit"
AUDIT_VERSION = "pod-security.kubernetes.io/audit-version"
# The policy version is pinned so that a cluster upgrade that tightens `restricted` shows up as
# warnings on the next deploy instead of silently refusing pods; raise it deliberately.
POD_SECURITY_VERSION = "v1.33"
EXCEPTION_ANNOTATION = "ngx-monitoring/pod-security-exception"
HOST_ACCESS_REASON = (
    "node-exporter and the log shipper mount node paths (hostPath, read-only); only the privileged "
    "level admits hostPath. Their pods are still non-root, drop ALL capabilities and use a read-only root filesystem."
)


@dataclass(frozen=True)
class NamespacePlan:
    name: str
    level: str  # Pod Security Standards level enforced
    services: tuple[str, ...]  # services that run in it
    holds_data: bool  # deleting it would delete PersistentVolumeClaims


def namespace_plan(settings: Settings) -> list[NamespacePlan]:
    k8s_settings = settings.kubernetes
    host = tuple(sorted(name for name, service in SERVICES.items() if service.host_access))
    rest = tuple(sorted(name for name, service in SERVICES.items() if not service.host_access))
    return [
        NamespacePlan(k8s_settings.namespace, "restricted", rest, any(SERVICES[name].stateful for name in rest)),
        NamespacePlan(k8s_settings.host_namespace, "privileged", host, any(SERVICES[name].stateful for name in host)),
    ]


def _metadata(plan: NamespacePlan) -> dict:
    pod_security = {ENFORCE: plan.level, ENFORCE_VERSION: POD_SECURITY_VERSION}
    if plan.level != "restricted":
        # Audited against `restricted` all the same: the audit log then lists exactly what the
        # exception admits, and anything new there stands out (a warning would repeat on every deploy).
        pod_security |= {AUDIT: "restricted", AUDIT_VERSION: POD_SECURITY_VERSION}
    metadata = {"name": plan.name, "labels": {**labels.stack_labels(plan.name, "namespace"), **pod_security}}
    if plan.level != "restricted":
        metadata["annotations"] = {EXCEPTION_ANNOTATION: HOST_ACCESS_REASON}
    return metadata


def create_namespaces(name: str, settings: Settings, parent: pulumi.Resource) -> dict[str, k8s.core.v1.Namespace]:
    """Namespace name -> resource. A namespace that holds claims is protected and retained: deleting
    it would delete every PersistentVolumeClaim in it, and with them the stack's data."""
    created = {}
    for index, plan in enumerate(namespace_plan(settings)):
        suffix = "namespace" if index == 0 else "host-namespace"
        created[plan.name] = k8s.core.v1.Namespace(
            f"{name}-{suffix}",
            metadata=_metadata(plan),
            opts=pulumi.ResourceOptions(parent=parent, protect=plan.holds_data, retain_on_delete=plan.holds_data),
        )
    return created
