"""The prod program on Kubernetes, under mocks: every property of issue 5, checked across ALL resources.

Expectations come from the inputs of the backend (settings, topology, the ServiceSpecs it was handed,
the catalog), never from the objects under test. The per-edge NetworkPolicy semantics are in
test_isolation_parity.py; the manifests' schema and checkov in test_kubernetes_manifests.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

import addresses
import catalog
from components.backend import MonitoringArgs
from components.file_layout import RELOAD
from components.kubernetes.monitoring import KubernetesMonitoring
from components.kubernetes.rbac import ROLE_NAME, ROLE_NAMES
from components.kubernetes.workload import KubernetesWorkload
from renderers import alloy
from renderers.reloader import RELOADER_NAME
from settings import Settings
from synthesis.recorder import API_SERVER_SLICE, ENDPOINT_SLICE, is_secret
from synthesis.run import SynthResult, synth, unwrap
from synthesis.stack_config import ROOT
from tests.conftest import SEEDED_SECRETS
from topology import ALERTMANAGER, ALLOY, EGRESS, ENTRYPOINT, GRAFANA, KUBE_STATE_METRICS, LOKI, PROMETHEUS, SERVICES, long_running

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
VERSION = "app.kubernetes.io/version"
IDENTITY_LABELS = {NAME, INSTANCE, "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "app.kubernetes.io/component"}
WORKLOAD_KINDS = {"StatefulSet", "Deployment", "DaemonSet"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "IngressClass"}
# Images whose files belong to a fixed low UID; every other service must run with a UID >= 10000.
IMAGE_OWNED_UIDS = {
    "grafana": "the image owns its files as 472 (group 0)",
    "alloy": "the image's alloy user is 473",
    "proxy": "nginx-unprivileged runs as 101",
}
READ_VERBS = {"get", "list", "watch"}


@dataclass
class Obj:
    kind: str
    name: str
    namespace: str | None
    manifest: dict[str, Any]
    raw: Any  # the Recorded resource: type, name, parent, options, inputs (secret markers kept)


@dataclass
class Prod:
    result: SynthResult
    args: MonitoringArgs
    component: KubernetesMonitoring

    @property
    def settings(self) -> Settings:
        return self.result.settings

    def objects(self, kind: str | None = None) -> list[Obj]:
        found = []
        for resource in self.result.resources:
            if not resource.type.startswith("kubernetes:") or not resource.custom:
                continue
            manifest = unwrap(resource.inputs)
            metadata = manifest.get("metadata", {})
            obj = Obj(manifest["kind"], metadata.get("name"), metadata.get("namespace"), manifest, resource)
            if kind is None or obj.kind == kind:
                found.append(obj)
        return found

    def workloads(self) -> dict[str, Obj]:
        workloads = {}
        for obj in self.objects():
            if obj.kind in WORKLOAD_KINDS:
                service = obj.manifest["spec"]["template"]["metadata"]["labels"][NAME]
                assert service not in workloads, f"{service} runs in two workloads"
                workloads[service] = obj
        return workloads

    def one(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        matches = [o for o in self.objects(kind) if o.name == name and (namespace is None or o.namespace == namespace)]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]


def synth_capturing(stack: str, config: list[str] = (), secrets: list[str] = (), root: Path = ROOT) -> Prod:
    """synth, also keeping the MonitoringArgs the backend was built from (the expectations' source)."""
    captured: list = []
    original = KubernetesMonitoring.__init__

    def recording(self, name, args, opts=None):
        captured.append((args, self))
        original(self, name, args, opts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(KubernetesMonitoring, "__init__", recording)
        result = synth(stack, list(config), list(secrets), root=root)
    assert len(captured) == 1, "the prod program must build exactly one KubernetesMonitoring"
    return Prod(result, *captured[0])


def stack_variant(tmp_path: Path, edit) -> Prod:
    """synth a copy of the prod stack file changed by `edit(config_dict)` (for settings a --config
    override cannot express, such as unsetting a key)."""
    for entry in ROOT.iterdir():
        if entry.name not in {"Pulumi.prod.yaml", "venv", ".git"}:
            (tmp_path / entry.name).symlink_to(entry)
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    edit(document["config"])
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    return synth_capturing("prod", root=tmp_path)


@pytest.fixture(scope="module")
def prod() -> Prod:
    return synth_capturing("prod")


def containers(obj: Obj) -> list[dict]:
    """The service's own container, named after it (a reloader is `reloaders`', a second server `sidecars`')."""
    return [c for c in obj.manifest["spec"]["template"]["spec"]["containers"] if c["name"] == obj.manifest["spec"]["template"]["metadata"]["labels"][NAME]]


def sidecars(obj: Obj) -> list[dict]:
    """Containers that are neither the service's own nor its reloader: a second server (ServiceSpec.sidecar)."""
    own = {c["name"] for c in containers(obj) + reloaders(obj)}
    return [c for c in obj.manifest["spec"]["template"]["spec"]["containers"] if c["name"] not in own]


def reloaders(obj: Obj) -> list[dict]:
    return [c for c in obj.manifest["spec"]["template"]["spec"]["containers"] if c["name"] == RELOADER_NAME]


def pod_spec(obj: Obj) -> dict:
    return obj.manifest["spec"]["template"]["spec"]


def settings_field(service: str) -> str:
    return service.replace("-", "_")


# --- structure ---------------------------------------------------------------------------------


def test_every_child_is_parented_and_named_after_the_component(prod):
    """Resources outside the component would escape its options (provider, protect) and its URN tree;
    fixed names would collide when a second stack shares the program."""
    components = {r.name: r for r in prod.result.resources if r.type.startswith("ngx:monitoring:Kubernetes")}
    root = next(r for r in components.values() if r.type == "ngx:monitoring:KubernetesMonitoring")
    assert root.name == "ngx"
    for obj in prod.objects():
        assert obj.raw.name.startswith(f"{root.name}-"), obj.raw.name
        parent = obj.raw.parent
        while parent != root.name:
            assert parent in components, f"{obj.raw.name} is parented outside the Kubernetes component ({parent})"
            parent = components[parent].parent
    workload_components = [r for r in components.values() if r.type == "ngx:monitoring:KubernetesWorkload"]
    assert {r.name for r in workload_components} == {f"ngx-{service}" for service in long_running()}
    job_components = [r for r in components.values() if r.type == "ngx:monitoring:KubernetesJob"]
    assert {r.name for r in job_components} == {f"ngx-{service}" for service in set(SERVICES) - set(long_running())}
    assert all(r.parent == root.name for r in workload_components + job_components)


def test_public_shape(prod):
    """The same outputs as the Docker backend: `services` per long-running service, `jobs` per
    scheduled one, `grafana_ready`."""
    assert set(prod.component.services) == set(long_running())
    assert set(prod.component.jobs) == set(SERVICES) - set(long_running())
    assert all(isinstance(service, KubernetesWorkload) for service in prod.component.services.values())
    assert _sync_await(prod.component.grafana_ready.future()) is True


def test_grafana_ready_waits_for_grafana_the_proxy_and_the_ingress(prod):
    """The Grafana provider talks to the public URL: Grafana, the proxy and the Ingress must all be up."""
    depends_on = {getattr(resource, "_name", None) for resource in _sync_await(prod.component.grafana_ready.resources())}
    ingress = {obj.raw.name for obj in prod.objects("Ingress")}
    expected = {prod.component.services[GRAFANA].workload._name, prod.component.services[ENTRYPOINT].workload._name}
    assert expected | ingress <= depends_on and len(ingress) == 1


def test_every_object_carries_the_identity_labels(prod):
    """`app.kubernetes.io/*` on everything lets `kubectl get all -l app.kubernetes.io/part-of=ngx-monitoring`
    find the whole stack and tells the owner of any object at a glance."""
    for obj in prod.objects():
        metadata_labels = obj.manifest["metadata"].get("labels", {})
        assert IDENTITY_LABELS <= set(metadata_labels), f"{obj.kind}/{obj.name} lacks {IDENTITY_LABELS - set(metadata_labels)}"
        assert metadata_labels["app.kubernetes.io/part-of"] == "ngx-monitoring"
        assert metadata_labels[INSTANCE] == "ngx-monitoring"


# --- namespaces and Pod Security ------------------------------------------------------------------


def test_stack_namespace_enforces_restricted_and_host_namespace_is_the_documented_exception(prod):
    k8s = prod.settings.kubernetes
    namespaces = {obj.name: obj.manifest["metadata"] for obj in prod.objects("Namespace")}
    assert set(namespaces) == {k8s.namespace, k8s.host_namespace}
    assert namespaces[k8s.namespace]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    host = namespaces[k8s.host_namespace]
    assert host["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "hostPath" in host["annotations"]["ngx-monitoring/pod-security-exception"]


def test_only_host_access_services_run_in_the_privileged_namespace(prod):
    """The `privileged` exception must cover node-exporter and the log shipper and nothing else."""
    k8s = prod.settings.kubernetes
    host_access = {name for name, service in SERVICES.items() if service.host_access}
    for service, obj in prod.workloads().items():
        expected = k8s.host_namespace if service in host_access else k8s.namespace
        assert obj.namespace == expected, f"{service} runs in {obj.namespace}"
    for obj in prod.objects():
        if obj.namespace == k8s.host_namespace and obj.kind not in {"NetworkPolicy", "Role", "RoleBinding"}:
            assert obj.manifest["metadata"]["labels"][NAME] in host_access, f"{obj.kind}/{obj.name} in {k8s.host_namespace}"


def test_no_namespaced_object_lands_in_the_default_namespace(prod):
    for obj in prod.objects():
        if obj.kind in CLUSTER_SCOPED:
            continue
        assert obj.namespace not in (None, "", "default"), f"{obj.kind}/{obj.name} has no namespace"


# --- workloads --------------------------------------------------------------------------------------


def test_workload_kind_follows_the_spec(prod):
    """Host mounts -> one pod per node; a data directory -> a StatefulSet with claims; else a Deployment."""
    workloads = prod.workloads()
    assert set(workloads) == {service for service, spec in prod.args.specs.items() if not spec.scheduled}
    for service, spec in prod.args.specs.items():
        if spec.scheduled:
            continue  # CronJobs: test_backup_deploy.py
        expected = "DaemonSet" if spec.host_mounts else "StatefulSet" if spec.data_dir else "Deployment"
        assert workloads[service].kind == expected, service
        if expected != "DaemonSet":
            assert workloads[service].manifest["spec"]["replicas"] == spec.replicas


def test_every_pod_is_restricted(prod):
    """The `restricted` Pod Security Standard, plus a UID >= 10000 where the image allows it."""
    for service, obj in prod.workloads().items():
        spec = prod.args.specs[service]
        pod = pod_spec(obj)
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), service
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(obj) + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == spec.uid, service
            assert context["allowPrivilegeEscalation"] is False, service
            assert context["readOnlyRootFilesystem"] is True, service
            assert context.get("privileged", False) is False, service
            assert context["capabilities"] == {"drop": ["ALL"]}, service
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, service
        assert spec.uid >= 10000 or service in IMAGE_OWNED_UIDS, f"{service} runs as UID {spec.uid}"
    assert set(IMAGE_OWNED_UIDS) <= set(prod.args.specs)


def test_only_services_that_read_the_api_get_a_token(prod):
    """A token is an API credential: only services with a topology egress to the Kubernetes API get one."""
    readers = {egress.source for egress in EGRESS if egress.to == "kube-api"}
    assert readers == {PROMETHEUS, KUBE_STATE_METRICS, ALLOY}
    for service, obj in prod.workloads().items():
        assert pod_spec(obj)["automountServiceAccountToken"] is (service in readers), service
        account = prod.one("ServiceAccount", pod_spec(obj)["serviceAccountName"], obj.namespace)
        assert account.manifest["automountServiceAccountToken"] is (service in readers), service


def _account(prod, service: str) -> list[dict]:
    namespace = prod.settings.kubernetes.host_namespace if service == ALLOY else prod.settings.kubernetes.namespace
    return [{"kind": "ServiceAccount", "name": pod_spec(prod.workloads()[service])["serviceAccountName"], "namespace": namespace}]


def test_prometheus_discovery_rbac_is_namespaced_and_read_only(prod):
    settings = prod.settings
    roles = [role for role in prod.objects("Role") if role.name == ROLE_NAME]
    assert {role.namespace for role in roles} == {settings.app.namespace, settings.kubernetes.host_namespace}
    for role in roles:
        for rule in role.manifest["rules"]:
            assert set(rule["verbs"]) <= READ_VERBS, rule
            assert set(rule["resources"]) <= {"pods", "services", "endpoints", "endpointslices"}, rule
    for binding in prod.objects("RoleBinding"):
        assert binding.manifest["roleRef"]["kind"] == "Role"
        assert binding.manifest["roleRef"]["name"] == binding.name
        reader = {ROLE_NAME: PROMETHEUS, ROLE_NAMES[ALLOY]: ALLOY}.get(binding.name, KUBE_STATE_METRICS)
        assert binding.manifest["subjects"] == _account(prod, reader)


def test_alloy_may_only_watch_the_application_pods_of_its_own_node(prod):
    """Alloy's token reads pod metadata in the application namespace and nothing else (list/watch, no
    get, no other namespace); its discovery asks only for its node's pods, whose name the downward API
    gives it."""
    (role,) = [role for role in prod.objects("Role") if role.name == ROLE_NAMES[ALLOY]]
    assert role.namespace == prod.settings.app.namespace
    assert role.manifest["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]
    (container,) = [c for c in pod_spec(prod.workloads()[ALLOY])["containers"] if c["name"] == ALLOY]
    assert {"name": alloy.NODE_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in container["env"]


def test_the_one_cluster_role_lets_prometheus_list_nodes_and_get_their_proxy(prod):
    """Nodes are cluster-scoped, so the kubelet and cAdvisor jobs need the stack's only ClusterRole:
    list/watch nodes (discovery) and get nodes/proxy (the API server's proxy to the kubelet), bound to
    Prometheus alone. No `create` on nodes/proxy, no other resource, no wildcard."""
    (role,) = prod.objects("ClusterRole")
    (binding,) = prod.objects("ClusterRoleBinding")
    assert role.name == binding.name == f"{prod.settings.kubernetes.namespace}-prometheus-nodes"
    assert role.manifest["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    ]
    assert binding.manifest["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.name}
    assert binding.manifest["subjects"] == _account(prod, PROMETHEUS)


def test_kube_state_metrics_reads_exactly_what_it_exports_in_the_watched_namespaces(prod):
    """--namespaces and --resources bound what it lists; its Roles grant exactly that, per namespace."""
    settings = prod.settings
    watched = {settings.app.namespace, settings.kubernetes.namespace, settings.kubernetes.host_namespace}
    roles = [role for role in prod.objects("Role") if role.name == KUBE_STATE_METRICS]
    assert {role.namespace for role in roles} == watched and len(roles) == len(watched)
    for role in roles:
        assert role.manifest["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["list", "watch"]},
        ]
    args = containers(prod.workloads()[KUBE_STATE_METRICS])[0]["args"]
    assert f"--namespaces={','.join(sorted(watched))}" in args
    assert "--resources=deployments,pods,statefulsets" in args
    allowlist = next(arg for arg in args if arg.startswith("--metric-allowlist=")).split("=", 1)[1].split(",")
    assert set(allowlist) == {m.name for m in catalog.METRICS.values() if m.source == catalog.JOB_KUBE_STATE_METRICS}


def test_requests_equal_limits_from_settings(prod):
    for service, obj in prod.workloads().items():
        budget = getattr(prod.settings.resources, settings_field(service))
        expected = {"cpu": budget.cpu, "memory": budget.memory}
        for container in containers(obj):
            assert container["resources"] == {"requests": expected, "limits": expected}, service


def test_every_container_has_probes_from_the_spec(prod):
    """HTTP on the unauthenticated endpoint where there is one, else the authenticated exec probe."""
    for service, obj in prod.workloads().items():
        probe = prod.args.specs[service].probe
        for container in containers(obj):
            for kind in ("livenessProbe", "readinessProbe"):
                found = container[kind]
                if probe.http_path is not None:
                    assert found["httpGet"] == {"path": probe.http_path, "port": probe.port, "scheme": "HTTP"}, service
                    assert probe.port in {port["name"] for port in container["ports"]}, service
                else:
                    assert found["exec"]["command"] == list(probe.command), service


def test_images_are_the_pinned_images_from_settings(prod):
    for service, obj in prod.workloads().items():
        expected = getattr(prod.settings.images, settings_field(service))
        for container in containers(obj):
            assert container["image"] == expected, service
            tag = expected.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", service


def test_version_is_a_label_but_never_part_of_a_selector(prod):
    """Selectors are immutable; a version in one would break the first upgrade."""
    for service, obj in prod.workloads().items():
        tag = prod.args.specs[service].image.split("@")[0].rsplit(":", 1)[1]
        assert obj.manifest["metadata"]["labels"][VERSION] == tag
        assert obj.manifest["spec"]["template"]["metadata"]["labels"][VERSION] == tag
        assert obj.manifest["spec"]["selector"]["matchLabels"] == {NAME: service, INSTANCE: "ngx-monitoring"}
        for claim in obj.manifest["spec"].get("volumeClaimTemplates", []):
            assert VERSION not in claim["metadata"].get("labels", {}), service
        affinity = pod_spec(obj).get("affinity", {}).get("podAntiAffinity", {})
        for term in affinity.get("preferredDuringSchedulingIgnoredDuringExecution", []):
            assert VERSION not in term["podAffinityTerm"]["labelSelector"]["matchLabels"]
    selectors = [o.manifest["spec"]["selector"] for o in prod.objects("Service") if "selector" in o.manifest["spec"]]
    selectors += [o.manifest["spec"]["selector"]["matchLabels"] for o in prod.objects("PodDisruptionBudget")]
    selectors += [o.manifest["spec"]["podSelector"].get("matchLabels", {}) for o in prod.objects("NetworkPolicy")]
    assert selectors and all(VERSION not in selector for selector in selectors)


def test_daemonsets_are_found_by_prometheus_pod_discovery(prod):
    """Prometheus discovers node-exporter and Alloy by pod label in the host namespace: the DaemonSets'
    pods must carry exactly that label there, or two scrape jobs silently find nothing."""
    config = yaml.safe_load(prod.result.files["prometheus/prometheus.yml"])
    pod_jobs = [job for job in config["scrape_configs"] if any(sd["role"] == "pod" for sd in job.get("kubernetes_sd_configs", []))]
    daemonsets = {o.manifest["spec"]["template"]["metadata"]["labels"][NAME]: o for o in prod.objects("DaemonSet")}
    assert len(daemonsets) == len(addresses.DAEMONS)
    assert [job["job_name"] for job in pod_jobs] == [j for j in catalog.JOBS if j in {job for d in addresses.DAEMONS for job, _ in SERVICES[d].scrapes()}]
    for job in pod_jobs:
        sd = job["kubernetes_sd_configs"][0]
        key, _, value = sd["selectors"][0]["label"].partition("=")
        matching = [
            o
            for o in daemonsets.values()
            if o.manifest["spec"]["template"]["metadata"]["labels"].get(key) == value and o.namespace in sd["namespaces"]["names"]
        ]
        assert len(matching) == 1, job["job_name"]
        # Pod discovery yields one target per container port: the job keeps its own port only, which
        # exactly one container of the pod declares.
        keep = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
        assert [rule["source_labels"] for rule in keep] == [["__meta_kubernetes_pod_container_port_name"]], job["job_name"]
        declared = [port for c in pod_spec(matching[0])["containers"] for port in c.get("ports", []) if port["name"] == keep[0]["regex"]]
        assert len(declared) == 1, job["job_name"]
        assert job["relabel_configs"][1]["replacement"] == f"$1:{declared[0]['containerPort']}", job["job_name"]


# --- state -------------------------------------------------------------------------------------------


def test_stateful_services_keep_their_data_on_protected_claims(prod):
    """Claims come from volumeClaimTemplates (the StatefulSet controller owns them): the StatefulSet is
    protected and retained, its claims outlive deletion and scale-down, and the namespace (whose
    deletion would delete every claim) is protected too."""
    storage_class = prod.settings.kubernetes.storage_class
    workloads = prod.workloads()
    stateful = {service: spec for service, spec in prod.args.specs.items() if spec.data_dir}
    assert set(stateful) == {name for name, service in SERVICES.items() if service.stateful}
    for service, spec in stateful.items():
        obj = workloads[service]
        assert obj.raw.options["protect"] is True and obj.raw.options["retainOnDelete"] is True, service
        assert obj.manifest["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        (claim,) = obj.manifest["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == spec.storage_size, service
        assert claim["spec"].get("storageClassName") == storage_class, service
        mounts = {m["mountPath"]: m["name"] for c in containers(obj) for m in c["volumeMounts"]}
        assert mounts[spec.data_dir] == claim["metadata"]["name"], service
        volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
        assert claim["metadata"]["name"] not in volumes, f"{service}: the data volume is shadowed by a pod volume"
        assert obj.namespace == prod.settings.kubernetes.namespace
    for claim in prod.objects("PersistentVolumeClaim"):
        assert claim.raw.options["protect"] and claim.raw.options["retainOnDelete"], claim.name
    namespace = prod.one("Namespace", prod.settings.kubernetes.namespace)
    assert namespace.raw.options["protect"] and namespace.raw.options["retainOnDelete"]


def test_grafana_state_is_persistent_and_its_password_a_secret_file(prod):
    spec = prod.args.specs[GRAFANA]
    obj = prod.workloads()[GRAFANA]
    volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
    (container,) = containers(obj)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" not in volumes.get(mounts[spec.data_dir]["name"], {}), "Grafana's API-written state would be lost"
    password_file = next(e["value"] for e in container["env"] if e["name"] == "GF_SECURITY_ADMIN_PASSWORD__FILE")
    mount = mounts[password_file]
    assert "secret" in volumes[mount["name"]] and mount["readOnly"] is True
    secret = prod.one("Secret", volumes[mount["name"]]["secret"]["secretName"], obj.namespace)
    assert is_secret(secret.raw.inputs["stringData"])
    assert mount["subPath"] in secret.manifest["stringData"]


# --- high availability ---------------------------------------------------------------------------------


def test_prometheus_is_highly_available_with_distinct_replica_labels(prod):
    settings = prod.settings
    spec = prod.args.specs[PROMETHEUS]
    obj = prod.workloads()[PROMETHEUS]
    assert obj.manifest["spec"]["replicas"] == settings.prometheus.replicas >= 2
    (container,) = containers(obj)
    replica_env = next(e for e in container["env"] if e["name"] == spec.replica_env)
    assert replica_env["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    config = yaml.safe_load(prod.result.files["prometheus/prometheus.yml"])
    assert config["global"]["external_labels"]["replica"] == f"${{{spec.replica_env}}}"
    assert f"--storage.tsdb.retention.time={settings.prometheus.retention_time}" in container["args"]
    assert f"--storage.tsdb.retention.size={settings.prometheus.retention_size}" in container["args"]
    assert [job["job_name"] for job in config["scrape_configs"]] == list(catalog.JOBS)
    api_job = next(job for job in config["scrape_configs"] if job["job_name"] == catalog.JOB_API)
    (sd,) = api_job["kubernetes_sd_configs"]
    assert sd["namespaces"]["names"] == [settings.app.namespace]
    assert sd["selectors"] == [{"role": "service", "label": settings.app.service_selector}]


def test_alertmanager_is_clustered_through_its_headless_service(prod):
    settings = prod.settings
    replicas = settings.alertmanager.replicas
    namespace = settings.kubernetes.namespace
    obj = prod.workloads()[ALERTMANAGER]
    assert obj.manifest["spec"]["replicas"] == replicas >= 3
    mesh = SERVICES[ALERTMANAGER].port("mesh-tcp").number
    peers = [f"--cluster.peer={ALERTMANAGER}-{i}.{ALERTMANAGER}-headless.{namespace}.svc:{mesh}" for i in range(replicas)]
    (container,) = containers(obj)
    assert [arg for arg in container["args"] if arg.startswith("--cluster.peer=")] == peers
    headless = prod.one("Service", f"{ALERTMANAGER}-headless", namespace)
    assert obj.manifest["spec"]["serviceName"] == headless.name
    assert headless.manifest["spec"]["clusterIP"] == "None"
    assert headless.manifest["spec"]["publishNotReadyAddresses"] is True
    assert {(p["port"], p["protocol"]) for p in headless.manifest["spec"]["ports"]} >= {(mesh, "TCP"), (mesh, "UDP")}
    config = yaml.safe_load(prod.result.files["prometheus/prometheus.yml"])
    (alerting,) = config["alerting"]["alertmanagers"]
    web = SERVICES[ALERTMANAGER].port("web").number
    assert alerting["static_configs"][0]["targets"] == [f"{ALERTMANAGER}-{i}.{ALERTMANAGER}-headless.{namespace}.svc:{web}" for i in range(replicas)]


def test_replicated_services_have_a_disruption_budget_and_spread(prod):
    replicated = {service for service, spec in prod.args.specs.items() if spec.replicas > 1}
    assert {PROMETHEUS, ALERTMANAGER} <= replicated
    budgets = {o.manifest["spec"]["selector"]["matchLabels"][NAME]: o for o in prod.objects("PodDisruptionBudget")}
    assert set(budgets) == replicated
    for service in replicated:
        assert budgets[service].manifest["spec"]["maxUnavailable"] == 1
        (term,) = pod_spec(prod.workloads()[service])["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {NAME: service, INSTANCE: "ngx-monitoring"}


def test_loki_is_one_binary_with_compactor_retention(prod):
    obj = prod.workloads()[LOKI]
    assert obj.kind == "StatefulSet" and obj.manifest["spec"]["replicas"] == 1
    config = yaml.safe_load(prod.result.files["loki/loki.yaml"])
    assert config["target"] == "all"
    assert config["compactor"]["retention_enabled"] is True
    assert config["limits_config"]["retention_period"] == prod.settings.loki.retention


# --- files -----------------------------------------------------------------------------------------


def _file_source(prod: Prod, obj: Obj, container: dict, path: str) -> tuple[str, dict, str, int]:
    """Where the container reads `path` from: (kind of object, its manifest, key, file mode)."""
    volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path or ("subPath" not in m and path.startswith(m["mountPath"] + "/"))]
    assert mount["readOnly"] is True, path
    relative = mount["subPath"] if "subPath" in mount else path[len(mount["mountPath"]) + 1 :]
    volume = volumes[mount["name"]]
    if "projected" in volume:
        sources, mode = volume["projected"]["sources"], volume["projected"]["defaultMode"]
    else:
        sources = [{kind: volume[kind]} for kind in ("configMap", "secret") if kind in volume]
        mode = next(source[kind]["defaultMode"] for source in sources for kind in source)
    for source in sources:
        ((kind, ref),) = source.items()
        name = ref.get("name", ref.get("secretName"))
        manifest = prod.one("ConfigMap" if kind == "configMap" else "Secret", name, obj.namespace).manifest
        keys = {item["path"]: item["key"] for item in ref["items"]} if "items" in ref else None
        key = keys.get(relative) if keys is not None else relative
        if key in manifest.get("data", manifest.get("stringData", {})):
            return kind, manifest, key, mode
    raise AssertionError(f"{path}: no volume source holds it")


def test_node_exporter_pod_has_the_netdev_exporter_beside_it(prod):
    """The host's interfaces (renderers/commands.node_exporter_netdev_args): a second container of the
    node-exporter DaemonSet's pod, on its own port, with only the host's /proc read-only, hardened and
    sized like any container; node-exporter's own netdev collector is off. Only node-exporter has one."""
    with_sidecars = {service: sidecars(obj) for service, obj in prod.workloads().items() if sidecars(obj)}
    assert set(with_sidecars) == {"node-exporter"}
    obj = prod.workloads()["node-exporter"]
    spec = prod.args.specs["node-exporter"]
    ((sidecar,),) = with_sidecars.values()
    (main,) = containers(obj)
    port = SERVICES["node-exporter"].port("netdev")
    assert sidecar["name"] == "netdev" and sidecar["image"] == main["image"]
    assert sidecar["args"] == list(spec.sidecar.args) and "--path.procfs=/host/proc/1" in sidecar["args"]
    assert "--no-collector.netdev" in main["args"]
    assert sidecar["ports"] == [{"name": "netdev", "containerPort": port.number, "protocol": "TCP"}]
    assert "netdev" not in {p["name"] for p in main["ports"]}
    assert sidecar["securityContext"] == main["securityContext"]
    size = {"cpu": spec.sidecar.cpu, "memory": spec.sidecar.memory}
    assert sidecar["resources"] == {"requests": size, "limits": size}
    volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
    assert [(volumes[m["name"]]["hostPath"]["path"], m["mountPath"], m["readOnly"]) for m in sidecar["volumeMounts"]] == [("/proc", "/host/proc", True)]
    for kind in ("livenessProbe", "readinessProbe"):
        assert sidecar[kind]["httpGet"] == {"path": "/", "port": "netdev", "scheme": "HTTP"}
    assert "hostNetwork" not in pod_spec(obj) and "hostPID" not in pod_spec(obj)


def test_every_file_is_mounted_where_the_spec_says_with_its_content(prod):
    """ConfigMaps for rendered files, Secrets (string_data, 0440) for credentials, each at its path:
    a file by itself (subPath) for a service that restarts on a change, its whole directory for one
    that reloads (pod.py)."""
    for service, obj in prod.workloads().items():
        spec = prod.args.specs[service]
        volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
        (container,) = containers(obj)
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        for path, text in spec.config_files.items():
            kind, manifest, key, mode = _file_source(prod, obj, container, path)
            assert kind == "configMap" and manifest["data"][key] == text, path
            assert mode in (0o444, 0o440), path
        for path in spec.secret_files:
            kind, manifest, key, mode = _file_source(prod, obj, container, path)
            assert kind == "secret" and key in manifest["stringData"], path
            assert mode == 0o440, path
        subpath = [m for m in container["volumeMounts"] if "subPath" in m]
        assert (not subpath) == (spec.file_change == RELOAD or not (spec.config_files or spec.secret_files)), service
        for host_mount in spec.host_mounts:
            volume = volumes[mounts[host_mount.container_path]["name"]]
            assert volume["hostPath"]["path"] == host_mount.host_path
            assert mounts[host_mount.container_path]["readOnly"] is True
        for directory in spec.scratch_dirs:
            assert "emptyDir" in volumes[mounts[directory]["name"]], directory
    for obj in prod.objects("Secret"):
        assert is_secret(obj.raw.inputs["stringData"]), obj.name


def _template(obj: Obj) -> dict:
    return obj.manifest["spec"]["jobTemplate"]["spec"]["template"] if obj.kind == "CronJob" else obj.manifest["spec"]["template"]


def test_a_config_change_rolls_only_the_pods_that_restart_on_it(prod):
    """A reloading service (Prometheus, Alertmanager) keeps its pod template whatever its files say;
    a restarting one rolls through its checksum, which is deterministic (no restart on a no-op deploy)
    and changes exactly when its files do. tests/test_synthdiff.py holds the same over whole stacks."""
    # Rules and scrape settings (reloading services), and Loki's retention (a restarting one).
    changed = synth_capturing("prod", ["prometheus.evaluationInterval=30s", "alerting.thresholds.errorRate=0.07", "loki.retention=360h"])
    again = synth_capturing("prod")
    reloading = {service for service, spec in prod.args.specs.items() if spec.file_change == RELOAD}
    assert reloading == {PROMETHEUS, ALERTMANAGER}
    assert prod.args.specs[PROMETHEUS].config_files != changed.args.specs[PROMETHEUS].config_files

    def templates(stack: Prod) -> dict[str, dict]:
        return {f"{o.kind}/{o.name}": _template(o) for o in stack.objects() if o.kind in WORKLOAD_KINDS | {"CronJob"}}

    before, after = templates(prod), templates(changed)
    assert before == templates(again)
    readers = {service for service, spec in prod.args.specs.items() if spec.config_files != changed.args.specs[service].config_files}
    rolled = {key for key in before if before[key] != after[key]}
    assert LOKI in readers and PROMETHEUS in readers
    assert rolled == {f"{obj.kind}/{obj.name}" for service, obj in prod.workloads().items() if service in readers - reloading}
    for service, obj in prod.workloads().items():
        annotations = obj.manifest["spec"]["template"]["metadata"].get("annotations", {})
        assert ("checksum/config" in annotations) == (service not in reloading), service
        if "checksum/config" in annotations:
            assert not is_secret(obj.raw.inputs["spec"]["template"]["metadata"]["annotations"]["checksum/config"])


def test_alertmanager_is_reloaded_by_a_sidecar_that_can_signal_it_and_nothing_else(prod):
    """renderers/reloader.py: same image and UID, the pod's process namespace, read-only watched
    directories, restricted security context, no credential, its own small requests = limits."""
    spec = prod.args.specs[ALERTMANAGER]
    for service, obj in prod.workloads().items():
        assert bool(reloaders(obj)) == (prod.args.specs[service].reloader is not None), service
        assert pod_spec(obj).get("shareProcessNamespace", False) == bool(reloaders(obj)), service
    obj = prod.workloads()[ALERTMANAGER]
    ((reloader,), (service,)) = reloaders(obj), containers(obj)
    assert reloader["image"] == service["image"] and reloader["command"] == list(spec.reloader.command)
    assert reloader["securityContext"] == service["securityContext"]
    assert "ports" not in reloader and "env" not in reloader
    assert {m["mountPath"] for m in reloader["volumeMounts"]} == set(spec.reloader.watched_dirs)
    assert all(m["readOnly"] for m in reloader["volumeMounts"])
    for kind in ("readinessProbe", "livenessProbe"):
        assert reloader[kind]["exec"]["command"] == list(spec.reloader.probe_command)
    size = {"cpu": spec.reloader.cpu, "memory": spec.reloader.memory}
    assert reloader["resources"] == {"requests": size, "limits": size}


def test_the_provider_updates_config_maps_and_secrets_in_place(prod):
    """With the default provider a changed ConfigMap is replaced (and for a moment missing)."""
    (provider,) = prod.result.of_type("pulumi:providers:kubernetes")
    # Provider configuration reaches the engine as strings.
    assert {provider.inputs["enableConfigMapMutable"], provider.inputs["enableSecretMutable"]} <= {True, "true"}
    for obj in [*prod.objects("ConfigMap"), *prod.objects("Secret")]:
        assert not obj.manifest.get("immutable"), obj.name
    # Every resource of the backend inherits it from the component.
    for workload in prod.component.services.values():
        assert workload.workload._provider._name == provider.name, workload.workload._name


def test_no_credential_reaches_a_non_secret_input(prod_seeded):
    """Seeded secrets may only appear inside values Pulumi marks secret (Secret string_data)."""

    def leaks(value: Any) -> list[str]:
        if is_secret(value):
            return []
        if isinstance(value, dict):
            return [leak for item in value.values() for leak in leaks(item)]
        if isinstance(value, list):
            return [leak for item in value for leak in leaks(item)]
        return [s for s in SEEDED_SECRETS.values() if isinstance(value, str) and s in value]

    found = {(r.type, r.name): leaks(r.inputs) for r in prod_seeded.resources if r.type.startswith("kubernetes:")}
    assert not {key: value for key, value in found.items() if value}
    in_secrets = [
        r for r in prod_seeded.resources if r.type == "kubernetes:core/v1:Secret" and any(s in str(unwrap(r.inputs)) for s in SEEDED_SECRETS.values())
    ]
    assert in_secrets, "the seeded secrets should reach the containers through Secrets"


# --- exposure -----------------------------------------------------------------------------------------


def test_the_proxy_is_exposed_by_an_ingress_with_tls(prod):
    k8s = prod.settings.kubernetes
    (ingress,) = prod.objects("Ingress")
    spec = ingress.manifest["spec"]
    assert spec["ingressClassName"] == k8s.ingress_class
    (tls,) = spec["tls"]
    assert tls["hosts"] == [prod.settings.domain] and tls["secretName"]
    (rule,) = spec["rules"]
    assert rule["host"] == prod.settings.domain
    backends = {(p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"]) for p in rule["http"]["paths"]}
    assert backends == {("proxy", "https")}
    proxy_service = prod.one("Service", "proxy", k8s.namespace)
    assert "https" in {p["name"] for p in proxy_service.manifest["spec"]["ports"]}
    annotations = ingress.manifest["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
    assert annotations["nginx.ingress.kubernetes.io/proxy-ssl-verify"] == "on"
    assert annotations["cert-manager.io/cluster-issuer"] == k8s.cluster_issuer
    services = {o.name for o in prod.objects("Service")}
    assert not [o for o in prod.objects("Service") if o.manifest["spec"].get("type", "ClusterIP") != "ClusterIP"], services


def test_with_an_issuer_only_the_ingress_controller_reaches_the_http01_solver(prod):
    """cert-manager starts its HTTP-01 solver pods in the Ingress's namespace, which denies all ingress
    by default: without this policy the CA's challenge never arrives and no certificate is issued."""
    k8s = prod.settings.kubernetes
    assert k8s.cluster_issuer
    [policy] = [p for p in prod.objects("NetworkPolicy") if p.name == "acme-http01-solver"]
    assert policy.namespace == k8s.namespace
    assert policy.manifest["spec"] == {
        "podSelector": {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": k8s.ingress_controller_namespace}}}],
                "ports": [{"port": 8089, "protocol": "TCP"}],
            }
        ],
    }


def test_without_issuer_or_secret_the_ingress_serves_the_stack_ca_certificate(tmp_path):
    def edit(config):
        config["ngx-monitoring:kubernetes"].pop("clusterIssuer")

    variant = stack_variant(tmp_path, edit)
    (ingress,) = variant.objects("Ingress")
    assert "cert-manager.io/cluster-issuer" not in ingress.manifest["metadata"]["annotations"]
    assert not [p for p in variant.objects("NetworkPolicy") if p.name == "acme-http01-solver"], "no issuer, no solver to admit"
    secret = variant.one("Secret", ingress.manifest["spec"]["tls"][0]["secretName"], ingress.namespace)
    assert secret.manifest["type"] == "kubernetes.io/tls"
    assert is_secret(secret.raw.inputs["stringData"]) and set(secret.manifest["stringData"]) == {"tls.crt", "tls.key"}


def test_a_provided_tls_secret_is_used_as_is(tmp_path):
    def edit(config):
        config["ngx-monitoring:kubernetes"].pop("clusterIssuer")
        config["ngx-monitoring:kubernetes"]["tlsSecretName"] = "monitoring-tls"

    variant = stack_variant(tmp_path, edit)
    (ingress,) = variant.objects("Ingress")
    assert ingress.manifest["spec"]["tls"][0]["secretName"] == "monitoring-tls"
    assert not [o for o in variant.objects("Secret") if o.name == "monitoring-tls" or o.manifest.get("type") == "kubernetes.io/tls"]


# --- network policy basics (edge semantics: test_isolation_parity.py) -------------------------------------


def test_every_stack_namespace_denies_by_default_and_allows_dns(prod):
    k8s = prod.settings.kubernetes
    policies = prod.objects("NetworkPolicy")
    for namespace in (k8s.namespace, k8s.host_namespace):
        deny = [
            p.manifest["spec"]
            for p in policies
            if p.namespace == namespace
            and p.manifest["spec"]["podSelector"] == {}
            and not p.manifest["spec"].get("ingress")
            and not p.manifest["spec"].get("egress")
        ]
        assert any(set(spec["policyTypes"]) == {"Ingress", "Egress"} for spec in deny), namespace
        dns = [rule for p in policies if p.namespace == namespace and p.manifest["spec"]["podSelector"] == {} for rule in p.manifest["spec"].get("egress", [])]
        assert any(
            {(port["port"], port["protocol"]) for port in rule["ports"]} == {(53, "UDP"), (53, "TCP")}
            and rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
            for rule in dns
        ), namespace


def test_every_pod_is_selected_by_a_policy_of_its_own(prod):
    """A policy naming the service's pods (beyond the namespace-wide deny) documents its allowed edges."""
    for service, obj in prod.workloads().items():
        selectors = [p.manifest["spec"]["podSelector"].get("matchLabels") for p in prod.objects("NetworkPolicy") if p.namespace == obj.namespace]
        assert {NAME: service, INSTANCE: "ngx-monitoring"} in selectors, service


def test_prometheus_reaches_the_api_only_at_the_endpoints_the_cluster_lists(prod):
    """Service discovery needs the API server and nothing else: prod sets no kubernetes.apiServerCidr, so the
    rule names the endpoints of the EndpointSlice default/kubernetes (the mocks' answer), not the Service VIP.
    The override and a slice with nothing in it: test_kubernetes_api_server.py."""
    assert prod.settings.kubernetes.api_server_cidr is None
    [read] = prod.result.reads
    assert (read.type, read.id) == (ENDPOINT_SLICE, "default/kubernetes")
    policy = prod.one("NetworkPolicy", PROMETHEUS, prod.settings.kubernetes.namespace)
    blocks = [rule for rule in policy.manifest["spec"]["egress"] if "ipBlock" in rule["to"][0]]
    assert blocks == [
        {
            "to": [{"ipBlock": {"cidr": f"{address}/32"}} for endpoint in API_SERVER_SLICE["endpoints"] for address in endpoint["addresses"]],
            "ports": [{"port": port["port"], "protocol": "TCP"} for port in API_SERVER_SLICE["ports"]],
        }
    ]
