"""Command-line arguments of the services whose settings are flags rather than files."""

from __future__ import annotations

import addresses
import catalog
from alerting.node_io import EXCLUDED_INTERFACES
from renderers import paths
from settings import Settings
from topology import ALERTMANAGER, KUBE_STATE_METRICS, PROXY, PUSHGATEWAY, SERVICES

NODE_EXPORTER_ROOT = "/host"
# The port of node-exporter's second server (node_exporter_netdev_args), topology.py.
NETDEV_PORT = "netdev"
# The pod's own IP, from the downward API (status.podIP), for Alertmanager to advertise to its peers.
POD_IP_ENV = "POD_IP"


def alertmanager_clustered(settings: Settings) -> bool:
    return len(addresses.replica_hosts(settings, ALERTMANAGER)) > 1


def alertmanager_args(settings: Settings) -> list[str]:
    port = SERVICES[ALERTMANAGER].port("web").number
    args = [
        f"--config.file={paths.config_path(ALERTMANAGER, 'alertmanager.yml')}",
        f"--web.config.file={paths.config_path(ALERTMANAGER, 'web.yml')}",
        f"--storage.path={paths.DATA_DIRS[ALERTMANAGER]}",
        f"--data.retention={settings.alertmanager.retention}",
        f"--web.listen-address=:{port}",
        f"--web.external-url={addresses.public_url(settings, ALERTMANAGER)}",
        # Under the proxy's route on its own port too (see prometheus_args): Prometheus sends alerts
        # to path_prefix /alertmanager, Grafana and the probe use the same prefix.
        f"--web.route-prefix={addresses.route_prefix(ALERTMANAGER)}",
    ]
    peers = addresses.replica_hosts(settings, ALERTMANAGER)
    if not alertmanager_clustered(settings):
        # A single replica gossips with nobody; an empty listen address turns clustering off.
        return args + ["--cluster.listen-address="]
    mesh = SERVICES[ALERTMANAGER].port("mesh-tcp").number
    # Listening on 0.0.0.0, Alertmanager guesses the address to advertise from the interfaces and
    # refuses to pick one outside the private ranges, which pod networks need not be in: advertise
    # the pod's IP (Kubernetes expands $(POD_IP) from the container's env; only clustered stacks,
    # i.e. Kubernetes, get here).
    return (
        args
        + [f"--cluster.listen-address=0.0.0.0:{mesh}", f"--cluster.advertise-address=$({POD_IP_ENV}):{mesh}"]
        + [f"--cluster.peer={peer}:{mesh}" for peer in peers]
    )


def node_exporter_args() -> list[str]:
    return [
        f"--path.rootfs={NODE_EXPORTER_ROOT}/root",
        f"--path.procfs={NODE_EXPORTER_ROOT}/proc",
        f"--path.sysfs={NODE_EXPORTER_ROOT}/sys",
        # Container runtimes mount overlays and tmpfs per container; they would multiply the series.
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+|var/lib/kubelet/.+)($|/)",
        # Its netdev collector would count its own network namespace's interfaces (mostly the scrapes):
        # the node's are node_exporter_netdev_args' job.
        "--no-collector.netdev",
        f"--web.listen-address=:{SERVICES['node-exporter'].port('web').number}",
    ]


def node_exporter_netdev_args() -> list[str]:
    """node-exporter's second server (a second container of its pod; on Docker a container of its own):
    the netdev collector only, on the host's interfaces.

    node-exporter has no host network (the policy pack refuses it), and network statistics are per
    network namespace: the netdev collector reads `<procfs>/net/dev`, and proc(5) documents `/proc/net`
    as a symlink to `/proc/self/net`, the reading process's own namespace, so even the host's procfs
    mounted at /host/proc answers with node-exporter's interfaces. `/proc/<pid>/net` (proc(5), since
    2.6.25) is the namespace of process <pid>, and pid_namespaces(7): a /proc shows the processes of
    the PID namespace of whoever mounted it, whoever views it. The host's /proc, bind-mounted read-only
    into a container or pod with PID namespace of its own, thus still shows the host's PID 1, whose
    network namespace is the host's: `--path.procfs=/host/proc/1` makes `<procfs>/net/dev` the host's
    /proc/1/net/dev, which any user may read, 65534 included (no ptrace check, unlike /proc/1/ns/net). That procfs path would
    point every other collector at PID 1's files instead of the system's, hence a process of its own
    with only this collector. Netlink statistics (--collector.netdev.netlink, the default) come from the
    socket's namespace, node-exporter's own: off.
    The virtual interfaces the rules leave out are not exported at all (one veth per pod on a node)."""
    return [
        f"--path.procfs={NODE_EXPORTER_ROOT}/proc/1",
        "--collector.disable-defaults",
        "--collector.netdev",
        "--no-collector.netdev.netlink",
        # node-exporter's device filters are unanchored regular expressions; the rules' are anchored.
        f"--collector.netdev.device-exclude=^({EXCLUDED_INTERFACES})$",
        f"--web.listen-address=:{SERVICES['node-exporter'].port(NETDEV_PORT).number}",
    ]


def redis_exporter_args(settings: Settings) -> list[str]:
    return [
        f"--redis.addr=redis://{settings.redis.address}",
        f"--web.listen-address=:{SERVICES['redis-exporter'].port('web').number}",
    ]


def proxy_exporter_args(settings: Settings) -> list[str]:
    status = SERVICES[PROXY].port("status").number
    return [
        f"--nginx.scrape-uri=http://{addresses.host(settings, PROXY)}:{status}/stub_status",
        f"--web.listen-address=:{SERVICES['proxy-exporter'].port('web').number}",
    ]


def alloy_args(config_file: str, storage_dir: str) -> list[str]:
    return [
        "run",
        config_file,
        f"--server.http.listen-addr=0.0.0.0:{SERVICES['alloy'].port('web').number}",
        f"--storage.path={storage_dir}",
        # No usage reports to Grafana Labs and no profiling endpoints on the scrape port.
        "--disable-reporting",
        "--server.http.enable-pprof=false",
    ]


def pushgateway_args() -> list[str]:
    return [
        f"--web.listen-address=:{SERVICES[PUSHGATEWAY].port('web').number}",
        # In memory only: a lost result looks like a missed backup to BackupTooOld, and the next run
        # pushes it again; a persistence file would need a volume for a few bytes.
        "--persistence.file=",
    ]


# The kinds kube-state-metrics lists and watches; its Roles grant exactly these (components/kubernetes/rbac.py).
KUBE_STATE_METRICS_RESOURCES = {"": ("pods",), "apps": ("deployments", "statefulsets")}


def kube_state_metrics_args(settings: Settings) -> list[str]:
    """Only the watched namespaces, only the kinds the rules read, only the catalogued metrics: its
    RBAC stays namespaced and its series stay bounded."""
    service = SERVICES[KUBE_STATE_METRICS]
    resources = sorted(kind for kinds in KUBE_STATE_METRICS_RESOURCES.values() for kind in kinds)
    return [
        f"--port={service.port('web').number}",
        f"--telemetry-port={service.port('telemetry').number}",
        f"--namespaces={','.join(addresses.watched_namespaces(settings))}",
        f"--resources={','.join(resources)}",
        f"--metric-allowlist={','.join(catalog.job_metrics(catalog.JOB_KUBE_STATE_METRICS))}",
    ]
