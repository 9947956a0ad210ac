"""Docker networks of the stack, derived from the topology.

A Docker network lets every pair of its members talk, in both directions and on every port, so a
network can only stand for a *clique* of services. The plan therefore covers the topology's edges with
cliques of services that are all pairwise connected in it (`EDGES`, read without direction): any two
services that share a network are joined by a topology edge one way or the other, and a connection
the topology allows in neither direction has no network to travel on. What Docker still allows beyond
`EDGES` is computed by `extra_pairs` (every reverse of an edge, and what the application's network
adds); docs/deploying-dev.md lists it, generated (components/docker/network_docs.py).

- `internal-<members>`: the cliques. Docker gives an internal network no route out of the host.
- `egress-<members>`: the services the topology lets leave the stack (`EGRESS` to the internet, and
  to the application when it runs on the host: reached through the host gateway, which an internal
  network cannot route to). Not internal; services share one only where the topology joins them
  already, so it adds no pair.
- `ingress`: only the entry point. Docker publishes ports only through a non-internal network, and the
  proxy needs no way out, so it gets a network of its own.
- `app`: the application's existing network (`app.dockerNetwork`), joined only by the services that
  connect to the application. The stack never creates or deletes it.

Fewer networks than edges: Docker hands each network a subnet from its default address pools
(about 30 networks per engine unless `default-address-pools` is raised), so one network per edge
would take most of a host's pool. `EGRESS` to the Kubernetes API has no meaning on Docker and is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pulumi
import pulumi_docker as docker

from components.labels import STACK, stack_labels
from settings import Settings
from topology import EGRESS, ENTRYPOINT, REMOTE_WRITE, edges_on, services_on, ways_out

# Docker runs only the services of its backend (kube-state-metrics is Kubernetes-only).
DOCKER_SERVICES = services_on("docker")
DOCKER_EDGES = edges_on("docker")

INTERNAL = "internal"
EGRESS_NETWORK = "egress"
INGRESS = "ingress"
APP = "app"

Pair = frozenset  # two services, without direction


def egress_sources(to: str, settings: Settings | None = None) -> frozenset[str]:
    """Docker services with a way out to `to`; with `settings`, the ways out they turn on too (topology.ways_out)."""
    ways = EGRESS if settings is None else ways_out(settings)
    return frozenset(item.source for item in ways if item.to == to and item.source in services_on("docker"))


def topology_pairs() -> frozenset[Pair]:
    """The topology's edges without direction (and without a service's edge to itself: on Docker a
    service runs one container)."""
    return frozenset(Pair({edge.source, edge.target}) for edge in DOCKER_EDGES if edge.source != edge.target)


def _pairs_of(members: Iterable[str]) -> set[Pair]:
    ordered = sorted(members)
    return {Pair({a, b}) for i, a in enumerate(ordered) for b in ordered[i + 1 :]}


def _grow(seed: Iterable[str], pairs: frozenset[Pair], wanted: set[str], gain: Callable[[str, set[str]], int]) -> frozenset[str]:
    """`seed` grown, one service at a time, by a service joined to every member (so the result stays a
    clique of `pairs`) for which `gain` (of the candidate and the clique) is positive, most first; ties
    go to the first name, so the plan is deterministic."""
    clique = set(seed)
    while True:
        candidates = sorted(s for s in DOCKER_SERVICES if s not in clique and all(Pair({s, m}) in pairs for m in clique) and s in wanted)
        scored = [(gain(s, clique), s) for s in candidates]
        scored = [(score, s) for score, s in scored if score > 0]
        if not scored:
            return frozenset(clique)
        best = max(score for score, _ in scored)
        clique.add(next(s for score, s in scored if score == best))


def edge_cliques() -> list[frozenset[str]]:
    """Cliques of the topology that together hold every edge (greedy: each new clique starts at the
    first uncovered pair and takes in what covers most uncovered pairs)."""
    pairs = topology_pairs()
    uncovered = set(pairs)
    cliques = []
    while uncovered:
        seed = min(uncovered, key=sorted)
        clique = _grow(seed, pairs, set(DOCKER_SERVICES), lambda s, members, left=frozenset(uncovered): sum(Pair({s, m}) in left for m in members))
        cliques.append(clique)
        uncovered -= _pairs_of(clique)
    return sorted(cliques, key=sorted)


def service_cliques(services: frozenset[str]) -> list[frozenset[str]]:
    """Cliques of the topology among `services` that hold each of them once (for the ways out)."""
    pairs = topology_pairs()
    left = set(services)
    cliques = []
    while left:
        seed = min(left)
        clique = _grow({seed}, pairs, left, lambda s, members: 1)
        cliques.append(clique)
        left -= clique
    return sorted(cliques, key=sorted)


def _key(kind: str, members: Iterable[str]) -> str:
    return f"{kind}-{'_'.join(sorted(members))}"


def leaving(settings: Settings) -> frozenset[str]:
    """Services that need a route off the host: to the internet, to the application on the host, or
    (Prometheus, only when prometheus.remoteWrite is set) to a long-term store."""
    app_on_host = settings.app.docker_network is None
    stores = egress_sources(REMOTE_WRITE, settings)
    return egress_sources("internet", settings) | (egress_sources("app") if app_on_host else frozenset()) | stores


def network_plan(settings: Settings) -> dict[str, frozenset[str]]:
    """Network key -> the services that join it, in the order services attach: internal networks first,
    so an internal one is the network Docker lists first for every service."""
    plan = {_key(INTERNAL, clique): clique for clique in edge_cliques()}
    plan.update({_key(EGRESS_NETWORK, clique): clique for clique in service_cliques(leaving(settings))})
    plan[INGRESS] = frozenset({ENTRYPOINT})
    if settings.app.docker_network is not None:
        plan[APP] = egress_sources("app")
    return plan


def is_internal(key: str) -> bool:
    return key.startswith(f"{INTERNAL}-")


def reaches_host(settings: Settings, service: str) -> bool:
    """Whether `service` reaches the application through the host (`host.docker.internal`)."""
    return settings.app.docker_network is None and service in egress_sources("app")


def networks_of(plan: Mapping[str, frozenset[str]], service: str) -> list[str]:
    return [key for key, members in plan.items() if service in members]


def port_networks(plan: Mapping[str, frozenset[str]], service: str, port: str) -> list[str]:
    """The service's internal networks that hold a client of its `port` (a topology edge to it): those
    a second server listening on that port (ServiceSpec.sidecar) joins, in a container of its own, so it
    is reached by its clients only and never needs a way out."""
    clients = {edge.source for edge in DOCKER_EDGES if edge.target == service and edge.port == port}
    return [key for key, members in plan.items() if is_internal(key) and service in members and members & clients]


def extra_pairs(plan: Mapping[str, frozenset[str]]) -> dict[tuple[str, str], str]:
    """(client, server) -> the network that lets them talk, for every ordered pair of services that
    share a network although `EDGES` has no such edge (the name of the first network they share)."""
    edges = {(edge.source, edge.target) for edge in DOCKER_EDGES}
    extra: dict[tuple[str, str], str] = {}
    for key, members in plan.items():
        for source in sorted(members):
            for target in sorted(members):
                if source != target and (source, target) not in edges:
                    extra.setdefault((source, target), key)
    return dict(sorted(extra.items()))


def create_networks(name: str, settings: Settings, plan: Mapping[str, frozenset[str]], parent: pulumi.Resource) -> dict[str, pulumi.Input[str]]:
    """Creates the stack's networks; returns network key -> the name containers attach to."""
    names: dict[str, pulumi.Input[str]] = {}
    for key in plan:
        if key == APP:
            names[key] = settings.app.docker_network  # exists already; owned by the application
            continue
        network = docker.Network(
            f"{name}-{key}",
            name=f"{name}-{key}",
            internal=is_internal(key),
            labels=[docker.NetworkLabelArgs(label=label, value=value) for label, value in sorted(stack_labels(f"{STACK}-{key}", "network").items())],
            # A network's name is fixed, so a replacement must delete the old one first.
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
        )
        names[key] = network.name
    return names
