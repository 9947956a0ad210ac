"""Where Prometheus may reach the Kubernetes API: the API server's own addresses and ports.

Prometheus's service discovery connects to `kubernetes.default.svc`, the ClusterIP of the `kubernetes`
Service (e.g. 10.96.0.1:443). Calico and Cilium evaluate egress policy after that address has been
translated to an API server endpoint (e.g. 10.0.0.11:6443), so a policy naming the ClusterIP admits
nothing: discovery fails and its targets vanish. The policy therefore names the endpoints, which the
API server publishes itself in the EndpointSlice `kubernetes` of namespace `default`; it is read at
deploy time (a read: never created, changed or deleted by this program). `kubernetes.apiServerCidr`
overrides the read, for clusters where the slice does not name what the CNI matches.

Every address becomes its own block (/32, or /128 for IPv6) and the slice's ports are the allowed
ports. The read happens on every `pulumi up`/`preview`, so a control plane that moved is followed by
the next deployment; TargetsMissing says when discovery finds nothing in between.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from settings import PROJECT, Settings
from topology import PROMETHEUS, egress_of

SLICE_NAMESPACE = "default"
SLICE_NAME = "kubernetes"  # written by the API server's endpoint reconciler
SLICE_ID = f"{SLICE_NAMESPACE}/{SLICE_NAME}"
OVERRIDE_KEY = "kubernetes.apiServerCidr"
_HOST_BITS = {"IPv4": 32, "IPv6": 128}


class ApiServerNotFound(pulumi.RunError):
    """The cluster does not say where its API server is; the message names the setting that fixes it.
    A RunError, so Pulumi prints the one line without a stack trace."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"{PROJECT}:{OVERRIDE_KEY}: {problem}; set {OVERRIDE_KEY} to the API server's "
            f"endpoint address (`kubectl get endpointslice {SLICE_NAME} -n {SLICE_NAMESPACE}`), "
            "not the Service's ClusterIP"
        )


@dataclass(frozen=True)
class ApiServerAccess:
    """What the egress rule to the API server admits, and where that came from (for the policy's reader)."""

    cidrs: tuple[str, ...]
    ports: tuple[int, ...]
    source: str


def from_override(settings: Settings) -> ApiServerAccess:
    """The configured block, on the ports an API server listens on (443 managed, 6443 kubeadm)."""
    return ApiServerAccess((settings.kubernetes.api_server_cidr,), egress_of(PROMETHEUS, "kube-api").ports, OVERRIDE_KEY)


def from_endpoint_slice(address_type: str | None, endpoints: Any, ports: Any) -> ApiServerAccess:
    """The blocks and ports of the EndpointSlice `default/kubernetes` (its fields as the API returns them).

    Every listed address counts, ready or not: the policy outlives this deployment, and an API server
    that is restarting right now must be reachable when it is back."""
    if address_type not in _HOST_BITS:
        raise ApiServerNotFound(f"the EndpointSlice {SLICE_ID} has addressType {address_type!r}, which a NetworkPolicy cannot name")
    addresses = sorted(
        {address for endpoint in endpoints or () for address in _field(endpoint, "addresses") or ()}, key=lambda text: ipaddress.ip_address(text).packed
    )
    if not addresses:
        raise ApiServerNotFound(f"the EndpointSlice {SLICE_ID} lists no API server address")
    numbers = sorted({int(_field(port, "port")) for port in ports or () if _field(port, "port") is not None and (_field(port, "protocol") or "TCP") == "TCP"})
    if not numbers:
        raise ApiServerNotFound(f"the EndpointSlice {SLICE_ID} lists no TCP port")
    bits = _HOST_BITS[address_type]
    cidrs = tuple(str(ipaddress.ip_network(f"{address}/{bits}")) for address in addresses)
    return ApiServerAccess(cidrs, tuple(numbers), f"EndpointSlice {SLICE_ID}")


def _field(item: Any, name: str) -> Any:
    # The provider's output types are dicts keyed by the API's field names.
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def api_server_access(name: str, settings: Settings, parent: pulumi.Resource) -> pulumi.Output[ApiServerAccess]:
    """The override when it is set (no read then), otherwise the cluster's EndpointSlice."""
    if settings.kubernetes.api_server_cidr is not None:
        return pulumi.Output.from_input(from_override(settings))
    endpoint_slice = k8s.discovery.v1.EndpointSlice.get(f"{name}-api-server-endpoints", SLICE_ID, opts=pulumi.ResourceOptions(parent=parent))
    return pulumi.Output.all(endpoint_slice.address_type, endpoint_slice.endpoints, endpoint_slice.ports).apply(lambda fields: from_endpoint_slice(*fields))
