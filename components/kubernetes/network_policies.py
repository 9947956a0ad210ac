"""NetworkPolicies derived from topology.py: the same edges the Docker networks implement.

Each namespace of the stack denies all ingress and egress, then allows DNS; each service gets one
policy that admits exactly its topology clients on exactly their ports and lets it reach exactly its
topology targets and its declared egress (internet, the application, the Kubernetes API). Policies
are additive, so nothing here can widen another policy; the only way in from outside the stack is
the entrypoint (the proxy) from the ingress controller's namespace, and, in TLS mode cluster-issuer
(trust.py), cert-manager's HTTP-01 solver pods from that same namespace on their one port.

`network_policy_plan` is pure data so a test can compare it with the Docker networks and with the
objects that reach the cluster. The API server's addresses and ports are the one part known only at
deploy time (api_server.py): the plan names them as a peer, and `policy_manifest` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

import addresses
import trust
from components import labels
from components.kubernetes.api_server import ApiServerAccess, api_server_access
from settings import Settings
from topology import ENTRYPOINT, REMOTE_WRITE, SERVICES, Egress, edges, ways_out

ENTRYPOINT_PORT = "https"
DNS_NAMESPACE = "kube-system"
DNS_PORTS = ((53, "UDP"), (53, "TCP"))
# "The internet" for notifications: every IPv4 address except private, shared (CGNAT) and link-local
# ranges, so a receiver URL can never be pointed at a cluster service or the cloud metadata endpoint
# (169.254.169.254). An SMTP relay inside the private network therefore needs its own policy.
PUBLIC_IPV4 = "0.0.0.0/0"
NON_PUBLIC_IPV4 = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
# cert-manager's HTTP-01 solver (cert-manager pkg/issuer/acme/http/pod.go): a pod labelled so, listening
# on 8089, created in the namespace of the Ingress it proves the domain for, i.e. the stack's, where
# the default deny would keep the ingress controller (which forwards the CA's challenge) out.
ACME_SOLVER_POLICY = "acme-http01-solver"
ACME_SOLVER_LABELS = (("acme.cert-manager.io/http01-solver", "true"),)
ACME_SOLVER_PORT = 8089


@dataclass(frozen=True)
class Peer:
    """The other end of a rule: pods (of a service, or any) in a namespace, an address block, or the
    Kubernetes API server (its addresses, and the rule's ports, come from an ApiServerAccess)."""

    namespace: str | None = None
    service: str | None = None  # None with a namespace: every pod of that namespace
    cidr: str | None = None
    excluded: tuple[str, ...] = ()
    api_server: bool = False


@dataclass(frozen=True)
class Rule:
    peer: Peer
    ports: tuple[tuple[int, str], ...]  # (number, protocol); empty means every port
    why: str


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    service: str | None  # pods it selects; None selects every pod of the namespace (or those of pod_labels)
    ingress: tuple[Rule, ...] | None  # None: the policy does not govern ingress
    egress: tuple[Rule, ...] | None
    pod_labels: tuple[tuple[str, str], ...] = ()  # selects pods that are no service of the stack


def _port(service: str, port_name: str) -> tuple[int, str]:
    port = SERVICES[service].port(port_name)
    return port.number, port.protocol


def _pods(settings: Settings, service: str) -> Peer:
    return Peer(namespace=addresses.namespace(settings, service), service=service)


def _egress_peer(settings: Settings, item: Egress) -> Peer:
    to = item.to
    if to == REMOTE_WRITE:
        # A store named by host: any address on its port (policies cannot name DNS hosts).
        return Peer(cidr=item.cidrs[0] if item.cidrs else PUBLIC_IPV4)
    if to == "internet":
        return Peer(cidr=PUBLIC_IPV4, excluded=NON_PUBLIC_IPV4)
    if to == "app":
        # The application's Service selector selects Services, not pods, so the namespace is the
        # narrowest peer settings can name; the application's own policies decide further.
        return Peer(namespace=settings.app.namespace)
    if to == "kube-api":
        return Peer(api_server=True)
    raise ValueError(f"topology egress to {to!r} has no Kubernetes peer")


def _service_policy(settings: Settings, service: str) -> Policy:
    ingress = [Rule(_pods(settings, edge.source), (_port(service, edge.port),), edge.why) for edge in edges(settings) if edge.target == service]
    if service == ENTRYPOINT:
        ingress.append(
            Rule(
                Peer(namespace=settings.kubernetes.ingress_controller_namespace),
                (_port(service, ENTRYPOINT_PORT),),
                "users arrive through the ingress controller",
            )
        )
    egress = [Rule(_pods(settings, edge.target), (_port(edge.target, edge.port),), edge.why) for edge in edges(settings) if edge.source == service]
    egress += [
        # The API server's ports are those of its endpoints, known with its addresses (api_server.py).
        Rule(_egress_peer(settings, item), () if item.to == "kube-api" else tuple((number, "TCP") for number in item.ports), item.why)
        for item in ways_out(settings)
        if item.source == service
    ]
    return Policy(service, addresses.namespace(settings, service), service, tuple(ingress), tuple(egress))


def network_policy_plan(settings: Settings) -> list[Policy]:
    """Every NetworkPolicy of the stack, in a stable order."""
    namespaces = sorted({addresses.namespace(settings, service) for service in SERVICES})
    plan: list[Policy] = []
    for namespace in namespaces:
        plan.append(Policy("default-deny", namespace, None, ingress=(), egress=()))
        plan.append(
            Policy("allow-dns", namespace, None, ingress=None, egress=(Rule(Peer(namespace=DNS_NAMESPACE), DNS_PORTS, "name resolution (cluster DNS)"),))
        )
    plan += [_service_policy(settings, service) for service in sorted(SERVICES)]
    if trust.tls_mode(settings) == trust.CLUSTER_ISSUER:
        plan.append(_acme_solver_policy(settings))
    return plan


def uses_api_server(policy: Policy) -> bool:
    return any(rule.peer.api_server for rule in policy.egress or ())


def _api_server_rule_manifest(access: ApiServerAccess | None) -> dict:
    if access is None:
        raise ValueError("a policy with egress to the API server needs its ApiServerAccess")
    return {"to": [{"ipBlock": {"cidr": cidr}} for cidr in access.cidrs], "ports": [{"port": number, "protocol": "TCP"} for number in access.ports]}


def _acme_solver_policy(settings: Settings) -> Policy:
    """Only the ingress controller reaches a solver, on its one port; its egress stays default-denied
    (it only answers)."""
    controller = Peer(namespace=settings.kubernetes.ingress_controller_namespace)
    return Policy(
        ACME_SOLVER_POLICY,
        addresses.namespace(settings, ENTRYPOINT),
        None,
        ingress=(Rule(controller, ((ACME_SOLVER_PORT, "TCP"),), "the CA's HTTP-01 challenge, forwarded by the ingress controller"),),
        egress=None,
        pod_labels=ACME_SOLVER_LABELS,
    )


def _peer_manifest(peer: Peer) -> dict:
    if peer.cidr is not None:
        block = {"cidr": peer.cidr}
        if peer.excluded:
            block["except"] = list(peer.excluded)
        return {"ipBlock": block}
    manifest: dict = {"namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: peer.namespace}}}
    if peer.service is not None:
        manifest["podSelector"] = {"matchLabels": labels.selector_labels(peer.service)}
    return manifest


def _rule_manifest(rule: Rule, direction: str) -> dict:
    manifest: dict = {direction: [_peer_manifest(rule.peer)]}
    if rule.ports:
        manifest["ports"] = [{"port": number, "protocol": protocol} for number, protocol in rule.ports]
    return manifest


def policy_manifest(policy: Policy, api_server: ApiServerAccess | None = None) -> dict:
    """The NetworkPolicy spec of one planned policy; `api_server` where it reaches the API server."""
    if policy.pod_labels:
        selector = {"matchLabels": dict(policy.pod_labels)}
    else:
        selector = {"matchLabels": labels.selector_labels(policy.service)} if policy.service else {}
    spec: dict = {"podSelector": selector, "policyTypes": []}
    if policy.ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = [_rule_manifest(rule, "from") for rule in policy.ingress]
    if policy.egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [_api_server_rule_manifest(api_server) if rule.peer.api_server else _rule_manifest(rule, "to") for rule in policy.egress]
    return spec


def create_network_policies(
    name: str, settings: Settings, namespaces: dict[str, pulumi.Output[str]], parent: pulumi.Resource
) -> list[k8s.networking.v1.NetworkPolicy]:
    """`namespaces` maps each stack namespace to its name as an Output of the Namespace resource, so
    the policies are created after (and deleted before) their namespace."""
    created = []
    plan = network_policy_plan(settings)
    access = api_server_access(name, settings, parent) if any(uses_api_server(policy) for policy in plan) else None
    for policy in plan:
        metadata_labels = labels.service_labels(policy.service) if policy.service else labels.stack_labels(policy.name, "network-policy")
        created.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy.namespace}-{policy.name}-policy",
                metadata={"name": policy.name, "namespace": namespaces[policy.namespace], "labels": metadata_labels},
                # Only the policies that reach the API server wait for its addresses.
                spec=access.apply(lambda resolved, policy=policy: policy_manifest(policy, resolved)) if uses_api_server(policy) else policy_manifest(policy),
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    return created
