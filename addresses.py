"""Host names services use for each other: container names on Docker, cluster DNS on Kubernetes."""

from __future__ import annotations

import catalog
from settings import Settings
from topology import ALERTMANAGER, LOKI, PROMETHEUS, PROXY, SERVICES

# Services that run one pod per node on Kubernetes; Prometheus discovers them instead of listing them.
DAEMONS = ("node-exporter", "alloy")


def discovered_jobs(settings: Settings) -> tuple[str, ...]:
    """Scrape jobs whose targets Prometheus finds through the Kubernetes API, so they can vanish when
    discovery fails: the NGX API (its Service's endpoints), the DaemonSets, and the kubelet and cAdvisor
    jobs (one target per discovered node). None on Docker, where every target is listed and `up` exists
    for as long as the job is configured."""
    if settings.platform != "kubernetes":
        return ()
    return (catalog.JOB_API, *(job for daemon in DAEMONS for job, _ in SERVICES[daemon].scrapes()), catalog.JOB_KUBELET, catalog.JOB_CADVISOR)


def watched_namespaces(settings: Settings) -> list[str]:
    """Namespaces whose pods, workloads and volumes the Kubernetes signals cover (kube-state-metrics'
    --namespaces, its Roles, and what the kubelet and cAdvisor jobs keep): the application's and the
    stack's own two, sorted."""
    k8s = settings.kubernetes
    return sorted({settings.app.namespace, k8s.namespace, k8s.host_namespace})


def replicas(settings: Settings, service: str) -> int:
    return {PROMETHEUS: settings.prometheus.replicas, ALERTMANAGER: settings.alertmanager.replicas, LOKI: settings.loki.replicas}.get(service, 1)


def namespace(settings: Settings, service: str) -> str:
    k8s = settings.kubernetes
    return k8s.host_namespace if SERVICES[service].host_access else k8s.namespace


def host(settings: Settings, service: str) -> str:
    """The name clients use for a service (load-balanced across replicas on Kubernetes)."""
    if settings.platform == "docker":
        return service
    return f"{service}.{namespace(settings, service)}.svc"


def headless(service: str) -> str:
    return f"{service}-headless"


def replica_hosts(settings: Settings, service: str) -> list[str]:
    """Every replica by its stable name: what Prometheus lists for Alertmanager, never a load balancer.
    Only a StatefulSet (a stateful service on Kubernetes) has per-replica names; a Deployment's single
    replica is reached through its Service."""
    if settings.platform == "docker" or not SERVICES[service].stateful:
        return [host(settings, service)]
    ns = namespace(settings, service)
    return [f"{service}-{index}.{headless(service)}.{ns}.svc" for index in range(replicas(settings, service))]


def second_server_name(service: str, port_name: str) -> str:
    """The container and host name of a service's second server on Docker (ServiceSpec.sidecar,
    topology.Service.extra_scrapes): `<service>-<port name>`, e.g. node-exporter-netdev. It runs in a
    network namespace of its own, since a container that joins another's (`container:`) is left in a
    dead namespace when that one restarts."""
    return f"{service}-{port_name}"


def extra_scrape_hosts(settings: Settings, service: str, port_name: str) -> list[str]:
    """Where Prometheus finds a service's second server, listening on `port_name`, one host per replica
    in the order of `replica_hosts`: its own container on Docker (`second_server_name`), the service's
    own pods on Kubernetes (a second container of the pod)."""
    if settings.platform == "docker":
        return [second_server_name(service, port_name)]
    return replica_hosts(settings, service)


def url(settings: Settings, service: str, port: str = "web") -> str:
    spec = SERVICES[service]
    return f"{spec.scheme}://{host(settings, service)}:{spec.port(port).number}"


# Path prefixes the proxy serves each UI/API under, on the one public host name. Every service answers
# under the same path on its own port (Grafana: serve_from_sub_path; Prometheus and Alertmanager:
# --web.route-prefix; Loki's HTTP API lives under /loki/ anyway), so the proxy passes the path on as
# the client sent it (proxy_pass without a URI part) and internal clients use the same paths.
ROUTES = {"grafana": "/grafana/", "prometheus": "/prometheus/", "alertmanager": "/alertmanager/", "loki": "/loki/"}
# Services that serve everything, /metrics and /-/ready included, under their route (--web.route-prefix).
ROUTE_PREFIXED = (PROMETHEUS, ALERTMANAGER)


def route_prefix(service: str) -> str:
    """The path a service serves everything under on its own port ("/prometheus"); "" for the root."""
    return ROUTES[service].rstrip("/") if service in ROUTE_PREFIXED else ""


def base_url(settings: Settings, service: str, on_host: str | None = None) -> str:
    """What an internal client puts before an API path: `url` plus the route prefix, e.g.
    https://prometheus:9090/prometheus; `on_host` names one replica instead of the Service."""
    spec = SERVICES[service]
    authority = f"{on_host or host(settings, service)}:{spec.port('web').number}"
    return f"{spec.scheme}://{authority}{route_prefix(service)}"


def public_port(settings: Settings) -> int:
    """The HTTPS port users type: the published one on Docker, the Ingress's 443 on Kubernetes."""
    return settings.proxy.https_port if settings.platform == "docker" else 443


def public_url(settings: Settings, service: str) -> str:
    """https://<domain>[:port]/<route>: the port only when it is not 443, as users type it."""
    port = public_port(settings)
    authority = settings.domain if port == 443 else f"{settings.domain}:{port}"
    return f"https://{authority}{ROUTES[service]}"


def public_urls(settings: Settings) -> dict[str, str]:
    return {service: public_url(settings, service) for service in ROUTES}


def internal_tls_names(settings: Settings) -> dict[str, list[str]]:
    """Every HTTPS service but the proxy (whose certificate is the public one, for `domain`) -> the
    DNS names its internal certificate must cover."""
    return {service: tls_names(settings, service) for service in sorted(SERVICES) if SERVICES[service].scheme == "https" and service != PROXY}


def tls_names(settings: Settings, service: str) -> list[str]:
    """DNS names a service's internal certificate must cover."""
    names = [service, "localhost"]
    if settings.platform == "kubernetes":
        ns = namespace(settings, service)
        names += [
            f"{service}.{ns}.svc",
            f"{service}.{ns}.svc.cluster.local",
            f"*.{headless(service)}.{ns}.svc",
            f"*.{headless(service)}.{ns}.svc.cluster.local",
        ]
    return names
