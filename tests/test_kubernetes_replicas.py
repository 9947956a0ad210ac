"""Kubernetes replicas that must behave as one: Grafana's queries stay on one Prometheus replica, and
Alertmanager peers find each other by their pod IPs (prod under mocks, like test_kubernetes_stack.py)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest

from synthesis.run import unwrap
from tests.test_kubernetes_stack import NAME, Prod, containers, synth_capturing
from topology import ALERTMANAGER, SERVICES


@pytest.fixture(scope="module")
def prod() -> Prod:
    return synth_capturing("prod")


def _seconds(interval: str) -> int:
    return int(interval[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[interval[-1]]


def test_grafana_stays_on_one_prometheus_replica_for_longer_than_any_refresh(prod):
    """The replicas' samples differ slightly; a panel whose refreshes alternate between them jumps.
    The Service behind Grafana's Prometheus datasource pins a client to one replica for longer than the
    slowest refresh interval any dashboard offers (and within the API's 1 day maximum)."""
    [datasource] = [unwrap(r.inputs) for r in prod.result.of_type("grafana:oss/dataSource:DataSource") if r.inputs["type"] == "prometheus"]
    service_name, namespace = urlparse(datasource["url"]).hostname.split(".")[:2]
    service = prod.one("Service", service_name, namespace)
    replicas = prod.workloads()[service.manifest["spec"]["selector"][NAME]].manifest["spec"]["replicas"]
    assert replicas > 1, "the test needs more than one replica to mean anything"
    spec = service.manifest["spec"]
    assert spec["sessionAffinity"] == "ClientIP"
    timeout = spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"]
    refresh = [
        _seconds(interval)
        for r in prod.result.of_type("grafana:oss/dashboard:Dashboard")
        for interval in json.loads(r.inputs["configJson"])["timepicker"]["refresh_intervals"]
    ]
    assert refresh and max(refresh) < timeout <= 86400
    others = [
        o.name for o in prod.objects("Service") if o.manifest["spec"].get("sessionAffinity") and (o.name, o.namespace) != (service.name, service.namespace)
    ]
    assert not others, f"affinity only where replicas answer differently: {others}"


def test_alertmanager_peers_advertise_their_pod_ip(prod, dev_stack):
    """Without an advertise address Alertmanager guesses one from its interfaces and refuses pod IPs
    outside the private ranges; the pod's own IP comes from the downward API. Docker runs one
    replica, which does not cluster at all."""
    mesh = SERVICES[ALERTMANAGER].port("mesh-tcp").number
    [container] = containers(prod.workloads()[ALERTMANAGER])
    assert f"--cluster.advertise-address=$(POD_IP):{mesh}" in container["args"]
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    for service, workload in prod.workloads().items():
        for item in containers(workload):
            defined = {e["name"] for e in item.get("env", [])}
            used = {name for arg in item.get("args", []) for name in re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", arg)}
            assert used <= defined, f"{service} names {used - defined} in its args but does not define it"
    dev_args = dev_stack.program["specs"][ALERTMANAGER].args
    assert "--cluster.listen-address=" in dev_args and not [a for a in dev_args if a.startswith("--cluster.advertise-address")]
