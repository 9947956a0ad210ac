"""Who may talk to whom: the services, their ports and the allowed connections, as data.

Docker networks and Kubernetes NetworkPolicies are both derived from this module, so isolation means
the same thing on both backends (a test compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog import (
    JOB_ALERTMANAGER,
    JOB_ALLOY,
    JOB_GRAFANA,
    JOB_KUBE_STATE_METRICS,
    JOB_LOKI,
    JOB_NODE,
    JOB_NODE_NETDEV,
    JOB_PROMETHEUS,
    JOB_PROXY,
    JOB_PUSHGATEWAY,
    JOB_REDIS,
)
from settings import Settings
from settings.loki import object_store_port
from settings.remote_write import url_ip, url_port


@dataclass(frozen=True)
class Port:
    name: str
    number: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Service:
    name: str
    ports: tuple[Port, ...]
    job: str | None  # scrape job of its metrics, None when it is not scraped directly
    metrics_port: str | None  # port name Prometheus scrapes
    scheme: str = "http"  # scheme of its main port inside the stack
    stateful: bool = False  # owns a data volume that must survive replacement
    host_access: bool = False  # reads the node's filesystem (separate, privileged namespace on Kubernetes)
    # Runs on a schedule and exits (a client only: no ports, never scraped); see ServiceSpec.schedule.
    scheduled: bool = False
    # Backends it runs on. kube-state-metrics describes Kubernetes objects: on Docker there are none.
    platforms: tuple[str, ...] = ("docker", "kubernetes")
    # Ports opened only while the service runs as a cluster of replicas (ring gossip); `ports_of` says when.
    cluster_ports: tuple[Port, ...] = ()
    # Further scrape jobs, as (job, port name): a second server beside the main one (ServiceSpec.sidecar;
    # in the same pod, or its own container on Docker: addresses.extra_scrape_hosts), whose series are a
    # subject of their own.
    extra_scrapes: tuple[tuple[str, str], ...] = ()

    def scrapes(self) -> tuple[tuple[str, str], ...]:
        """Every (job, port name) Prometheus scrapes on this service: its own job first."""
        return (((self.job, self.metrics_port),) if self.job else ()) + self.extra_scrapes

    def port(self, name: str) -> Port:
        return next(port for port in self.ports + self.cluster_ports if port.name == name)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    port: str
    why: str


@dataclass(frozen=True)
class Egress:
    """A connection that leaves the stack: to the internet, the application or the cluster API."""

    source: str
    to: str  # "internet" | "app" | "kube-api" | "remote-write"
    ports: tuple[int, ...]
    why: str
    # Remote write only: the store's address block when its URL names an IP; empty means any address
    # (a NetworkPolicy cannot name a DNS host, so a store named by host is reachable on its port only).
    cidrs: tuple[str, ...] = ()


PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
GRAFANA = "grafana"
LOKI = "loki"
ALLOY = "alloy"
NODE_EXPORTER = "node-exporter"
REDIS_EXPORTER = "redis-exporter"
PROXY = "proxy"
PROXY_EXPORTER = "proxy-exporter"
PUSHGATEWAY = "pushgateway"
BACKUP = "backup"
KUBE_STATE_METRICS = "kube-state-metrics"

SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(PROMETHEUS, (Port("web", 9090),), JOB_PROMETHEUS, "web", scheme="https", stateful=True),
        Service(
            ALERTMANAGER, (Port("web", 9093), Port("mesh-tcp", 9094), Port("mesh-udp", 9094, "UDP")), JOB_ALERTMANAGER, "web", scheme="https", stateful=True
        ),
        Service(GRAFANA, (Port("web", 3000),), JOB_GRAFANA, "web", stateful=True),
        # memberlist: the ring of a Loki with more than one replica (loki.replicas), gossiped over TCP.
        Service(LOKI, (Port("web", 3100), Port("grpc", 9095)), JOB_LOKI, "web", stateful=True, cluster_ports=(Port("memberlist", 7946),)),
        Service(ALLOY, (Port("web", 12345),), JOB_ALLOY, "web", host_access=True),
        # `netdev`: a second node-exporter that reads the host's interfaces through /proc/1/net/dev
        # (renderers/commands.py says why), scraped as job node-netdev: a second container of the pod on
        # Kubernetes, a container of its own on Docker (addresses.extra_scrape_hosts says where).
        Service(NODE_EXPORTER, (Port("web", 9100), Port("netdev", 9101)), JOB_NODE, "web", host_access=True, extra_scrapes=((JOB_NODE_NETDEV, "netdev"),)),
        Service(REDIS_EXPORTER, (Port("web", 9121),), JOB_REDIS, "web"),
        # nginx-unprivileged cannot bind below 1024; the backend maps 443/80 (or the Ingress) onto these.
        Service(PROXY, (Port("https", 8443), Port("http", 8080), Port("status", 8081)), None, None, scheme="https"),
        Service(PROXY_EXPORTER, (Port("web", 9113),), JOB_PROXY, "web"),
        # Holds the last result the backup jobs pushed until Prometheus scrapes it (in memory only:
        # a restart loses it, which BackupTooOld covers like a missed backup).
        Service(PUSHGATEWAY, (Port("web", 9091),), JOB_PUSHGATEWAY, "web"),
        Service(BACKUP, (), None, None, scheduled=True),
        # Object state (restarts, waiting reasons, replicas) of the watched namespaces; `telemetry` is
        # its own health, probed only.
        Service(KUBE_STATE_METRICS, (Port("web", 8080), Port("telemetry", 8081)), JOB_KUBE_STATE_METRICS, "web", platforms=("kubernetes",)),
    )
}

EDGES: tuple[Edge, ...] = (
    Edge(PROXY, GRAFANA, "web", "users reach Grafana through the TLS proxy"),
    Edge(PROXY, PROMETHEUS, "web", "users reach Prometheus through the TLS proxy"),
    Edge(PROXY, ALERTMANAGER, "web", "users reach Alertmanager through the TLS proxy"),
    Edge(PROXY, LOKI, "web", "users push/query logs through the TLS proxy"),
    Edge(GRAFANA, PROMETHEUS, "web", "Prometheus datasource"),
    Edge(GRAFANA, LOKI, "web", "Loki datasource"),
    Edge(GRAFANA, ALERTMANAGER, "web", "Alertmanager datasource"),
    Edge(PROMETHEUS, PROMETHEUS, "web", "self-scrape (and HA peers)"),
    Edge(PROMETHEUS, ALERTMANAGER, "web", "alerts and scrape"),
    Edge(PROMETHEUS, GRAFANA, "web", "scrape"),
    Edge(PROMETHEUS, LOKI, "web", "scrape"),
    Edge(PROMETHEUS, ALLOY, "web", "scrape"),
    Edge(PROMETHEUS, NODE_EXPORTER, "web", "scrape"),
    Edge(PROMETHEUS, NODE_EXPORTER, "netdev", "scrape of the host's network interfaces"),
    Edge(PROMETHEUS, REDIS_EXPORTER, "web", "scrape"),
    Edge(PROMETHEUS, PROXY_EXPORTER, "web", "scrape"),
    Edge(PROMETHEUS, PUSHGATEWAY, "web", "scrape"),
    Edge(PROMETHEUS, KUBE_STATE_METRICS, "web", "scrape"),
    Edge(BACKUP, PROMETHEUS, "web", "TSDB snapshots through the admin API"),
    Edge(BACKUP, PUSHGATEWAY, "web", "pushes the result of every backup run"),
    Edge(PROXY_EXPORTER, PROXY, "status", "reads nginx stub_status"),
    Edge(ALLOY, LOKI, "web", "pushes application logs"),
    Edge(ALERTMANAGER, ALERTMANAGER, "mesh-tcp", "cluster gossip between replicas"),
    Edge(ALERTMANAGER, ALERTMANAGER, "mesh-udp", "cluster gossip between replicas"),
)

# Notification ports: HTTPS webhooks (Slack, PagerDuty, heartbeat) and SMTP submission.
NOTIFY_PORTS = (443, 587)

EGRESS: tuple[Egress, ...] = (
    Egress(ALERTMANAGER, "internet", NOTIFY_PORTS, "notifications to Slack, PagerDuty, e-mail and the heartbeat"),
    Egress(GRAFANA, "internet", NOTIFY_PORTS, "Grafana-managed notifications"),
    Egress(PROMETHEUS, "app", (), "scrapes the NGX API"),
    Egress(ALLOY, "app", (), "reads the application's logs"),
    Egress(REDIS_EXPORTER, "app", (), "connects to the application's Redis"),
    # The API server's endpoints (not its Service VIP), on their own ports; these two ports apply to the
    # kubernetes.apiServerCidr override only (components/kubernetes/api_server.py).
    # Also the kubelet and cAdvisor jobs: they reach every node's kubelet through the API server's node
    # proxy, so Prometheus needs no connection to the nodes themselves (docs/deploying-prod.md says why).
    Egress(PROMETHEUS, "kube-api", (443, 6443), "Kubernetes service discovery of the NGX API; kubelet and cAdvisor metrics through the node proxy"),
    Egress(KUBE_STATE_METRICS, "kube-api", (443, 6443), "lists and watches the pods, Deployments and StatefulSets it describes"),
    # Pod metadata only (the log lines themselves are read from the node's files, renderers/alloy.py).
    Egress(ALLOY, "kube-api", (443, 6443), "watches the application's pods on its own node, for the namespace, pod and container labels of their logs"),
    # Only HTTPS: backup.s3.endpoint must be https. Present whatever backup.target says, so that
    # switching to s3 needs no policy change; with target pvc the job opens no such connection.
    Egress(BACKUP, "internet", (443,), "writes the restic repository in the S3-compatible bucket (backup.target s3)"),
)

# Only this service accepts connections from outside the stack.
ENTRYPOINT = PROXY
# Egress.to of a long-term store (prometheus.remoteWrite, grafana.longTermStore): its port, any address
# unless the URL names one.
REMOTE_WRITE = "remote-write"

# Connections that exist only when settings ask for them, so a stack that uses neither deploys exactly
# what it did before: Loki's replicas talk to each other (ring gossip; pushes and queries between
# ingesters and queriers over gRPC) when loki.replicas > 1, Loki leaves the stack for its bucket
# (on the bucket's HTTPS port only) when loki.storage.type is not filesystem, and Prometheus (Grafana)
# for each remote-write store (the long-term store's query URL).
LOKI_CLUSTER_EDGES: tuple[Edge, ...] = (
    Edge(LOKI, LOKI, "memberlist", "ring gossip between Loki replicas (loki.replicas > 1)"),
    Edge(LOKI, LOKI, "grpc", "pushes to and queries of the ingesters of other Loki replicas (loki.replicas > 1)"),
)


def clustered(settings: Settings, service: str) -> bool:
    """Whether `service` runs as a cluster whose replicas talk to each other on its cluster ports."""
    return service == LOKI and settings.loki.replicas > 1


def edges(settings: Settings) -> tuple[Edge, ...]:
    """EDGES plus the edges settings turn on."""
    return EDGES + (LOKI_CLUSTER_EDGES if clustered(settings, LOKI) else ())


def ways_out(settings: Settings) -> tuple[Egress, ...]:
    """EGRESS plus the ways out settings turn on: Loki's bucket, the remote-write stores."""
    return EGRESS + _bucket_egress(settings) + remote_write_egress(settings)


def _bucket_egress(settings: Settings) -> tuple[Egress, ...]:
    storage = settings.loki.storage
    if not storage.object_store:
        return ()
    return (Egress(LOKI, "internet", (object_store_port(storage),), f"index and chunks in the {storage.type} bucket (loki.storage)"),)


def ports_of(settings: Settings, service: str) -> tuple[Port, ...]:
    """The ports a service listens on with these settings."""
    found = SERVICES[service]
    return found.ports + (found.cluster_ports if clustered(settings, service) else ())


def remote_write_egress(settings: Settings) -> tuple[Egress, ...]:
    """Prometheus to each store of prometheus.remoteWrite (and its OAuth2 token endpoint), and Grafana to
    grafana.longTermStore, each on its URL's port only (to its address when the URL names an IP)."""

    def egress(source: str, url: str, why: str) -> Egress:
        ip = url_ip(url)
        cidrs = (f"{ip}/{128 if ':' in ip else 32}",) if ip else ()
        return Egress(source, REMOTE_WRITE, (url_port(url),), why, cidrs)

    found = []
    for e in settings.prometheus.remote_write:
        found.append(egress(PROMETHEUS, e.url, f"remote write to the long-term store {e.name}"))
        if e.oauth2 is not None:  # the token comes from its own endpoint, often another host and port
            found.append(egress(PROMETHEUS, e.oauth2.token_url, f"OAuth2 tokens for the long-term store {e.name}"))
    if (store := settings.grafana.long_term_store) is not None:
        found.append(egress(GRAFANA, store.url, "queries the long-term store (datasource Long-term store)"))
    return tuple(found)


def egress_of(source: str, to: str) -> Egress | None:
    return next((e for e in EGRESS if e.source == source and e.to == to), None)


def scheduled(service: str) -> bool:
    return SERVICES[service].scheduled


def services_on(platform: str) -> dict[str, Service]:
    """The services that run on a backend ("docker" or "kubernetes")."""
    return {name: service for name, service in SERVICES.items() if platform in service.platforms}


def edges_on(platform: str) -> tuple[Edge, ...]:
    """The edges between services that both run on a backend."""
    present = services_on(platform)
    return tuple(edge for edge in EDGES if edge.source in present and edge.target in present)


def long_running(platform: str | None = None) -> list[str]:
    """Services that run all the time (everything but the scheduled jobs), sorted; on one backend
    when `platform` is given."""
    services = SERVICES if platform is None else services_on(platform)
    return sorted(name for name, service in services.items() if not service.scheduled)


def reaches(source: str, target: str) -> bool:
    return any(edge.source == source and edge.target == target for edge in EDGES)


def mermaid() -> str:
    """A diagram of the allowed connections for the README (generated, so it cannot go stale)."""
    lines = ["flowchart LR", "  user((user)) -->|443| proxy"]
    for edge in EDGES:
        if edge.source == edge.target:
            continue
        port = SERVICES[edge.target].port(edge.port)
        lines.append(f"  {_node(edge.source)} -->|{port.number}| {_node(edge.target)}")
    for egress in EGRESS:
        label = "/".join(str(p) for p in egress.ports) or "app ports"
        lines.append(f"  {_node(egress.source)} -.->|{label}| {egress.to.replace('-', '_')}[({egress.to})]")
    return "\n".join(dict.fromkeys(lines))


def egress_markdown() -> str:
    """Every connection that leaves the stack (EGRESS), as a table for the docs: generated, so a new
    way out (the backup's S3 repository, say) cannot be left out of what the docs say leaves."""
    lines = ["| from | to | ports | why |", "|---|---|---|---|"]
    for egress in EGRESS:
        ports = "/".join(str(port) for port in egress.ports) or "the application's"
        lines.append(f"| `{egress.source}` | {egress.to} | {ports} | {egress.why} |")
    # Present only with the settings (remote_write_egress): one row per store in a stack that has them.
    lines.append(f"| `{PROMETHEUS}` | {REMOTE_WRITE} (only with prometheus.remoteWrite) | each store URL's | remote write to each long-term store |")
    lines.append(f"| `{GRAFANA}` | {REMOTE_WRITE} (only with grafana.longTermStore) | its URL's | queries the long-term store |")
    lines.append(f"| `{LOKI}` | internet (only with loki.storage.type s3, gcs or azure) | 443 or the endpoint's | index and chunks in the bucket |")
    return "\n".join(lines)


def _node(name: str) -> str:
    return name.replace("-", "_")
