"""Isolation means the same thing on both backends: NetworkPolicies and Docker networks allow the same edges.

The Kubernetes side is evaluated, not pattern-matched: a small evaluator applies the NetworkPolicy
semantics (a connection needs, on the source side, one egress rule of any policy selecting the source,
or no such policy at all, and the same for ingress on the target side; rules are additive; peers match
by namespace labels, pod labels or address block) to the objects the prod program creates, over
every pair of pods the stack runs plus outside endpoints (the application, the ingress controller,
cluster DNS, the API server, a stranger pod, the internet, private and link-local addresses).

A Docker network cannot restrict by port or by direction, so the comparison is on what both express:
every topology edge is allowed on both; Kubernetes allows nothing beyond the edges (from either side
alone); the pairs Docker allows beyond Kubernetes are exactly the least any set of Docker networks
must (each one-way edge's reverse, and the application network's pairs), and are the list the docs
show; the services that reach the application are the same on both, and so are those that reach the
internet, except where a Docker bridge cannot be as tight as a NetworkPolicy: those exceptions are
listed, with their reason, in DOCKER_ROUTES_OUT_BEYOND_TOPOLOGY, so any other drift fails.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from synthesis.run import SynthResult, synth, unwrap
from synthesis.stack_config import load_stack_config, settings_mapping
from topology import EDGES, EGRESS, ENTRYPOINT, NOTIFY_PORTS, SERVICES, edges_on, services_on

NAME = "app.kubernetes.io/name"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
# A concrete API server address, set with the kubernetes.apiServerCidr override: the parity is about how
# topology is translated. Without the override the addresses are read from the cluster
# (test_the_api_server_is_reached_at_its_endpoints_not_at_the_service_vip).
API_SERVER = "10.0.0.1"
# The `kubernetes` Service's ClusterIP, which the CNI translates to an endpoint before matching egress.
SERVICE_VIP = "10.96.0.1"
PUBLIC_ADDRESS = "93.184.216.34"
PROBE_PORTS = sorted({port.number for service in SERVICES.values() for port in service.ports} | set(NOTIFY_PORTS) | {22, 53, 80, 443, 6379, 6443, 8000, 8080})
PROTOCOLS = ("TCP", "UDP")


@dataclass(frozen=True)
class Endpoint:
    what: str
    ip: str
    namespace: str | None = None  # None: an address outside the cluster's pods
    labels: Mapping[str, str] = field(default_factory=dict)


class PolicyEvaluator:
    """NetworkPolicy semantics over the manifests of one synthesised stack."""

    def __init__(self, result: SynthResult) -> None:
        manifests = [unwrap(r.inputs) for r in result.resources if r.type.startswith("kubernetes:") and r.custom]
        self.policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
        self.namespace_labels = {m["metadata"]["name"]: m["metadata"].get("labels", {}) for m in manifests if m["kind"] == "Namespace"}
        self.pods: dict[str, Endpoint] = {}
        workloads = [m for m in manifests if m["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}]
        for index, manifest in enumerate(sorted(workloads, key=lambda m: m["metadata"]["name"])):
            # A CronJob's pods are its job template's (every run of a job carries the same identity labels).
            template = manifest["spec"]["jobTemplate"]["spec"]["template"] if manifest["kind"] == "CronJob" else manifest["spec"]["template"]
            template_labels = template["metadata"]["labels"]
            self.pods[template_labels[NAME]] = Endpoint(template_labels[NAME], f"10.244.{index}.10", manifest["metadata"]["namespace"], template_labels)

    def _labels_of_namespace(self, namespace: str) -> dict[str, str]:
        return {**self.namespace_labels.get(namespace, {}), NAMESPACE_LABEL: namespace}

    @staticmethod
    def _match(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
        if selector.get("matchExpressions"):
            raise NotImplementedError("matchExpressions: extend the evaluator before using them")
        return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())

    def _peer(self, peer: Mapping[str, Any], policy_namespace: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            # Pod addresses are matched too: the conservative reading, since CNIs differ on it.
            address = ipaddress.ip_address(other.ip)
            block = peer["ipBlock"]
            return address in ipaddress.ip_network(block["cidr"]) and not any(address in ipaddress.ip_network(excluded) for excluded in block.get("except", []))
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            namespace_ok = self._match(peer["namespaceSelector"], self._labels_of_namespace(other.namespace))
        else:
            namespace_ok = other.namespace == policy_namespace
        return namespace_ok and ("podSelector" not in peer or self._match(peer["podSelector"], other.labels))

    @staticmethod
    def _port(rule: Mapping[str, Any], port: int, protocol: str) -> bool:
        if not rule.get("ports"):
            return True
        for item in rule["ports"]:
            if isinstance(item.get("port"), str):
                raise NotImplementedError("named ports in policies: extend the evaluator")
            if item.get("protocol", "TCP") == protocol and item.get("port") in (None, port):
                return True
        return False

    def _admits(self, pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str) -> bool:
        policy_type, rules_key, peers_key = {"egress": ("Egress", "egress", "to"), "ingress": ("Ingress", "ingress", "from")}[direction]
        if pod.namespace is None:
            return True  # not a pod: nothing of ours governs it
        governing = [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and policy_type in p["spec"].get("policyTypes", [])
            and self._match(p["spec"]["podSelector"], pod.labels)
        ]
        if not governing:
            return True
        return any(
            self._port(rule, port, protocol) and any(self._peer(peer, p["metadata"]["namespace"], other) for peer in rule.get(peers_key, []))
            for p in governing
            for rule in p["spec"].get(rules_key, [])
        )

    def admits_out(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._admits(source, target, port, protocol, "egress")

    def admits_in(self, target: Endpoint, source: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._admits(target, source, port, protocol, "ingress")

    def allows(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self.admits_out(source, target, port, protocol) and self.admits_in(target, source, port, protocol)


@pytest.fixture(scope="module")
def kubernetes() -> tuple[SynthResult, PolicyEvaluator]:
    result = synth("prod", [f"kubernetes.apiServerCidr={API_SERVER}/32"])
    return result, PolicyEvaluator(result)


def outside(result: SynthResult) -> dict[str, Endpoint]:
    settings = result.settings
    return {
        "app": Endpoint("an application pod", "10.244.200.10", settings.app.namespace, {NAME: "ngx-voice-agent"}),
        "ingress": Endpoint("the ingress controller", "10.244.201.10", "ingress-nginx", {NAME: "ingress-nginx"}),
        "dns": Endpoint("cluster DNS", "10.244.202.10", "kube-system", {"k8s-app": "kube-dns"}),
        "stranger": Endpoint("a pod of another team", "10.244.203.10", "default", {NAME: "stranger"}),
        "api": Endpoint("the API server", API_SERVER),
        "internet": Endpoint("a public address", PUBLIC_ADDRESS),
        "metadata": Endpoint("the cloud metadata endpoint", "169.254.169.254"),
        "private": Endpoint("a private address outside the cluster", "10.20.30.40"),
    }


def intruders(result: SynthResult) -> dict[str, Endpoint]:
    """Pods in the stack's namespaces that are none of its services (a `kubectl run` debug pod, say)."""
    k8s = result.settings.kubernetes
    return {
        f"intruder in {namespace}": Endpoint(f"an unlabelled pod in {namespace}", f"10.244.{210 + index}.10", namespace, {"run": "debug"})
        for index, namespace in enumerate((k8s.namespace, k8s.host_namespace))
    }


def edge_set() -> set[tuple[str, str, int, str]]:
    return {(e.source, e.target, SERVICES[e.target].port(e.port).number, SERVICES[e.target].port(e.port).protocol) for e in EDGES}


def egress_sources(to: str) -> set[str]:
    return {egress.source for egress in EGRESS if egress.to == to}


def egress_ports(source: str, to: str) -> set[int]:
    return {port for egress in EGRESS if egress.source == source and egress.to == to for port in egress.ports}


def kubernetes_reach(evaluator: PolicyEvaluator, target: Endpoint) -> set[str]:
    return {
        service
        for service, pod in evaluator.pods.items()
        if any(evaluator.allows(pod, target, port, protocol) for port in PROBE_PORTS for protocol in PROTOCOLS)
    }


def test_the_evaluator_sees_every_service(kubernetes):
    _, evaluator = kubernetes
    assert set(evaluator.pods) == set(SERVICES)


def test_every_topology_edge_is_allowed_on_kubernetes(kubernetes):
    _, evaluator = kubernetes
    for source, target, port, protocol in sorted(edge_set()):
        assert evaluator.allows(evaluator.pods[source], evaluator.pods[target], port, protocol), f"{source} -> {target}:{port}/{protocol}"


def test_kubernetes_allows_nothing_between_stack_pods_beyond_the_edges(kubernetes):
    _, evaluator = kubernetes
    edges = edge_set()
    extra = sorted(
        (source, target, port, protocol)
        for source, source_pod in evaluator.pods.items()
        for target, target_pod in evaluator.pods.items()
        for port in PROBE_PORTS
        for protocol in PROTOCOLS
        if evaluator.allows(source_pod, target_pod, port, protocol) and (source, target, port, protocol) not in edges
    )
    assert not extra


def test_each_side_alone_admits_only_the_edges(kubernetes):
    """Defence in depth: a target's ingress rules admit only its topology clients, and a source's egress
    rules reach only its topology targets, whatever the other side's policy says. Intruder pods in the
    stack's namespaces are neither admitted nor reachable."""
    result, evaluator = kubernetes
    edges = edge_set()
    others = {**evaluator.pods, **intruders(result), **outside(result)}
    proxy_https = SERVICES[ENTRYPOINT].port("https").number
    admitted_in = sorted(
        (source, target, port, protocol)
        for target, target_pod in evaluator.pods.items()
        for source, source_pod in others.items()
        for port in PROBE_PORTS
        for protocol in PROTOCOLS
        if evaluator.admits_in(target_pod, source_pod, port, protocol) and (source, target, port, protocol) not in edges
    )
    assert admitted_in == [("ingress", ENTRYPOINT, proxy_https, "TCP")]
    reached_out = sorted(
        (source, target, port, protocol)
        for source, source_pod in evaluator.pods.items()
        for target, target_pod in {**evaluator.pods, **intruders(result)}.items()
        for port in PROBE_PORTS
        for protocol in PROTOCOLS
        if evaluator.admits_out(source_pod, target_pod, port, protocol) and (source, target, port, protocol) not in edges
    )
    assert not reached_out


def test_only_the_entrypoint_accepts_connections_from_outside_the_stack(kubernetes):
    result, evaluator = kubernetes
    proxy_https = SERVICES[ENTRYPOINT].port("https").number
    admitted = sorted(
        (name, service, port, protocol)
        for name, endpoint in outside(result).items()
        for service, pod in evaluator.pods.items()
        for port in PROBE_PORTS
        for protocol in PROTOCOLS
        if evaluator.allows(endpoint, pod, port, protocol)
    )
    assert admitted == [("ingress", ENTRYPOINT, proxy_https, "TCP")]


def test_traffic_leaves_the_stack_only_where_topology_says(kubernetes):
    result, evaluator = kubernetes
    points = outside(result)
    for service, pod in evaluator.pods.items():
        internet_ports = {port for port in PROBE_PORTS for protocol in PROTOCOLS if evaluator.allows(pod, points["internet"], port, protocol)}
        assert internet_ports == egress_ports(service, "internet"), service
        for name in ("metadata", "private", "stranger"):
            assert not any(evaluator.allows(pod, points[name], port, protocol) for port in PROBE_PORTS for protocol in PROTOCOLS), (service, name)
        api_ports = {port for port in PROBE_PORTS if evaluator.allows(pod, points["api"], port)}
        assert api_ports == ({443, 6443} if service in egress_sources("kube-api") else set()), service
        assert (service in egress_sources("app")) == any(evaluator.allows(pod, points["app"], port) for port in PROBE_PORTS), service
        assert evaluator.allows(pod, points["dns"], 53, "UDP") and evaluator.allows(pod, points["dns"], 53, "TCP"), service


def test_the_api_server_is_reached_at_its_endpoints_not_at_the_service_vip(prod_stack):
    """prod without the override: only the topology's kube-api clients reach the endpoints the EndpointSlice
    default/kubernetes lists (the mocks' answer), only on its ports; nobody is admitted to the VIP."""
    evaluator = PolicyEvaluator(prod_stack)
    [read] = prod_stack.reads
    endpoints = [Endpoint("an API server", address) for endpoint in read.state["endpoints"] for address in endpoint["addresses"]]
    ports = {port["port"] for port in read.state["ports"]}
    assert endpoints and ports
    for service, pod in evaluator.pods.items():
        for endpoint in endpoints:
            reached = {port for port in set(PROBE_PORTS) | ports for protocol in PROTOCOLS if evaluator.allows(pod, endpoint, port, protocol)}
            assert reached == (ports if service in egress_sources("kube-api") else set()), (service, endpoint.ip)
        vip = Endpoint("the kubernetes Service's ClusterIP", SERVICE_VIP)
        assert not any(evaluator.allows(pod, vip, port) for port in PROBE_PORTS), service


# Where a Docker bridge cannot be as tight as a NetworkPolicy, and why; any other difference fails.
# components/docker/network_docs.py states the same reasons in the docs, generated.
# - The entry point publishes ports, which Docker only does through a non-internal network, and a
#   non-internal network also routes out of the host.
# - With the application on the host (app.dockerNetwork unset), its clients reach it through the host
#   gateway, which again only a non-internal network routes to.
DOCKER_ROUTES_OUT_BEYOND_TOPOLOGY = {ENTRYPOINT}
APP_NETWORK = "ngx_default"


def _dev_settings(app_network: str | None):
    from settings import parse

    overrides = [f"app.dockerNetwork={app_network}"] if app_network else []
    raw, secret_keys = settings_mapping(load_stack_config("dev", overrides))
    return parse(raw, stack="dev", secret_keys=secret_keys)


def _docker_view(settings) -> tuple[dict[str, set[str]], set[str], set[str]]:
    """(network -> members, services with a route out of the host, services that reach the application),
    read from the Docker backend's pure plan. Imported here so that its absence fails (never skips)."""
    from components.docker.networks import APP, is_internal, network_plan, reaches_host

    plan = {key: set(members) for key, members in network_plan(settings).items()}
    # Every network the stack creates is a bridge; only the internal ones have no route out.
    # APP is the application's own network: it leads to the application, not (as far as we know) out.
    routes_out = set().union(*(members for key, members in plan.items() if not is_internal(key) and key != APP))
    reaches_app = plan.get(APP, set()) | {service for service in SERVICES if reaches_host(settings, service)}
    return plan, routes_out, reaches_app


def docker_pairs(networks: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    """Ordered pairs of services Docker lets connect: any two on one network, either way, any port."""
    return {(a, b) for members in networks.values() for a in members for b in members if a != b}


def kubernetes_pairs(evaluator: PolicyEvaluator) -> set[tuple[str, str]]:
    """Ordered pairs of distinct services the NetworkPolicies let connect on some port."""
    return {
        (source, target)
        for source, source_pod in evaluator.pods.items()
        for target, target_pod in evaluator.pods.items()
        if source != target and any(evaluator.allows(source_pod, target_pod, port, protocol) for port in PROBE_PORTS for protocol in PROTOCOLS)
    }


def documented_extra_pairs(app_network: str | None) -> set[tuple[str, str]]:
    """The pairs docs/deploying-dev.md lists for one case of app.dockerNetwork (its generated table)."""
    import re

    import gendocs

    text = gendocs.DEPLOYING_DEV.read_text()
    block = text.split("<!-- BEGIN docker isolation -->", 1)[1].split("<!-- END docker isolation -->", 1)[0]
    on_host, on_network = block.split("**Application on a Docker network", 1)
    return {(a, b) for a, b in re.findall(r"^\| `([\w-]+) → ([\w-]+)` \|", on_host if app_network is None else on_network, re.M)}


@pytest.mark.parametrize("app_network", [None, APP_NETWORK], ids=["app-on-host", "app-network"])
def test_docker_networks_and_network_policies_allow_the_same_edges(kubernetes, app_network):
    result, evaluator = kubernetes
    networks, docker_out, docker_app = _docker_view(_dev_settings(app_network))
    on_docker = edges_on("docker")
    # Only edges to a Kubernetes-only service (kube-state-metrics) have no Docker twin.
    assert {(e.source, e.target) for e in EDGES if e not in on_docker} == {("prometheus", "kube-state-metrics")}
    for edge in EDGES:
        if edge in on_docker:
            assert any({edge.source, edge.target} <= members for members in networks.values()), f"Docker: {edge.source} -> {edge.target}"
        port = SERVICES[edge.target].port(edge.port)
        assert evaluator.allows(evaluator.pods[edge.source], evaluator.pods[edge.target], port.number, port.protocol)
    points = outside(result)
    kubernetes_internet = kubernetes_reach(evaluator, points["internet"])
    kubernetes_app = kubernetes_reach(evaluator, points["app"])
    assert kubernetes_internet == egress_sources("internet")
    assert kubernetes_app == docker_app == egress_sources("app")
    beyond = DOCKER_ROUTES_OUT_BEYOND_TOPOLOGY | (egress_sources("app") if app_network is None else set())
    assert docker_out == kubernetes_internet | beyond


def test_only_the_ingress_controller_reaches_cert_managers_http01_solver(kubernetes):
    """prod sets kubernetes.clusterIssuer: the solver pods cert-manager starts in the stack namespace
    (labelled acme.cert-manager.io/http01-solver) are admitted from the ingress controller on 8089 and
    from nowhere else; they reach nothing but DNS."""
    result, evaluator = kubernetes
    solver = Endpoint(
        "an HTTP-01 solver",
        "10.244.220.10",
        result.settings.kubernetes.namespace,
        {"acme.cert-manager.io/http01-solver": "true", "acme.cert-manager.io/http-token": "1234"},
    )
    others = {**evaluator.pods, **intruders(result), **outside(result)}
    admitted = sorted(
        (name, port, protocol)
        for name, other in others.items()
        for port in PROBE_PORTS + [8089]
        for protocol in PROTOCOLS
        if evaluator.allows(other, solver, port, protocol)
    )
    assert admitted == [("ingress", 8089, "TCP")]
    reached = sorted(
        (name, port, protocol)
        for name, other in others.items()
        for port in PROBE_PORTS
        for protocol in PROTOCOLS
        if evaluator.admits_out(solver, other, port, protocol)
    )
    assert reached == [("dns", 53, "TCP"), ("dns", 53, "UDP")]


@pytest.mark.parametrize("app_network", [None, APP_NETWORK], ids=["app-on-host", "app-network"])
def test_what_docker_allows_beyond_kubernetes_is_the_least_docker_can_and_is_what_the_docs_list(kubernetes, app_network):
    """Docker allows every pair Kubernetes does, plus exactly: the reverse of each one-way edge (a network
    is two-way; no set of networks can avoid it) and, with app.dockerNetwork, the pairs among the
    application's clients (they must all join that one network). That set is computed here from the
    plan and the evaluated NetworkPolicies, and must be the table docs/deploying-dev.md shows."""
    _, evaluator = kubernetes
    networks, _, _ = _docker_view(_dev_settings(app_network))
    # Kubernetes-only services (kube-state-metrics) have no Docker twin to compare.
    docker_services = services_on("docker")
    on_kubernetes = {(a, b) for a, b in kubernetes_pairs(evaluator) if a in docker_services and b in docker_services}
    on_docker = docker_pairs(networks)
    assert on_kubernetes <= on_docker
    beyond = on_docker - on_kubernetes
    reverses = {(target, source) for source, target in on_kubernetes if (target, source) not in on_kubernetes}
    clients = egress_sources("app")
    app_pairs = {(a, b) for a in clients for b in clients if a != b and (a, b) not in on_kubernetes} if app_network else set()
    assert beyond == reverses | app_pairs
    assert documented_extra_pairs(app_network) == beyond
