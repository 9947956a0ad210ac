"""The Docker backend (stack dev): every service of the topology as a hardened container on networks
derived from the topology, with only the proxy published on the host."""

from __future__ import annotations

from graphlib import TopologicalSorter

import pulumi

from components import TYPE_PREFIX
from components.backend import MonitoringArgs
from components.docker.job import DockerJob, DockerJobArgs
from components.docker.networks import create_networks, network_plan, networks_of, port_networks, reaches_host
from components.docker.service import DockerService, DockerServiceArgs, PublishedPort
from settings import Settings
from topology import ALERTMANAGER, ALLOY, ENTRYPOINT, GRAFANA, LOKI, PROMETHEUS, PROXY, PROXY_EXPORTER, SERVICES, long_running

# What must be healthy before a service is created: only what it cannot start well without. nginx
# resolves its upstreams once, at start, and refuses to start on a name that does not exist yet, so the
# proxy comes last; Grafana checks its datasources; Prometheus delivers alerts from its first rule
# evaluation; Alloy ships logs from its first read; the proxy exporter reads the proxy's status page.
# Scrape targets are not listed: Prometheus records a target that is down and keeps trying.
START_AFTER: dict[str, tuple[str, ...]] = {
    PROMETHEUS: (ALERTMANAGER,),
    GRAFANA: (PROMETHEUS, LOKI, ALERTMANAGER),
    ALLOY: (LOKI,),
    PROXY: (GRAFANA, PROMETHEUS, ALERTMANAGER, LOKI),
    PROXY_EXPORTER: (PROXY,),
}


# nginx resolves its upstreams' addresses once, at start: when an upstream container is replaced (new
# address), the proxy is replaced with it rather than sending users to an address nobody holds.
RESTART_WITH: dict[str, tuple[str, ...]] = {PROXY: START_AFTER[PROXY]}


def creation_order() -> list[str]:
    """Long-running services in an order where everything in START_AFTER comes before its dependants."""
    graph = {service: START_AFTER.get(service, ()) for service in long_running("docker")}
    return list(TopologicalSorter(graph).static_order())


def published_ports(settings: Settings, service: str) -> list[PublishedPort]:
    """Host ports of a service: the entry point's HTTPS and HTTP (which redirects), nothing else."""
    if service != ENTRYPOINT:
        return []
    proxy = SERVICES[ENTRYPOINT]
    return [
        PublishedPort(proxy.port("https").number, settings.proxy.https_port, settings.proxy.bind_address),
        PublishedPort(proxy.port("http").number, settings.proxy.http_port, settings.proxy.bind_address),
    ]


class DockerMonitoring(pulumi.ComponentResource):
    """The monitoring stack on one Docker engine.

    `services`: topology service name -> its `DockerService` (image, volumes and container).
    `jobs`: scheduled service name -> its `DockerJob` (one never-started container per run).
    `grafana_ready`: resolves (to True) only once the Grafana container and the proxy in front of it
    are healthy, i.e. once Grafana answers at its public URL; the Grafana provider depends on it.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerMonitoring", name, None, opts)
        settings = args.settings
        plan = network_plan(settings)
        networks = create_networks(name, settings, plan, parent=self)

        self.services: dict[str, DockerService] = {}
        for service in creation_order():
            sidecar = args.specs[service].sidecar
            self.services[service] = DockerService(
                f"{name}-{service}",
                DockerServiceArgs(
                    spec=args.specs[service],
                    networks=[networks[key] for key in networks_of(plan, service)],
                    sidecar_networks=[networks[key] for key in port_networks(plan, service, sidecar.port)] if sidecar else (),
                    published=published_ports(settings, service),
                    reach_host=reaches_host(settings, service),
                    start_after=tuple(self.services[other] for other in START_AFTER.get(service, ())),
                    restart_with=tuple(self.services[other] for other in RESTART_WITH.get(service, ())),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.jobs: dict[str, DockerJob] = {
            service: DockerJob(
                f"{name}-{service}",
                DockerJobArgs(
                    spec=spec,
                    networks=[networks[key] for key in networks_of(plan, service)],
                    sources={data.service: self.services[data.service] for run in spec.runs for data in run.data},
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service, spec in sorted(args.specs.items())
            if spec.scheduled
        }

        # `ready` of a container with `wait` resolves after Docker reports it healthy.
        self.grafana_ready: pulumi.Output[bool] = pulumi.Output.all(
            self.services[GRAFANA].ready,
            self.services[ENTRYPOINT].ready,
        ).apply(lambda _: True)
        self.register_outputs(
            {
                "services": {service: component.container.name for service, component in self.services.items()},
                "jobs": {service: {run: [step.name for step in steps] for run, steps in job.runs.items()} for service, job in self.jobs.items()},
                "grafana_ready": self.grafana_ready,
            }
        )
