"""The policy pack (policy/): every policy passes a compliant resource and fails a non-compliant one;
the pack runs under the real pulumi-policy SDK and its gRPC protocol; and both stacks, as synth
records them, satisfy every policy, so the program provably meets its own invariants.

Hand-made resources below are in the shape synth records (and the engine hands a pack): Pulumi wire
names, numbers as floats.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest

from policy import offline
from policy.policies import POLICIES, evaluate
from policy.policies.base import (
    DEFAULT_CONFIG,
    DOCKER_CONTAINER,
    DOCKER_IMAGE,
    DOCKER_VOLUME,
    GRAFANA_PROVIDER,
    K8S_CONFIG_MAP,
    K8S_INGRESS,
    K8S_NAMESPACE,
    K8S_NETWORK_POLICY,
    K8S_PVC,
    K8S_SERVICE,
    K8S_STATEFUL_SET,
    UNKNOWN,
    Resource,
)
from policy.policies.credentials import check_grafana_credentials, check_no_plaintext_secrets, credential_shapes, plain_fields
from policy.policies.hardening import check_namespace_pod_security, check_read_only_non_root, check_restricted_security_context
from policy.policies.images import check_images_pinned, image_pinned
from policy.policies.isolation import check_ingress_routes_to_entrypoint, check_only_entrypoint_exposed, check_workloads_isolated
from policy.policies.storage import check_stateful_storage_protected
from synthesis.run import redact
from tests.conftest import ROOT, SEEDED_SECRETS

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
HOST_NS = DEFAULT_CONFIG["hostAccessNamespace"]


# --- hand-made resources: compliant by default, each test breaks one thing ----------------------


def docker_container(name: str = "grafana", **changes: Any) -> dict[str, Any]:
    props = {
        "name": name,
        "image": "sha256:" + "a" * 64,
        "user": "472:0",
        "readOnly": True,
        "privileged": False,
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "envs": ["GF_PATHS_CONFIG=/etc/grafana/grafana.ini", "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/ngx/secrets/grafana-admin-password"],
        "labels": [{"label": "app.kubernetes.io/name", "value": name}],
        "mounts": [
            {"target": "/var/lib/grafana", "type": "volume", "source": "ngx-grafana-data"},
            {"target": "/var/log/ngx", "type": "bind", "readOnly": True, "source": "/var/log/ngx"},
        ],
        "command": ["--config.file=/etc/prometheus/prometheus.yml"],
        "networksAdvanced": [{"name": "ngx-internal"}],
    }
    props.update(changes)
    return props


def container_spec(name: str = "grafana", **changes: Any) -> dict[str, Any]:
    spec = {
        "name": name,
        "image": "grafana/grafana:13.0.0",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 472.0,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "env": [
            {"name": "GF_PATHS_CONFIG", "value": "/etc/grafana/grafana.ini"},
            {"name": "GF_SECURITY_ADMIN_PASSWORD__FILE", "value": "/etc/ngx/secrets/grafana-admin-password"},
        ],
        "args": [],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/grafana", "readOnly": True}],
    }
    spec.update(changes)
    return spec


def workload(name: str = "grafana", namespace: str = "ngx-monitoring", container: dict | None = None, pod: dict | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "ngx-monitoring"}
    pod_spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container or container_spec(name)],
        "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}],
    }
    pod_spec.update(pod or {})
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
    }


def service(name: str, selects: str, kind: str = "ClusterIP", namespace: str = "ngx-monitoring") -> Resource:
    return Resource(
        K8S_SERVICE,
        f"{name}-service",
        {"metadata": {"name": name, "namespace": namespace}, "spec": {"type": kind, "selector": {"app.kubernetes.io/name": selects}}},
    )


def network_policy(selector: dict, types: list[str] | None = None, namespace: str = "ngx-monitoring", **spec: Any) -> Resource:
    body = {"podSelector": selector, **spec}
    if types is not None:
        body["policyTypes"] = types
    return Resource(K8S_NETWORK_POLICY, f"policy-{len(str(selector))}-{types}", {"metadata": {"namespace": namespace}, "spec": body})


GRAFANA_INI = "[security]\nadmin_user = ngx-admin\nadmin_password = $__file{/etc/ngx/secrets/grafana-admin-password}\n"
BCRYPT = "$2b$10$" + "abcdefghijklmnopqrstuv" + "A" * 31


# --- one passing and one failing resource for every resource policy -----------------------------


def _case(check, rtype, good, bad, expect, good_opts=None, bad_opts=None):
    return pytest.param(check, rtype, good, good_opts or {}, bad, bad_opts or {}, expect)


RESOURCE_CASES = [
    # images-pinned
    _case(check_images_pinned, DOCKER_IMAGE, {"name": "prom/prometheus:v3.5.0"}, {"name": "prom/prometheus:latest"}, "not pinned"),
    _case(check_images_pinned, DOCKER_IMAGE, {"name": "grafana/grafana@sha256:" + "b" * 64}, {"name": "grafana/grafana"}, "not pinned"),
    _case(check_images_pinned, DEPLOYMENT, workload(), workload(container=container_spec(image="grafana/grafana:main")), "grafana/grafana:main"),
    # no-plaintext-secrets
    _case(
        check_no_plaintext_secrets,
        DOCKER_CONTAINER,
        docker_container(),
        docker_container(envs=["GF_SECURITY_ADMIN_PASSWORD=hunter2-but-longer"]),
        "GF_SECURITY_ADMIN_PASSWORD",
    ),
    _case(check_no_plaintext_secrets, DOCKER_CONTAINER, docker_container(), docker_container(command=["--redis.password=s3cr3t"]), "--redis.password"),
    _case(
        check_no_plaintext_secrets,
        DOCKER_CONTAINER,
        docker_container(envs=["GF_SERVER_CERT_KEY=/etc/ngx/tls/tls.key", "REDIS_PASSWORD_FILE=/etc/ngx/secrets/redis", "API_TOKEN="]),
        docker_container(envs=["REDIS_PASSWORD_FILE=not-a-path but the password"]),
        "REDIS_PASSWORD_FILE",
    ),
    _case(
        check_no_plaintext_secrets,
        DEPLOYMENT,
        workload(),
        workload(container=container_spec(env=[{"name": "SLACK_WEBHOOK_URL", "value": "https://hooks.slack.com/services/T/B/X"}])),
        "SLACK_WEBHOOK_URL",
    ),
    _case(
        check_no_plaintext_secrets,
        DEPLOYMENT,
        workload(container=container_spec(env=[{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}])),
        workload(container=container_spec(env=[{"name": "API_TOKEN", "value": "abc123"}])),
        "API_TOKEN",
    ),
    _case(
        check_no_plaintext_secrets,
        K8S_CONFIG_MAP,
        {"data": {"alertmanager.yml": "global:\n  smtp_auth_password_file: /etc/ngx/secrets/smtp\n", "grafana.ini": GRAFANA_INI}},
        {"data": {"web.yml": f"basic_auth_users:\n  prometheus: {BCRYPT}\n"}},
        "bcrypt",
    ),
    _case(
        check_no_plaintext_secrets,
        K8S_CONFIG_MAP,
        {"data": {"loki.yaml": "auth_enabled: true\n"}},
        {"data": {"alertmanager.yml": "global:\n  smtp_auth_password: hunter2\n"}},
        "smtp_auth_password",
    ),
    _case(
        check_no_plaintext_secrets,
        K8S_CONFIG_MAP,
        {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"}},
        {"data": {"tls.key": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"}},
        "private key",
    ),
    # only-entrypoint-exposed
    _case(
        check_only_entrypoint_exposed,
        DOCKER_CONTAINER,
        docker_container("proxy", ports=[{"internal": 8443.0, "external": 443.0, "ip": "127.0.0.1"}]),
        docker_container("grafana", ports=[{"internal": 3000.0, "external": 3000.0}]),
        "only 'proxy'",
    ),
    _case(check_only_entrypoint_exposed, DOCKER_CONTAINER, docker_container(), docker_container(networkMode="host"), "host's network"),
    _case(
        check_only_entrypoint_exposed, K8S_SERVICE, service("proxy", "proxy", "LoadBalancer").props, service("grafana", "grafana", "NodePort").props, "NodePort"
    ),
    _case(
        check_only_entrypoint_exposed,
        DEPLOYMENT,
        workload(),
        workload(container=container_spec(ports=[{"containerPort": 3000.0, "hostPort": 3000.0}])),
        "hostPort",
    ),
    # restricted-security-context
    _case(
        check_restricted_security_context,
        DEPLOYMENT,
        workload(),
        workload(container=container_spec(securityContext={"readOnlyRootFilesystem": True, "runAsNonRoot": True})),
        "allowPrivilegeEscalation",
    ),
    _case(check_restricted_security_context, DEPLOYMENT, workload(), workload(pod={"hostNetwork": True}), "hostNetwork"),
    _case(check_restricted_security_context, DEPLOYMENT, workload(), workload(pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}), "hostPath"),
    _case(
        check_restricted_security_context,
        DAEMON_SET,
        workload(
            "node-exporter",
            HOST_NS,
            container_spec("node-exporter", image="prom/node-exporter:v1.9.1", volumeMounts=[{"name": "root", "mountPath": "/host/root", "readOnly": True}]),
            pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        ),
        workload(
            "node-exporter",
            HOST_NS,
            container_spec("node-exporter", image="prom/node-exporter:v1.9.1", volumeMounts=[{"name": "root", "mountPath": "/host/root"}]),
            pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        ),
        "writable",
    ),
    _case(check_restricted_security_context, DOCKER_CONTAINER, docker_container(), docker_container(privileged=True), "privileged"),
    _case(check_restricted_security_context, DOCKER_CONTAINER, docker_container(), docker_container(securityOpts=[]), "no-new-privileges"),
    _case(
        check_restricted_security_context,
        DOCKER_CONTAINER,
        docker_container(),
        docker_container(mounts=[{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "readOnly": True}]),
        "Docker socket",
    ),
    # namespace-pod-security
    _case(
        check_namespace_pod_security,
        K8S_NAMESPACE,
        {"metadata": {"name": "ngx-monitoring", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"metadata": {"name": "ngx-monitoring", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
        "restricted",
    ),
    _case(
        check_namespace_pod_security,
        K8S_NAMESPACE,
        {
            "metadata": {
                "name": HOST_NS,
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
                "annotations": {"ngx-monitoring/pod-security-exception": "node paths, read-only"},
            }
        },
        {"metadata": {"name": HOST_NS, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        "without saying why",
    ),
    # containers-read-only-non-root
    _case(check_read_only_non_root, DOCKER_CONTAINER, docker_container(), docker_container(readOnly=False), "writable"),
    _case(check_read_only_non_root, DOCKER_CONTAINER, docker_container(), docker_container(user="0:0"), "root"),
    _case(check_read_only_non_root, DOCKER_CONTAINER, docker_container(user="65534:65534"), docker_container(user=None), "root"),
    _case(
        check_read_only_non_root,
        DEPLOYMENT,
        workload(),
        workload(container=container_spec(securityContext={"readOnlyRootFilesystem": True, "runAsUser": 0.0}), pod={"securityContext": {"runAsNonRoot": True}}),
        "non-root",
    ),
    _case(
        check_read_only_non_root, DEPLOYMENT, workload(), workload(container=container_spec(securityContext={"runAsNonRoot": True})), "readOnlyRootFilesystem"
    ),
    # grafana-no-default-credentials
    _case(check_grafana_credentials, DOCKER_CONTAINER, docker_container(), docker_container(envs=["GF_PATHS_CONFIG=/etc/grafana/grafana.ini"]), "admin/admin"),
    _case(check_grafana_credentials, DOCKER_CONTAINER, docker_container(), docker_container(envs=["GF_SECURITY_ADMIN_PASSWORD=admin"]), "default"),
    _case(
        check_grafana_credentials,
        DOCKER_CONTAINER,
        docker_container("ngx-grafana-files", start=False, envs=[], uploads=[{"file": "/etc/grafana/grafana.ini", "content": GRAFANA_INI}]),
        docker_container(
            "ngx-grafana-files", start=False, envs=[], uploads=[{"file": "/etc/grafana/grafana.ini", "content": "[security]\nadmin_password = admin\n"}]
        ),
        "admin_password",
    ),
    _case(
        check_grafana_credentials,
        K8S_CONFIG_MAP,
        {"data": {"grafana.ini": GRAFANA_INI}},
        {"data": {"grafana.ini": "[security]\nadmin_user = admin\nadmin_password = admin\n"}},
        "admin_password",
    ),
    _case(
        check_grafana_credentials,
        DEPLOYMENT,
        workload(container=container_spec(env=[{"name": "GF_SECURITY_ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "g", "key": "p"}}}])),
        workload(container=container_spec(env=[])),
        "admin/admin",
    ),
    _case(
        check_grafana_credentials,
        GRAFANA_PROVIDER,
        {"auth": "ngx-admin:generated-password", "url": "https://x/grafana/"},
        {"auth": "admin:admin", "url": "https://x/grafana/"},
        "admin/admin",
    ),
]


@pytest.mark.parametrize("check, rtype, good, good_opts, bad, bad_opts, expect", RESOURCE_CASES)
def test_resource_policy_passes_the_good_and_fails_the_bad(check, rtype, good, good_opts, bad, bad_opts, expect):
    assert check(rtype, good, good_opts, DEFAULT_CONFIG) == []
    messages = check(rtype, bad, bad_opts, DEFAULT_CONFIG)
    assert messages and any(expect in message for message in messages), messages


def test_every_resource_policy_has_a_case():
    checked = {param.values[0] for param in RESOURCE_CASES}
    resource_checks = {policy.check for policy in POLICIES if policy.scope == "resource"}
    assert resource_checks <= checked


# --- stack policies -----------------------------------------------------------------------------


def _stack(*resources: Resource) -> list[Resource]:
    return list(resources)


def _data_volume(protect: bool) -> Resource:
    return Resource(DOCKER_VOLUME, "ngx-grafana-data", {"name": "ngx-grafana-data"}, {"protect": protect})


def _grafana_container(**changes: Any) -> Resource:
    return Resource(DOCKER_CONTAINER, "ngx-grafana-container", docker_container(**changes))


def _statefulset(protect: bool = True, retention: str = "Retain") -> Resource:
    props = workload("prometheus")
    props["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    props["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": retention, "whenScaled": "Retain"}
    return Resource(K8S_STATEFUL_SET, "ngx-prometheus-statefulset", props, {"protect": protect})


def _namespace(protect: bool) -> Resource:
    return Resource(K8S_NAMESPACE, "ngx-namespace", {"metadata": {"name": "ngx-monitoring"}}, {"protect": protect})


STACK_CASES = [
    pytest.param(
        check_stateful_storage_protected,
        _stack(_data_volume(True), _grafana_container()),
        _stack(_data_volume(False), _grafana_container()),
        "not protected",
        id="docker-volume",
    ),
    pytest.param(
        check_stateful_storage_protected,
        # the same volume, mounted read-only (rendered configuration), may be replaced
        _stack(_data_volume(False), _grafana_container(mounts=[{"type": "volume", "source": "ngx-grafana-data", "target": "/etc/grafana", "readOnly": True}])),
        _stack(_grafana_container(mounts=[{"type": "volume", "source": "somebody-elses", "target": "/data"}])),
        "does not manage",
        id="unmanaged-volume",
    ),
    pytest.param(
        check_stateful_storage_protected,
        _stack(Resource(K8S_PVC, "claim", {}, {"protect": True})),
        _stack(Resource(K8S_PVC, "claim", {}, {"protect": False})),
        "PersistentVolumeClaim",
        id="pvc",
    ),
    pytest.param(
        check_stateful_storage_protected,
        _stack(_statefulset(), _namespace(True)),
        _stack(_statefulset(retention="Delete"), _namespace(True)),
        "whenDeleted",
        id="claim-retention",
    ),
    pytest.param(
        check_stateful_storage_protected,
        _stack(_statefulset(), _namespace(True)),
        _stack(_statefulset(), _namespace(False)),
        "deleting a namespace",
        id="namespace",
    ),
    pytest.param(
        check_ingress_routes_to_entrypoint,
        _stack(
            service("proxy", "proxy"),
            Resource(
                K8S_INGRESS,
                "ingress",
                {
                    "metadata": {"namespace": "ngx-monitoring"},
                    "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "proxy"}}}]}}]},
                },
            ),
        ),
        _stack(
            service("proxy", "proxy"),
            service("grafana", "grafana"),
            Resource(
                K8S_INGRESS,
                "ingress",
                {
                    "metadata": {"namespace": "ngx-monitoring"},
                    "spec": {"rules": [{"http": {"paths": [{"path": "/grafana", "backend": {"service": {"name": "grafana"}}}]}}]},
                },
            ),
        ),
        "selects 'grafana'",
        id="ingress",
    ),
    pytest.param(
        check_workloads_isolated,
        _stack(Resource(DEPLOYMENT, "grafana", workload()), network_policy({}, ["Ingress", "Egress"])),
        _stack(Resource(DEPLOYMENT, "grafana", workload()), network_policy({}, ["Ingress"])),
        "not isolated for Egress",
        id="netpol-egress",
    ),
    pytest.param(
        check_workloads_isolated,
        _stack(
            Resource(DEPLOYMENT, "grafana", workload()),
            network_policy({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["grafana", "loki"]}]}, ["Ingress", "Egress"]),
        ),
        _stack(
            Resource(DEPLOYMENT, "grafana", workload()),
            network_policy({"matchLabels": {"app.kubernetes.io/name": "loki"}}, ["Ingress", "Egress"]),
            network_policy({}, ["Ingress", "Egress"], namespace="other"),
        ),
        "not isolated for Egress, Ingress",
        id="netpol-selector",
    ),
]


@pytest.mark.parametrize("check, good, bad, expect", STACK_CASES)
def test_stack_policy_passes_the_good_and_fails_the_bad(check, good, bad, expect):
    assert check(good, DEFAULT_CONFIG) == []
    found = check(bad, DEFAULT_CONFIG)
    assert found and any(expect in message for _, message in found), found


def test_every_stack_policy_has_a_case():
    checked = {param.values[0] for param in STACK_CASES}
    assert {policy.check for policy in POLICIES if policy.scope == "stack"} <= checked


# --- the checks' vocabulary ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference, pinned",
    [
        ("prom/prometheus:v3.5.0", True),
        ("nginxinc/nginx-unprivileged:1.29-alpine", True),
        ("registry:5000/team/app:2024.1", True),
        ("grafana/grafana@sha256:" + "c" * 64, True),
        ("registry:5000/team/app", False),
        ("grafana/loki:latest", False),
        ("alpine:edge", False),
        ("busybox:stable", False),
    ],
)
def test_image_pinned(reference, pinned):
    assert image_pinned(reference) is pinned


@pytest.mark.parametrize(
    "text, shape",
    [
        ("routing_key: 1234567890abcdef", "routing_key"),
        ('"api_key": "abc"', "api_key"),
        ("url: https://user:pa55@smtp.example.com", "URL with a password"),
        ("webhook: https://hooks.slack.com/services/T/B/X", "Slack webhook"),
    ],
)
def test_credential_shapes_found(text, shape):
    assert any(shape in found for found in credential_shapes(text))


@pytest.mark.parametrize(
    "text",
    [
        "password_file: /etc/ngx/secrets/probe-password",
        "admin_password = $__file{/etc/ngx/secrets/x}",
        "smtp_auth_password_file: /x",
        "routing_key_file: /x",
        "secret_key = $__file{/etc/ngx/secrets/grafana-secret-key}",
        "auth_enabled: true",
        "cookie_secure = true",
        "token_ttl: 600",
    ],
)
def test_credential_shapes_not_found_in_file_references_and_settings(text):
    assert credential_shapes(text) == []


def test_files_loader_that_never_starts_is_not_held_to_runtime_rules():
    """The Docker backend's file loaders are created, filled and never started; readOnly would make
    the uploads fail, and with no process there is nothing to harden."""
    loader = docker_container("ngx-grafana-files", start=False, readOnly=False, envs=[])
    assert check_read_only_non_root(DOCKER_CONTAINER, loader, {}) == []
    assert check_read_only_non_root(DOCKER_CONTAINER, {**loader, "start": True}, {}) != []


def test_the_pack_holds_every_policy_once_in_report_order():
    """A policy dropped (or reordered) when the checks move between modules would change what a preview
    reports; the names are what `--policy-pack-config` and the README refer to."""
    assert [policy.name for policy in POLICIES] == [
        "stateful-storage-protected",
        "images-pinned",
        "no-plaintext-secrets",
        "only-entrypoint-exposed",
        "ingress-routes-to-entrypoint",
        "restricted-security-context",
        "namespace-pod-security",
        "workloads-isolated-by-network-policy",
        "containers-read-only-non-root",
        "grafana-no-default-credentials",
    ]


def test_pack_defaults_are_the_programs_own():
    """If either drifts, the pack would judge a different stack than the one the program builds."""
    import dataclasses

    from settings.model import KubernetesSettings
    from topology import ENTRYPOINT

    host_namespace = next(f.metadata["spec"] for f in dataclasses.fields(KubernetesSettings) if f.name == "host_namespace")
    assert DEFAULT_CONFIG["entrypoint"] == ENTRYPOINT
    assert DEFAULT_CONFIG["hostAccessNamespace"] == host_namespace.default


# --- the adapters under the real SDK ------------------------------------------------------------


def _engine_args(rtype: str, props: dict, protect: bool = False, config: dict | None = None):
    from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return ResourceValidationArgs(rtype, unknown_checking_proxy(copy.deepcopy(props)), f"urn:pulumi:t::p::{rtype}::r", "r", opts, None, config)


def _built():
    from policy import adapters, policies

    return {p.name: p for p in adapters.build(POLICIES, DEFAULT_CONFIG, policies.CONFIG_SCHEMA, Resource, UNKNOWN)}


def test_adapters_build_one_mandatory_pulumi_policy_per_check():
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    built = _built()
    assert list(built) == [policy.name for policy in POLICIES]
    for policy in POLICIES:
        kind = ResourceValidationPolicy if policy.scope == "resource" else StackValidationPolicy
        assert isinstance(built[policy.name], kind)
        assert built[policy.name].enforcement_level == EnforcementLevel.MANDATORY


def test_resource_adapter_reports_what_the_check_finds():
    policy = _built()["images-pinned"]
    reported: list[str] = []
    policy.validate(_engine_args(DOCKER_IMAGE, {"name": "grafana/grafana:latest"}), lambda message, urn=None: reported.append(message))
    assert reported and "not pinned" in reported[0]
    reported.clear()
    policy.validate(_engine_args(DOCKER_IMAGE, {"name": "grafana/grafana:13.0.0"}), lambda message, urn=None: reported.append(message))
    assert reported == []


def test_resource_adapter_judges_what_is_known_during_preview():
    """An unknown value (an output of a resource not created yet) is skipped, not fatal: the known
    fields of the same resource are still checked."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    policy = _built()["containers-read-only-non-root"]
    reported: list[str] = []
    props = docker_container(image=UNKNOWN_STRING_VALUE, readOnly=False)
    policy.validate(_engine_args(DOCKER_CONTAINER, props), lambda message, urn=None: reported.append(message))
    assert reported == ["root filesystem is writable; set readOnly and give writable paths a tmpfs or volume"]


def test_resource_adapter_takes_the_pack_config():
    policy = _built()["restricted-security-context"]
    daemon = workload("node-exporter", "node-host", pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]})
    reported: list[str] = []
    policy.validate(_engine_args(DAEMON_SET, daemon), lambda message, urn=None: reported.append(message))
    assert reported  # node-host is not the default host-access namespace
    reported.clear()
    policy.validate(_engine_args(DAEMON_SET, daemon, config={"hostAccessNamespace": "node-host"}), lambda message, urn=None: reported.append(message))
    assert reported == []


def test_stack_adapter_reports_against_the_offending_resource():
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    def resource(rtype: str, name: str, props: dict, protect: bool) -> PolicyResource:
        opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
        return PolicyResource(rtype, unknown_checking_proxy(props), f"urn:{name}", name, opts, None, None, [], {})

    reported: list[tuple[str, str | None]] = []
    args = StackValidationArgs(
        [resource(DOCKER_VOLUME, "data", {"name": "ngx-grafana-data"}, False), resource(DOCKER_CONTAINER, "grafana", docker_container(), False)]
    )
    _built()["stateful-storage-protected"].validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert [urn for _, urn in reported] == ["urn:data"]


@pytest.mark.slow
def test_the_pack_answers_the_engines_protocol():
    """Start policy/ the way the Pulumi CLI does (its __main__ under the SDK, speaking gRPC) and ask
    it what a preview would: the policies it holds, and its verdict on one resource and one stack."""
    import grpc
    from google.protobuf import empty_pb2, json_format, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2 as pb, analyzer_pb2_grpc as rpc

    def struct(value: dict) -> struct_pb2.Struct:
        message = struct_pb2.Struct()
        json_format.ParseDict(value, message)
        return message

    pack = subprocess.Popen(
        [sys.executable, "-c", "import runpy; runpy.run_path('policy', run_name='__main__')"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        port = pack.stdout.readline().decode().strip()
        assert port.isdigit(), pack.stderr.read().decode() if pack.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "ngx-monitoring"
            assert [policy.name for policy in info.policies] == [policy.name for policy in POLICIES]
            assert {policy.enforcementLevel for policy in info.policies} == {pb.MANDATORY}

            bad = stub.Analyze(
                pb.AnalyzeRequest(type=DOCKER_IMAGE, properties=struct({"name": "grafana/grafana:latest"}), urn="urn:image", name="image"), timeout=30
            )
            assert [d.policyName for d in bad.diagnostics] == ["images-pinned"]
            good = stub.Analyze(
                pb.AnalyzeRequest(type=DOCKER_IMAGE, properties=struct({"name": "grafana/grafana:13.0.0"}), urn="urn:image", name="image"), timeout=30
            )
            assert list(good.diagnostics) == []

            stack = stub.AnalyzeStack(
                pb.AnalyzeStackRequest(
                    resources=[
                        pb.AnalyzerResource(
                            type=DOCKER_VOLUME,
                            properties=struct({"name": "ngx-grafana-data"}),
                            urn="urn:data",
                            name="data",
                            options=pb.AnalyzerResourceOptions(protect=False),
                        ),
                        pb.AnalyzerResource(type=DOCKER_CONTAINER, properties=struct(docker_container()), urn="urn:grafana", name="grafana"),
                    ]
                ),
                timeout=30,
            )
            assert [(d.policyName, d.urn) for d in stack.diagnostics] == [("stateful-storage-protected", "urn:data")]
    finally:
        pack.kill()
        pack.wait()


# --- the program satisfies its own policies -----------------------------------------------------


@pytest.fixture(params=["dev_stack", "prod_stack"])
def stack(request):
    return request.getfixturevalue(request.param)


def test_both_stacks_satisfy_every_policy(stack):
    violations = offline.check_stack(stack)
    assert violations == [], "\n".join(map(str, violations))


def test_both_stacks_with_every_secret_set_satisfy_every_policy(request):
    for name in ("dev_seeded", "prod_seeded"):
        violations = offline.check_stack(request.getfixturevalue(name))
        assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize("seeded", ["dev_seeded", "prod_seeded"])
def test_seeded_secrets_never_reach_a_plain_field(request, seeded):
    """With every credential set to a known string, none is in an environment variable, a command
    line, a ConfigMap, a label or an annotation, and none is in an input not marked secret."""
    result = request.getfixturevalue(seeded)
    resources = offline.stack_resources(result)
    assert resources
    for resource in resources:
        for path, text in plain_fields(resource.type, resource.props):
            for key, secret in SEEDED_SECRETS.items():
                assert secret not in text, f"{key} in {resource.type} {resource.name} {path}"
    everything = repr([redact(record.inputs) for record in result.resources])
    for key, secret in SEEDED_SECRETS.items():
        assert secret not in everything, f"{key} in an input not marked secret"
    # ... and they did reach the stack (as secrets), so the search above had something to find
    revealed = repr([resource.props for resource in resources])
    assert all(secret in revealed for secret in SEEDED_SECRETS.values())


# Breaking one real resource of a stack must break a policy: the zero above is not for want of looking.
def _mutations():
    def unprotect(resource: Resource):
        if resource.options.get("protect"):
            return resource.props, {**resource.options, "protect": False}

    def float_image(resource: Resource):
        if resource.type == DOCKER_IMAGE:
            return {**resource.props, "name": resource.props["name"].rsplit(":", 1)[0] + ":latest"}, resource.options
        pod = resource.props.get("spec", {}).get("template", {}).get("spec")
        if pod and pod.get("containers"):
            props = copy.deepcopy(resource.props)
            props["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:latest"
            return props, resource.options

    def writable_root(resource: Resource):
        if resource.type == DOCKER_CONTAINER and resource.props.get("start") is not False:
            return {**resource.props, "readOnly": False}, resource.options
        pod = resource.props.get("spec", {}).get("template", {}).get("spec")
        if pod and pod.get("containers"):
            props = copy.deepcopy(resource.props)
            props["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
            return props, resource.options

    def publish(resource: Resource):
        if resource.type == DOCKER_CONTAINER and resource.props.get("start") is not False and not resource.props.get("ports"):
            return {**resource.props, "ports": [{"internal": 9999.0, "external": 9999.0}]}, resource.options
        if resource.type == K8S_SERVICE and resource.props["spec"]["selector"].get("app.kubernetes.io/name") != "proxy":
            props = copy.deepcopy(resource.props)
            props["spec"]["type"] = "LoadBalancer"
            return props, resource.options

    def plain_password(resource: Resource):
        if resource.type == DOCKER_CONTAINER and resource.props.get("start") is not False:
            return {**resource.props, "envs": [*resource.props.get("envs", []), "DB_PASSWORD=x1"]}, resource.options
        pod = resource.props.get("spec", {}).get("template", {}).get("spec")
        if pod and pod.get("containers"):
            props = copy.deepcopy(resource.props)
            container = props["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [*container.get("env", []), {"name": "DB_PASSWORD", "value": "x1"}]
            return props, resource.options

    return [unprotect, float_image, writable_root, publish, plain_password]


@pytest.mark.parametrize("mutate", _mutations(), ids=lambda f: f.__name__)
def test_breaking_any_real_resource_breaks_a_policy(stack, mutate):
    resources = offline.stack_resources(stack)
    config = offline.stack_config(stack)
    mutated = 0
    for index, resource in enumerate(resources):
        change = mutate(resource)
        if change is None:
            continue
        mutated += 1
        props, options = change
        broken = resources[:index] + [Resource(resource.type, resource.name, props, options)] + resources[index + 1 :]
        assert evaluate(broken, config), f"{mutate.__name__} on {resource.type} {resource.name} went unnoticed"
    assert mutated, f"{mutate.__name__} found nothing to break in this stack"


def test_removing_the_network_policies_of_prod_is_noticed(prod_stack):
    resources = [r for r in offline.stack_resources(prod_stack) if r.type != K8S_NETWORK_POLICY]
    found = check_workloads_isolated(resources, offline.stack_config(prod_stack))
    workloads = [r for r in resources if r.type in ("kubernetes:apps/v1:Deployment", K8S_STATEFUL_SET, DAEMON_SET, "kubernetes:batch/v1:CronJob")]
    assert workloads and {resource.name for resource, _ in found} == {r.name for r in workloads}


def test_offline_runner_reports_and_exits_zero_for_a_compliant_stack(capsys):
    assert offline.main(["--stack", "dev"]) == 0
    assert "0 violation(s)" in capsys.readouterr().out


def test_offline_runner_exits_one_on_a_violation(capsys, monkeypatch):
    monkeypatch.setattr(offline, "check_stack", lambda result: evaluate([Resource(DOCKER_IMAGE, "img", {"name": "grafana/grafana:latest"})]))
    assert offline.main(["--stack", "dev"]) == 1
    assert "[images-pinned] docker:index/remoteImage:RemoteImage img" in capsys.readouterr().out


def test_policy_knows_the_job_run_label_the_docker_backend_writes():
    """The pack cannot import the program; the label that marks on-demand runs is kept equal here."""
    from components.docker.job import RUN_LABEL
    from policy.policies.base import JOB_RUN_LABEL

    assert JOB_RUN_LABEL == RUN_LABEL
