"""Command-line arguments of the services whose settings are flags rather than files."""

from __future__ import annotations

import addresses
import catalog
from renderers import paths
from settings import Settings
from topology import ALERTMANAGER, KUBE_STATE_METRICS, PROXY, PUSHGATEWAY, SERVICES

NODE_EXPORTER_ROOT = "/host"
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
        f"--web.listen-address=:{SERVICES['node-exporter'].port('web').number}",
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
