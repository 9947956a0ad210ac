"""The whole `dev` program under Pulumi mocks: its Docker networks, with the application on the host
and on a Docker network of its own. Expectations come from the topology, never from
components.docker.networks (whose pure plan tests/test_docker_networks.py checks): a network is open
between all its members, so each one the stack creates must join only services a topology edge
connects, and only what the topology lets leave may join one with a route off the host.
"""

from __future__ import annotations

import re

import pytest

from synthesis.run import synth
from tests.test_docker_stack import CONTAINER, NETWORK, STACK, _running
from topology import EGRESS, ENTRYPOINT, SERVICES, edges_on


def _sources(to: str) -> set[str]:
    return {egress.source for egress in EGRESS if egress.to == to}


def _topology_pairs() -> set[frozenset[str]]:
    return {frozenset({edge.source, edge.target}) for edge in edges_on("docker") if edge.source != edge.target}


def _may_leave(settings, service: str) -> bool:
    """The topology lets it off the host: to the internet, or to the application on the host."""
    return service in _sources("internet") or (settings.app.docker_network is None and service in _sources("app"))


def _membership(result) -> dict[str, set[str]]:
    """Network name -> the services whose containers (running ones and the jobs' runs) join it."""
    members: dict[str, set[str]] = {}
    for container in result.of_type(CONTAINER):
        labels = {item["label"]: item["value"] for item in container.inputs.get("labels", [])}
        service = labels.get("app.kubernetes.io/name")
        for network in container.inputs.get("networksAdvanced") or []:
            members.setdefault(network["name"], set()).add(service)
    return members


@pytest.fixture(scope="module")
def app_network_stack():
    """dev with the application on its own Docker network instead of the host."""
    return synth("dev", ["app.dockerNetwork=ngx_app_default"])


@pytest.mark.parametrize("stack_fixture", ["dev_stack", "app_network_stack"])
def test_services_share_a_network_only_where_the_topology_joins_them(request, stack_fixture):
    """A Docker network is open between all its members: each created network must be a clique of the
    topology's edges (read both ways), so no pair the topology never joins can talk."""
    result = request.getfixturevalue(stack_fixture)
    created = {n.inputs["name"] for n in result.of_type(NETWORK)}
    for name, members in _membership(result).items():
        if name in created:
            ordered = sorted(members)
            strangers = [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if frozenset({a, b}) not in _topology_pairs()]
            assert not strangers, f"{name} joins {strangers}, which no topology edge connects"


@pytest.mark.parametrize("stack_fixture", ["dev_stack", "app_network_stack"])
def test_every_edge_has_an_internal_network(request, stack_fixture):
    result = request.getfixturevalue(stack_fixture)
    internal = {n.inputs["name"] for n in result.of_type(NETWORK) if n.inputs.get("internal")}
    membership = _membership(result)
    for pair in _topology_pairs():
        assert any(pair <= membership[name] for name in internal), f"{sorted(pair)} share no internal network"


@pytest.mark.parametrize("stack_fixture", ["dev_stack", "app_network_stack"])
def test_only_what_may_leave_joins_a_network_with_a_route_out(request, stack_fixture):
    """Non-internal networks route off the host: only the services the topology lets leave join them,
    and the entry point, alone on its own (published ports need a non-internal network)."""
    result = request.getfixturevalue(stack_fixture)
    membership = _membership(result)
    routed = {n.inputs["name"] for n in result.of_type(NETWORK) if not n.inputs.get("internal")}
    assert membership[f"{STACK}-ingress"] == {ENTRYPOINT}
    leaving = set().union(*(membership[name] for name in routed - {f"{STACK}-ingress"}))
    assert leaving == {service for service in SERVICES if _may_leave(result.settings, service)}
    for name in routed:
        assert not name.startswith(f"{STACK}-internal-"), name


def test_every_container_that_runs_joins_a_network_and_an_internal_one_first(dev_stack):
    """A container with no network would land on Docker's default bridge, open to every other container."""
    internal = {n.inputs["name"] for n in dev_stack.of_type(NETWORK) if n.inputs.get("internal")}
    containers = dev_stack.of_type(CONTAINER)
    for container in containers:
        if container.inputs.get("networkMode") == "none":
            continue
        # No container joins another's network namespace (`container:`): a restart of that one would
        # leave it in a dead namespace. A second server (node-exporter-netdev) joins networks itself.
        assert not str(container.inputs.get("networkMode", "")).startswith("container:"), container.inputs["name"]
        joined = [network["name"] for network in container.inputs["networksAdvanced"]]
        assert joined and joined[0] in internal, container.inputs["name"]


def test_the_application_network_is_joined_not_created(app_network_stack):
    assert "ngx_app_default" not in {n.inputs["name"] for n in app_network_stack.of_type(NETWORK)}
    members = {name for name, c in _running(app_network_stack).items() if "ngx_app_default" in {n["name"] for n in c.inputs["networksAdvanced"]}}
    assert members == _sources("app")


@pytest.mark.parametrize("stack_fixture,expected", [("dev_stack", _sources("app")), ("app_network_stack", set())])
def test_host_gateway_only_for_services_that_reach_the_app_on_the_host(request, stack_fixture, expected):
    result = request.getfixturevalue(stack_fixture)
    with_gateway = {name for name, c in _running(result).items() if {"host": "host.docker.internal", "ip": "host-gateway"} in (c.inputs.get("hosts") or [])}
    assert with_gateway == expected


@pytest.mark.parametrize("stack_fixture", ["dev_stack", "app_network_stack"])
def test_the_docs_name_the_networks_the_program_creates(request, stack_fixture):
    """docs/deploying-dev.md lists the networks of both cases of app.dockerNetwork (generated)."""
    import gendocs

    result = request.getfixturevalue(stack_fixture)
    block = gendocs.DEPLOYING_DEV.read_text().split("<!-- BEGIN docker isolation -->", 1)[1].split("<!-- END docker isolation -->", 1)[0]
    on_host, on_network = block.split("**Application on a Docker network", 1)
    case = on_host if result.settings.app.docker_network is None else on_network
    listed = set(re.findall(r"`(ngx-[\w-]+)`", case.strip().split("\n", 1)[0]))
    assert listed == {n.inputs["name"] for n in result.of_type(NETWORK)}
