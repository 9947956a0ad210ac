"""What docs/deploying-dev.md says of the Docker networks, generated from the plan in networks.py: the
networks, and every connection Docker allows that the topology does not (tests/test_isolation_parity.py
checks the same list against the NetworkPolicies)."""

from __future__ import annotations

from components.docker.networks import APP, extra_pairs, is_internal, leaving, network_plan, reaches_host
from settings import Settings
from topology import EDGES, ENTRYPOINT, egress_of


def _why(pair: tuple[str, str], network: str) -> str:
    source, target = pair
    if network == APP:
        return "both join the application's network (`app.dockerNetwork`), which the stack does not own"
    if any(edge.source == target and edge.target == source for edge in EDGES):
        return f"reverse of `{target} → {source}`: a network is open both ways"
    return "members of one network"  # not produced by the plan: every other shared pair is a topology edge


def routes_out_beyond_topology(settings: Settings) -> dict[str, str]:
    """Service -> why Docker gives it a route off the host that the topology (EGRESS) does not."""
    beyond = {ENTRYPOINT: "published ports need a non-internal network, which also routes out"}
    for service in sorted(leaving(settings)):
        if egress_of(service, "internet") is None and reaches_host(settings, service):
            beyond[service] = "reaches the application on the host through the host gateway, which only a non-internal network routes to"
    return beyond


def _case(title: str, settings: Settings) -> list[str]:
    plan = network_plan(settings)
    created = [key for key in plan if key != APP]
    lines = [
        f"**{title}**: {len(created)} networks ({sum(map(is_internal, created))} internal), "
        + ", ".join(f"`ngx-{key}`" for key in created)
        + (", and the application's network" if APP in plan else "")
        + ".",
        "",
        "| client → server | why Docker allows it |",
        "|---|---|",
    ]
    lines += [f"| `{source} → {target}` | {_why((source, target), network)} |" for (source, target), network in extra_pairs(plan).items()]
    lines += [
        "",
        "Routes off the host beyond the dotted arrows: "
        + "; ".join(f"`{service}` ({why})" for service, why in routes_out_beyond_topology(settings).items())
        + ".",
    ]
    return lines


def docker_isolation_markdown(on_host: Settings, app_network: Settings) -> str:
    """Both cases of `app.dockerNetwork`: unset (`on_host`) and set (`app_network`)."""
    assert on_host.app.docker_network is None and app_network.app.docker_network is not None
    return "\n".join(
        [
            *_case("Application on the host (`app.dockerNetwork` unset, as in Pulumi.dev.yaml)", on_host),
            "",
            *_case(f"Application on a Docker network (`app.dockerNetwork: {app_network.app.docker_network}`)", app_network),
        ]
    )
