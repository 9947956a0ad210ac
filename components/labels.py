"""`app.kubernetes.io/*` labels of every object, and the selector labels derived from them.

Selectors (Deployment/StatefulSet/DaemonSet `selector`, Service `selector`, PDB, NetworkPolicy and
anti-affinity) use only `name` and `instance`: both never change for the life of a service, while
`version` changes with every image bump. A selector is immutable on a workload, so a version in it
would turn every upgrade into a failed update (or a replacement).
"""

from __future__ import annotations

import re

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"
VERSION = "app.kubernetes.io/version"
MANAGED_BY = "app.kubernetes.io/managed-by"

STACK = "ngx-monitoring"
MANAGER = "pulumi"
# Kubernetes' own label on every namespace (set by the API server since 1.22, immutable).
NAMESPACE_NAME = "kubernetes.io/metadata.name"

# What each service is within the stack (the `component` label).
COMPONENTS = {
    "prometheus": "metrics",
    "alertmanager": "alerting",
    "grafana": "dashboards",
    "loki": "logs",
    "alloy": "log-shipper",
    "node-exporter": "node-metrics",
    "redis-exporter": "redis-metrics",
    "proxy": "proxy",
    "proxy-exporter": "proxy-metrics",
    "pushgateway": "push-metrics",
    "backup": "backup",
    "kube-state-metrics": "object-metrics",
}

_LABEL_VALUE_INVALID = re.compile(r"[^A-Za-z0-9_.-]")


def selector_labels(service: str) -> dict[str, str]:
    """The labels a selector matches: stable for the life of the service."""
    return {NAME: service, INSTANCE: STACK}


def stack_labels(name: str, component: str) -> dict[str, str]:
    """Labels of an object that belongs to the stack rather than to one service (namespace, policy)."""
    return {NAME: name, INSTANCE: STACK, PART_OF: STACK, COMPONENT: component, MANAGED_BY: MANAGER}


def service_labels(service: str, image: str | None = None) -> dict[str, str]:
    """Metadata labels of a service's objects; `version` only where an image runs (workloads, pods)."""
    labels = {**stack_labels(service, COMPONENTS[service]), **selector_labels(service)}
    if image is not None:
        labels[VERSION] = image_version(image)
    return labels


def image_version(image: str) -> str:
    """`prom/prometheus:v3.5.0@sha256:...` -> `v3.5.0` (a label value: at most 63 characters)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "unknown"
    return _LABEL_VALUE_INVALID.sub("-", tag)[:63].strip("-_.") or "unknown"
