"""Docker networks of the stack, derived from the topology.

Docker cannot enforce one rule per edge the way a NetworkPolicy does, so isolation here is coarser and
stated in terms of who may leave the stack:

- `internal`: every service. Docker gives an internal network no route out of the host, so a service on
  it alone can talk to the other services and to nothing else.
- `egress`: the services the topology lets leave the stack (`EGRESS`): notifications to the internet,
  and the application when it runs on the host (reached through the host gateway, which an internal
  network cannot route to).
- `ingress`: only the entry point. Docker publishes ports only through a non-internal network, and the
  proxy needs no way out, so it gets a network of its own instead of joining `egress`.
- `app`: the application's existing network (`app.dockerNetwork`), joined only by the services that
  connect to the application. The stack never creates or deletes it.

`EGRESS` to the Kubernetes API has no meaning on Docker and is ignored.
"""
from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_docker as docker

from components.labels import STACK, stack_labels
from settings import Settings
from topology import EGRESS, ENTRYPOINT, services_on

INTERNAL = "internal"
EGRESS_NETWORK = "egress"
INGRESS = "ingress"
APP = "app"

# The order services attach in: the internal network first, so it is the one Docker lists first.
ORDER = (INTERNAL, EGRESS_NETWORK, INGRESS, APP)


def egress_sources(to: str) -> frozenset[str]:
    return frozenset(egress.source for egress in EGRESS if egress.to == to and egress.source in services_on("docker"))


def network_plan(settings: Settings) -> dict[str, frozenset[str]]:
    """Network key -> the services that join it. A network nobody joins is left out."""
    app_on_host = settings.app.docker_network is None
    plan = {
        INTERNAL: frozenset(services_on("docker")),
        EGRESS_NETWORK: egress_sources("internet") | (egress_sources("app") if app_on_host else frozenset()),
        INGRESS: frozenset({ENTRYPOINT}),
        APP: frozenset() if app_on_host else egress_sources("app"),
    }
    return {key: members for key, members in plan.items() if members}


def reaches_host(settings: Settings, service: str) -> bool:
    """Whether `service` reaches the application through the host (`host.docker.internal`)."""
    return settings.app.docker_network is None and service in egress_sources("app")


def networks_of(plan: Mapping[str, frozenset[str]], service: str) -> list[str]:
    return [key for key in ORDER if service in plan.get(key, ())]


def create_networks(name: str, settings: Settings, plan: Mapping[str, frozenset[str]],
                    parent: pulumi.Resource) -> dict[str, pulumi.Input[str]]:
    """Creates the stack's networks; returns network key -> the name containers attach to."""
    names: dict[str, pulumi.Input[str]] = {}
    for key in (k for k in ORDER if k in plan):
        if key == APP:
            names[key] = settings.app.docker_network  # exists already; owned by the application
            continue
        network = docker.Network(
            f"{name}-{key}",
            name=f"{name}-{key}",
            internal=key == INTERNAL,
            labels=[docker.NetworkLabelArgs(label=label, value=value)
                    for label, value in sorted(stack_labels(f"{STACK}-{key}", "network").items())],
            # A network's name is fixed, so a replacement must delete the old one first.
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
        )
        names[key] = network.name
    return names
