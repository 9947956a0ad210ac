"""The Docker network plan against the topology (pure: no Pulumi).

On Docker, isolation is membership of networks: a service on the internal network alone can reach the
other services and nothing else. These tests compare the plan with `topology.EGRESS`, `EDGES` and
`ENTRYPOINT` directly, so a service that gains a way out without a topology entry fails here.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from components.docker.networks import (APP, EGRESS_NETWORK, INGRESS, INTERNAL, network_plan, networks_of,
                                        reaches_host)
from settings import parse
from topology import EGRESS, ENTRYPOINT, SERVICES, edges_on, services_on

NOT_INTERNAL = (EGRESS_NETWORK, INGRESS, APP)


def _dev_settings():
    return parse({"platform": "docker"}, stack="dev")


def _with_app_network(settings, name):
    return replace(settings, app=replace(settings.app, docker_network=name))


@pytest.fixture(params=[None, "ngx_default"], ids=["app-on-host", "app-network"])
def settings(request):
    return _with_app_network(_dev_settings(), request.param)


def _sources(to: str) -> set[str]:
    return {egress.source for egress in EGRESS if egress.to == to and egress.source in services_on("docker")}


def test_every_service_is_on_the_internal_network(settings):
    assert network_plan(settings)[INTERNAL] == set(services_on("docker"))
    assert set(SERVICES) - set(services_on("docker")) == {"kube-state-metrics"}


def test_only_services_with_a_way_out_in_the_topology_leave_the_internal_network(settings):
    """A non-internal network is a route off the host (or, for `app`, into the application)."""
    plan = network_plan(settings)
    allowed = _sources("internet") | _sources("app") | {ENTRYPOINT}
    outside = set().union(*(plan.get(key, set()) for key in NOT_INTERNAL))
    assert outside <= allowed, f"{sorted(outside - allowed)} would leave the stack without an EGRESS entry"


def test_notification_senders_reach_the_internet(settings):
    plan = network_plan(settings)
    assert _sources("internet") <= plan[EGRESS_NETWORK]


def test_the_application_is_reached_exactly_by_its_clients(settings):
    plan = network_plan(settings)
    if settings.app.docker_network is None:
        # Through the host gateway, which only a non-internal network routes to.
        assert _sources("app") <= plan[EGRESS_NETWORK]
        assert APP not in plan
        assert {s for s in services_on("docker") if reaches_host(settings, s)} == _sources("app")
    else:
        assert plan[APP] == _sources("app")
        assert plan[EGRESS_NETWORK] == _sources("internet")
        assert not any(reaches_host(settings, s) for s in SERVICES)


def test_only_the_entry_point_is_on_the_ingress_network(settings):
    assert network_plan(settings)[INGRESS] == {ENTRYPOINT}


def test_kubernetes_api_egress_gives_no_way_out_on_docker():
    """Prometheus's EGRESS to the cluster API serves Kubernetes discovery; on Docker it must not put
    Prometheus on a network with a route out (with the app on its own network, nothing else does)."""
    plan = network_plan(_with_app_network(_dev_settings(), "ngx_default"))
    for service in _sources("kube-api") - _sources("internet"):
        assert service not in plan[EGRESS_NETWORK]


def test_every_allowed_edge_has_a_shared_network(settings):
    plan = network_plan(settings)
    for edge in edges_on("docker"):
        shared = set(networks_of(plan, edge.source)) & set(networks_of(plan, edge.target))
        assert shared, f"{edge.source} -> {edge.target} ({edge.why}) has no network in common"


def test_networks_nobody_joins_are_not_planned(settings):
    assert all(network_plan(settings).values())


def test_internal_network_comes_first_for_every_service(settings):
    plan = network_plan(settings)
    for service in services_on("docker"):
        assert networks_of(plan, service)[0] == INTERNAL
