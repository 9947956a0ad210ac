"""Loki on a bucket with replicas: the settings that refuse what cannot work, and what prod deploys for
it (the ring's Service port, a PodDisruptionBudget, spreading over nodes and zones, the workload
identity annotation, a Secret for static keys) and the connections the topology opens for it, only
when asked. What breaks without them: replicas on a filesystem each keep a private part of the logs;
replicas that cannot gossip or reach each other's ingesters form no ring; a drained node takes two
replicas at once; a Loki that cannot reach its bucket loses nothing it has acknowledged only until its
WAL fills."""

from __future__ import annotations

import pytest

from components.docker.networks import network_plan
from components.kubernetes.network_policies import network_policy_plan
from settings import SettingsError, parse
from settings.loki import WORKLOAD_IDENTITY_ANNOTATIONS
from tests.test_kubernetes_stack import pod_spec, synth_capturing
from topology import EDGES, EGRESS, LOKI, SERVICES, edges, ports_of, ways_out

K8S = {"apiServerCidr": "10.96.0.1/32"}
S3 = {"type": "s3", "bucket": "ngx-logs", "region": "eu-west-1", "accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "example-secret"}


def _parse(platform: str, loki: dict):
    raw = {"platform": platform, "loki": loki, **({"kubernetes": K8S} if platform == "kubernetes" else {})}
    return parse(raw, stack="prod" if platform == "kubernetes" else "dev", secret_keys=["loki"])


@pytest.mark.parametrize(
    ("platform", "loki", "key", "words"),
    [
        ("kubernetes", {"replicas": 3}, "loki.replicas", "set loki.storage.type to s3, gcs or azure"),
        ("docker", {"replicas": 2, "storage": S3}, "loki.replicas", "a Docker stack runs one replica"),
        ("kubernetes", {"replicas": 2, "replicationFactor": 3, "storage": S3}, "loki.replicationFactor", "more than loki.replicas 2"),
        ("kubernetes", {"replicas": 3, "storage": {**S3, "since": "2030-01-01"}}, "loki.replicas", "unset loki.storage.since"),
        (
            "kubernetes",
            {"storage": {"type": "s3", "region": "eu-west-1", "workloadIdentity": "arn:aws:iam::1:role/loki"}},
            "loki.storage.bucket",
            "is required",
        ),
        ("kubernetes", {"storage": {**S3, "region": None}}, "loki.storage.region", "is required"),
        ("kubernetes", {"storage": {**S3, "secretAccessKey": None}}, "loki.storage.secretAccessKey", "other half"),
        ("kubernetes", {"storage": {**S3, "workloadIdentity": "arn:aws:iam::1:role/loki"}}, "loki.storage.workloadIdentity", "keep one"),
        ("kubernetes", {"storage": {"type": "gcs", "bucket": "ngx-logs"}}, "loki.storage.workloadIdentity", "has no credentials"),
        ("kubernetes", {"storage": {"type": "azure", "bucket": "logs", "workloadIdentity": "0f1e"}}, "loki.storage.accountName", "is required"),
        (
            "docker",
            {"storage": {"type": "gcs", "bucket": "ngx-logs", "workloadIdentity": "x@y"}},
            "loki.storage.workloadIdentity",
            "only on platform kubernetes",
        ),
        ("kubernetes", {"storage": {"type": "gcs", "bucket": "ngx-logs", "region": "eu", "workloadIdentity": "x@y"}}, "loki.storage.region", "only to"),
        ("kubernetes", {"storage": {"bucket": "ngx-logs"}}, "loki.storage.bucket", "type is filesystem"),
        ("kubernetes", {"storage": {**S3, "since": "2023-05-01"}}, "loki.storage.since", "not a day after 2024-01-01"),
        ("kubernetes", {"storage": {**S3, "endpoint": "https://minio.example.net/ngx-logs"}}, "loki.storage.endpoint", "has a path"),
        ("docker", {"zoneAware": True}, "loki.zoneAware", "only on platform kubernetes"),
        ("kubernetes", {"storage": {"type": "gcs", "bucket": "Logs", "workloadIdentity": "x@y"}}, "loki.storage.bucket", "not a GCS bucket name"),
        ("kubernetes", {"storage": {**S3, "endpoint": "https://minio.example.net:9x0"}}, "loki.storage.endpoint", "invalid port"),
    ],
)
def test_what_cannot_work_is_refused_in_one_line_naming_the_key(platform, loki, key, words):
    loki = {name: ({k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value) for name, value in loki.items()}
    with pytest.raises(SettingsError) as error:
        _parse(platform, loki)
    assert error.value.key == key
    assert words in str(error.value) and "\n" not in str(error.value)


def test_the_secret_key_must_be_stored_encrypted():
    with pytest.raises(SettingsError, match="loki.storage.secretAccessKey.*--secret"):
        parse({"platform": "docker", "loki": {"storage": S3}}, stack="dev")


def test_replication_factor_defaults_to_the_replicas_up_to_three():
    assert _parse("kubernetes", {"replicas": 2, "storage": S3}).loki.effective_replication_factor == 2
    assert _parse("kubernetes", {"replicas": 5, "storage": S3}).loki.effective_replication_factor == 3
    assert _parse("kubernetes", {}).loki.effective_replication_factor == 1


def test_the_topology_opens_the_ring_and_the_bucket_only_when_asked():
    default = _parse("kubernetes", {})
    assert edges(default) == EDGES and ways_out(default) == EGRESS and ports_of(default, LOKI) == SERVICES[LOKI].ports
    cluster = _parse("kubernetes", {"replicas": 3, "storage": {**S3, "endpoint": "https://minio.example.net:9000"}})
    added = set(edges(cluster)) - set(EDGES)
    assert {(edge.source, edge.target, edge.port) for edge in added} == {(LOKI, LOKI, "memberlist"), (LOKI, LOKI, "grpc")}
    (out,) = set(ways_out(cluster)) - set(EGRESS)
    assert (out.source, out.to, out.ports) == (LOKI, "internet", (9000,)), "the endpoint's port only"
    aws = _parse("docker", {"storage": S3})
    assert [egress.ports for egress in ways_out(aws) if egress.source == LOKI] == [(443,)]
    assert any(LOKI in members for key, members in network_plan(aws).items() if key.startswith("egress-")), "Docker gives Loki a way out"
    assert not any(LOKI in members for key, members in network_plan(_parse("docker", {})).items() if key.startswith("egress-"))
    (policy,) = [p for p in network_policy_plan(cluster) if p.service == LOKI]
    peers = [rule for rule in policy.ingress if rule.peer.service == LOKI]
    assert sorted(rule.ports for rule in peers) == [((7946, "TCP"),), ((9095, "TCP"),)]
    assert [rule.ports for rule in policy.egress if rule.peer.cidr] == [((9000, "TCP"),)]


@pytest.fixture(scope="module")
def cluster():
    return synth_capturing(
        "prod",
        [
            "loki.replicas=3",
            "loki.zoneAware=true",
            "loki.storage.type=s3",
            "loki.storage.bucket=ngx-logs",
            "loki.storage.region=eu-west-1",
            "loki.storage.workloadIdentity=arn:aws:iam::123456789012:role/ngx-loki",
        ],
    )


def test_prod_runs_loki_replicas_as_one_ring_spread_over_nodes_and_zones(cluster):
    statefulset = cluster.workloads()[LOKI]
    assert statefulset.manifest["spec"]["replicas"] == 3
    spec = pod_spec(statefulset)
    assert (
        spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    )
    (zones,) = spec["topologySpreadConstraints"]
    assert (zones["topologyKey"], zones["maxSkew"]) == ("topology.kubernetes.io/zone", 1)
    (container,) = [c for c in spec["containers"] if c["name"] == LOKI]
    assert {"name": "memberlist", "containerPort": 7946, "protocol": "TCP"} in container["ports"]
    headless = cluster.one("Service", "loki-headless", cluster.settings.kubernetes.namespace)
    assert headless.manifest["spec"]["publishNotReadyAddresses"] is True
    assert "memberlist" in [port["name"] for port in headless.manifest["spec"]["ports"]]
    budget = cluster.one("PodDisruptionBudget", LOKI, cluster.settings.kubernetes.namespace)
    assert budget.manifest["spec"]["maxUnavailable"] == 1


def test_workload_identity_is_the_service_accounts_annotation_and_no_secret(cluster):
    account = cluster.one("ServiceAccount", pod_spec(cluster.workloads()[LOKI])["serviceAccountName"], cluster.settings.kubernetes.namespace)
    assert account.manifest["metadata"]["annotations"] == {WORKLOAD_IDENTITY_ANNOTATIONS["s3"]: "arn:aws:iam::123456789012:role/ngx-loki"}
    assert not [o for o in cluster.objects("Secret") if o.name.startswith("loki")], "workload identity stores no credential"
    assert [item["name"] for c in pod_spec(cluster.workloads()[LOKI])["containers"] for item in c.get("env", [])] == []


def test_a_gcs_bucket_name_may_hold_underscores():
    base = {"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}
    gcs = {"type": "gcs", "bucket": "ngx_logs", "workloadIdentity": "loki@p.iam.gserviceaccount.com"}
    assert parse({**base, "loki": {"storage": gcs}}, stack="prod").loki.storage.bucket == "ngx_logs"
