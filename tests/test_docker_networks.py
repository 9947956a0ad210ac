"""The Docker network plan against the topology (pure: no Pulumi).

On Docker, isolation is membership of networks, and a network is open between all its members, both
ways, on every port. These tests compare the plan with `topology.EGRESS`, `edges_on("docker")` and `ENTRYPOINT`
directly: a network that joins two services no edge connects, a service that gains a way out without
a topology entry, or a network the plan could do without fails here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.docker.networks import APP, INGRESS, extra_pairs, is_internal, network_plan, networks_of, port_networks, reaches_host
from settings import parse
from topology import EGRESS, ENTRYPOINT, SERVICES, edges_on, services_on


def _dev_settings():
    return parse({"platform": "docker"}, stack="dev")


def _with_app_network(settings, name):
    return replace(settings, app=replace(settings.app, docker_network=name))


@pytest.fixture(params=[None, "ngx_default"], ids=["app-on-host", "app-network"])
def settings(request):
    return _with_app_network(_dev_settings(), request.param)


def _sources(to: str) -> set[str]:
    return {egress.source for egress in EGRESS if egress.to == to and egress.source in services_on("docker")}


def _pairs() -> set[frozenset[str]]:
    return {frozenset({e.source, e.target}) for e in edges_on("docker") if e.source != e.target}


def _stack_networks(plan):
    """The networks the stack creates (the application's network is not ours)."""
    return {key: members for key, members in plan.items() if key != APP}


def test_every_service_joins_a_network_and_an_internal_one_first(settings):
    """A container with no network would land on Docker's default bridge."""
    plan = network_plan(settings)
    for service in services_on("docker"):
        assert is_internal(networks_of(plan, service)[0]), service


def test_every_network_the_stack_creates_is_a_clique_of_the_topology(settings):
    """Two services share a network only where an edge joins them, one way or the other."""
    for key, members in _stack_networks(network_plan(settings)).items():
        ordered = sorted(members)
        assert all(frozenset({a, b}) in _pairs() for i, a in enumerate(ordered) for b in ordered[i + 1 :]), key


def test_every_edge_has_an_internal_network(settings):
    plan = network_plan(settings)
    for edge in edges_on("docker"):
        shared = [key for key in set(networks_of(plan, edge.source)) & set(networks_of(plan, edge.target)) if is_internal(key)]
        assert shared, f"{edge.source} -> {edge.target} ({edge.why}) has no internal network in common"


def test_no_network_could_be_left_out(settings):
    """Each internal network carries an edge no other internal network does, and each service that
    leaves is on exactly one way out: Docker's address pools are small (docs/deploying-dev.md)."""
    plan = network_plan(settings)
    internal = {key: members for key, members in plan.items() if is_internal(key)}
    for key, members in internal.items():
        others = [m for k, m in internal.items() if k != key]
        assert any(not any(pair <= m for m in others) for pair in _pairs() if pair <= members), f"{key} is redundant"
    routed = [key for key in _stack_networks(plan) if not is_internal(key) and key != INGRESS]
    for service in services_on("docker"):
        assert sum(service in plan[key] for key in routed) <= 1, service


def test_only_services_with_a_way_out_in_the_topology_join_a_network_with_a_route_out(settings):
    """A non-internal network is a route off the host (or, for `app`, into the application)."""
    plan = network_plan(settings)
    on_host = settings.app.docker_network is None
    outside = set().union(*(members for key, members in plan.items() if not is_internal(key) and key not in (INGRESS, APP)))
    assert outside == _sources("internet") | (_sources("app") if on_host else set())


def test_the_application_is_reached_exactly_by_its_clients(settings):
    plan = network_plan(settings)
    if settings.app.docker_network is None:
        assert APP not in plan
        assert {s for s in services_on("docker") if reaches_host(settings, s)} == _sources("app")
    else:
        assert plan[APP] == _sources("app")
        assert not any(reaches_host(settings, s) for s in services_on("docker"))


def test_only_the_entry_point_is_on_the_ingress_network(settings):
    assert network_plan(settings)[INGRESS] == {ENTRYPOINT}


def test_kubernetes_api_egress_gives_no_way_out_on_docker():
    """Prometheus's EGRESS to the cluster API serves Kubernetes discovery; on Docker it must not put
    Prometheus on a network with a route out (with the app on its own network, nothing else does)."""
    plan = network_plan(_with_app_network(_dev_settings(), "ngx_default"))
    for service in _sources("kube-api") - _sources("internet"):
        assert all(is_internal(key) or key == APP for key in networks_of(plan, service)), service


def test_docker_allows_beyond_the_edges_only_their_reverses_and_the_application_networks_pairs(settings):
    """The least any set of Docker networks can allow: a network is two-way, so the reverse of every
    one-way edge; and the application's clients must all join its one network."""
    edges = {(e.source, e.target) for e in edges_on("docker")}
    reverses = {(target, source) for source, target in edges if source != target and (target, source) not in edges}
    app_pairs = set()
    if settings.app.docker_network is not None:
        app_pairs = {(a, b) for a in _sources("app") for b in _sources("app") if a != b and (a, b) not in edges}
    assert set(extra_pairs(network_plan(settings))) == reverses | app_pairs
    assert reverses and ("grafana", "proxy") in reverses  # the bound is not vacuous


def test_networks_nobody_joins_are_not_planned(settings):
    assert all(network_plan(settings).values())


def test_only_kubernetes_only_services_are_left_out():
    assert set(SERVICES) - set(services_on("docker")) == {"kube-state-metrics"}


def test_a_second_server_joins_only_internal_networks_of_its_ports_clients(settings):
    """A second server (node-exporter's netdev exporter, a container of its own on Docker) joins the
    internal networks its service shares with the clients of its port, which the topology names, and
    no other: there it is reached by them alone, and it never has a way out."""
    plan = network_plan(settings)
    for service, spec in SERVICES.items():
        for _, port in spec.extra_scrapes:
            clients = {e.source for e in edges_on("docker") if e.target == service and e.port == port}
            joined = port_networks(plan, service, port)
            assert joined, f"{service}:{port} would join no network"
            for key in joined:
                assert is_internal(key) and service in plan[key] and plan[key] & clients, key
            assert all(key in joined for key in networks_of(plan, service) if is_internal(key) and plan[key] & clients)
    # A port nobody is allowed to reach gives no network.
    assert port_networks(plan, "node-exporter", "no-such-port") == []
