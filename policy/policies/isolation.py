"""What may reach what: only the entrypoint is reachable from outside the stack (published ports,
Services, Ingresses), and every Kubernetes workload is isolated by NetworkPolicies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import (
    DEFAULT_CONFIG,
    DOCKER_CONTAINER,
    K8S_INGRESS,
    K8S_NETWORK_POLICY,
    K8S_SERVICE,
    K8S_WORKLOADS,
    NAME_LABEL,
    UNKNOWN,
    Resource,
    as_list,
    as_map,
    get,
    is_true,
    k8s_containers,
    namespace_of,
    pod_labels,
    pod_spec,
    service_of_container,
)

# --- only the entrypoint is exposed ------------------------------------------------------------


def check_only_entrypoint_exposed(
    resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG
) -> list[str]:
    entrypoint = config.get("entrypoint", DEFAULT_CONFIG["entrypoint"])
    found = []
    if resource_type == DOCKER_CONTAINER:
        service = service_of_container(props)
        if props.get("networkMode") == "host":
            found.append("uses the host's network, which publishes every port it listens on; attach it to the stack's networks")
        if service != entrypoint and (as_list(props.get("ports")) or is_true(props.get("publishAllPorts"))):
            found.append(f"publishes ports on the host but is {service!r}; only {entrypoint!r} may be reached from outside the stack")
    elif resource_type == K8S_SERVICE:
        selected = as_map(get(props, "spec", "selector")).get(NAME_LABEL)
        kind = get(props, "spec", "type", default="ClusterIP")
        if selected != entrypoint:
            if kind in ("LoadBalancer", "NodePort"):
                found.append(f"type {kind} exposes {selected!r} outside the cluster; only {entrypoint!r} may be exposed (through the Ingress)")
            if as_list(get(props, "spec", "externalIPs")):
                found.append(f"externalIPs expose {selected!r} outside the cluster; only {entrypoint!r} may be exposed")
    else:
        pod = pod_spec(resource_type, props)
        if pod is not None and pod_labels(resource_type, props).get(NAME_LABEL) != entrypoint:
            for container in k8s_containers(pod):
                if any(isinstance(port, Mapping) and port.get("hostPort") for port in as_list(container.get("ports"))):
                    found.append(f"container {container.get('name')} binds a hostPort; only {entrypoint!r} may be reached from outside")
    return found


def _ingress_backends(props: Mapping[str, Any]) -> Iterator[str]:
    default = get(props, "spec", "defaultBackend", "service", "name")
    if default is not None:
        yield default
    for rule in as_list(get(props, "spec", "rules")):
        for path in as_list(get(rule, "http", "paths")):
            name = get(path, "backend", "service", "name")
            if name is not None:
                yield name
            elif get(path, "backend", "resource") is not None:
                yield "<resource backend>"


def check_ingress_routes_to_entrypoint(resources: Sequence[Resource], config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Every Ingress backend is a Service (in the Ingress's namespace) that selects the entrypoint's pods."""
    entrypoint = config.get("entrypoint", DEFAULT_CONFIG["entrypoint"])
    services = {(namespace_of(r.props), get(r.props, "metadata", "name")): r for r in resources if r.type == K8S_SERVICE}
    found = []
    for ingress in (r for r in resources if r.type == K8S_INGRESS):
        namespace = namespace_of(ingress.props)
        for backend in _ingress_backends(ingress.props):
            if backend is UNKNOWN:
                continue
            service = services.get((namespace, backend))
            selected = as_map(get(service.props, "spec", "selector")).get(NAME_LABEL) if service else None
            if selected != entrypoint:
                why = "is not a Service of this stack" if service is None else f"selects {selected!r}"
                found.append((ingress, f"routes to {namespace}/{backend}, which {why}; the Ingress may only route to {entrypoint!r}"))
    return found


# --- every Kubernetes workload is selected by a NetworkPolicy ----------------------------------


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (an empty selector matches everything)."""
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in as_list(selector.get("matchExpressions")):
        key, operator, values = expression.get("key"), expression.get("operator"), as_list(expression.get("values"))
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _policy_types(spec: Mapping[str, Any]) -> set[str]:
    declared = as_list(spec.get("policyTypes"))
    if declared:
        return set(declared)
    return {"Ingress"} | ({"Egress"} if "egress" in spec else set())


def check_workloads_isolated(resources: Sequence[Resource], config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Each workload's pods are selected, in both directions, by NetworkPolicies of their namespace;
    a pod no policy selects accepts and opens any connection."""
    policies = [(namespace_of(r.props), as_map(get(r.props, "spec"))) for r in resources if r.type == K8S_NETWORK_POLICY]
    found = []
    for workload in (r for r in resources if r.type in K8S_WORKLOADS):
        namespace, labels = namespace_of(workload.props), pod_labels(workload.type, workload.props)
        covered: set[str] = set()
        for policy_namespace, spec in policies:
            if policy_namespace == namespace and selector_matches(as_map(spec.get("podSelector")), labels):
                covered |= _policy_types(spec)
        missing = {"Ingress", "Egress"} - covered
        if missing:
            found.append(
                (
                    workload,
                    f"pods {dict(labels)} in {namespace} are not isolated for {', '.join(sorted(missing))}: "
                    "no NetworkPolicy of that namespace selects them for it",
                )
            )
    return found
