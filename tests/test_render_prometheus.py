"""prometheus.yml, web.yml and the Prometheus command line, checked by Debian's promtool 2.42.

The files are checked at the in-container paths they name (see tests/sandbox.py), so a wrong path
to a rule file, password file or certificate fails here rather than in a crash-looping container."""

from __future__ import annotations

import copy
import subprocess
import urllib.parse

import bcrypt
import pytest
import yaml

import backup_plan
import catalog
from renderers import auth, backup, commands, paths, probe
from renderers.prometheus import OWN_LABELS, SERVICE_ACCOUNT_DIR, prometheus_args, render_prometheus_config
from renderers.reloader import RELOAD_FLAG_PREFIXES
from renderers.rules import render_rule_files
from renderers.web_config import render_web_config
from settings import parse
from tests.certs import ThrowawayCA
from tests.sandbox import Sandbox

DEV = parse({"platform": "docker"}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")
SANDBOX_SERVICE_ACCOUNT_DIR = "/etc/serviceaccount-for-promtool"


def _sandbox_with_prometheus_files(tmp_path, settings, config_text: str) -> Sandbox:
    box = Sandbox(tmp_path / "sandbox")
    box.put(paths.config_path("prometheus", "prometheus.yml"), config_text)
    for name, text in render_rule_files(settings).items():
        box.put(paths.config_path("prometheus", f"rules/{name}"), text)
    ca = ThrowawayCA(tmp_path / "ca")
    leaf = ca.issue("prometheus", ["prometheus", "localhost"])
    box.put(paths.TLS_CA, ca.ca_pem)
    box.put(paths.TLS_CERT, leaf.cert)
    box.put(paths.TLS_KEY, leaf.key, 0o600)
    for user in auth.SERVICE_USERS:
        box.put(paths.password_file(user), "test-password\n", 0o600)
    return box


def test_dev_config_passes_promtool_with_its_rule_files(tmp_path):
    box = _sandbox_with_prometheus_files(tmp_path, DEV, render_prometheus_config(DEV))
    result = box.run(["promtool", "check", "config", paths.config_path("prometheus", "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    checked_rules = (result.stdout + result.stderr).count("rules found")
    assert checked_rules == len(render_rule_files(DEV)), "promtool did not load every rendered rule file"


def _static_twin(config: dict) -> dict:
    """Debian builds promtool without Kubernetes service discovery; swap each kubernetes_sd_configs
    block for a static target so promtool checks everything else in the prod file."""
    twin = copy.deepcopy(config)
    for job in twin["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["discovered:1"]}]
    return twin


def test_prod_config_passes_promtool_except_kubernetes_discovery(tmp_path):
    config = yaml.safe_load(render_prometheus_config(PROD))
    discovered = [job["job_name"] for job in config["scrape_configs"] if "kubernetes_sd_configs" in job]
    assert sorted(discovered) == sorted(
        [catalog.JOB_API, catalog.JOB_NODE, catalog.JOB_NODE_NETDEV, catalog.JOB_ALLOY, catalog.JOB_KUBELET, catalog.JOB_CADVISOR]
    )
    # The node jobs read the service account's token and CA, which the kubelet mounts under /var/run
    # (the sandbox overlays /etc only): the twin reads copies under /etc, the same files' contents.
    twin = yaml.safe_dump(_static_twin(config)).replace(SERVICE_ACCOUNT_DIR, SANDBOX_SERVICE_ACCOUNT_DIR)
    box = _sandbox_with_prometheus_files(tmp_path, PROD, twin)
    box.put(f"{SANDBOX_SERVICE_ACCOUNT_DIR}/ca.crt", ThrowawayCA(tmp_path / "cluster-ca").ca_pem)
    box.put(f"{SANDBOX_SERVICE_ACCOUNT_DIR}/token", "service-account-token\n", 0o600)
    result = box.run(["promtool", "check", "config", paths.config_path("prometheus", "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_prod_kubernetes_discovery_uses_only_documented_fields():
    """What promtool cannot check here: the kubernetes_sd_configs fields, against Prometheus's
    documented schema (role, namespaces.names, selectors[].role/label)."""
    config = yaml.safe_load(render_prometheus_config(PROD))
    for job in config["scrape_configs"]:
        for sd in job.get("kubernetes_sd_configs", []):
            assert set(sd) <= {"role", "namespaces", "selectors"}
            assert sd["role"] in {"pod", "endpoints", "endpointslice", "service", "node"}
            if sd["role"] == "node":  # nodes are cluster-scoped: no namespaces to name
                assert set(sd) == {"role"}
                continue
            assert set(sd["namespaces"]) == {"names"} and sd["namespaces"]["names"]
            for selector in sd.get("selectors", []):
                assert set(selector) <= {"role", "label", "field"}


def test_every_catalog_job_is_scraped_with_limits_and_debug_drop():
    for settings in (DEV, PROD):
        config = yaml.safe_load(render_prometheus_config(settings))
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        kubernetes_only = {catalog.JOB_KUBE_STATE_METRICS, catalog.JOB_KUBELET, catalog.JOB_CADVISOR}
        expected = set(catalog.JOBS) - (kubernetes_only if settings.platform == "docker" else set())
        assert sorted(jobs) == sorted(expected)
        for job in jobs.values():
            assert job["sample_limit"] == settings.prometheus.sample_limit
            assert job["label_limit"] == settings.prometheus.label_limit
            assert {"source_labels": ["__name__"], "regex": "debug_.*", "action": "drop"} in job["metric_relabel_configs"]


def test_alertmanager_targets_are_every_replica_never_a_load_balancer():
    config = yaml.safe_load(render_prometheus_config(PROD))
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == [f"alertmanager-{i}.alertmanager-headless.ngx-monitoring.svc:9093" for i in range(3)]
    assert config["alerting"]["alert_relabel_configs"] == [{"regex": "replica", "action": "labeldrop"}]
    assert config["global"]["external_labels"] == {"env": "prod", "monitor": "ngx-monitor", "replica": "${PROMETHEUS_REPLICA}"}


def test_https_services_are_scraped_with_tls_and_a_password_file():
    config = yaml.safe_load(render_prometheus_config(DEV))
    for job in config["scrape_configs"]:
        if job["job_name"] in (catalog.JOB_PROMETHEUS, catalog.JOB_ALERTMANAGER):
            assert job["scheme"] == "https"
            assert job["tls_config"] == {"ca_file": paths.TLS_CA}
            assert job["basic_auth"]["password_file"] == paths.password_file(auth.PROMETHEUS_USER)
            assert "password" not in job["basic_auth"]


def _flag(args: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{name}=")]
    return value


def test_prometheus_and_alertmanager_serve_the_proxy_routes_and_their_clients_follow():
    """The proxy passes paths on unchanged (proxy_pass without a URI part), so both servers serve the
    proxy's route on their own port; every internal client left on the root path would get 404."""
    for settings in (DEV, PROD):
        prometheus, alertmanager = prometheus_args(settings), commands.alertmanager_args(settings)
        assert _flag(prometheus, "--web.route-prefix") == "/prometheus"
        assert _flag(alertmanager, "--web.route-prefix") == "/alertmanager"
        # Links in alerts and the UI's own URLs use the external URL: the same path, on the public host.
        assert urllib.parse.urlsplit(_flag(prometheus, "--web.external-url")).path == "/prometheus/"
        assert urllib.parse.urlsplit(_flag(alertmanager, "--web.external-url")).path == "/alertmanager/"
        config = yaml.safe_load(render_prometheus_config(settings))
        assert config["alerting"]["alertmanagers"][0]["path_prefix"] == "/alertmanager"
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert jobs[catalog.JOB_PROMETHEUS]["metrics_path"] == "/prometheus/metrics"
        assert jobs[catalog.JOB_ALERTMANAGER]["metrics_path"] == "/alertmanager/metrics"
        # Every other exporter serves /metrics at the root (the API's path is a setting of its own).
        assert {job for job, fields in jobs.items() if "metrics_path" in fields} == {catalog.JOB_API, catalog.JOB_PROMETHEUS, catalog.JOB_ALERTMANAGER}
        for run in backup_plan.backup_runs(settings):
            urls = [arg.removeprefix("--url=") for arg in backup.stage_args(settings, run) if arg.startswith("--url=")]
            assert all(urllib.parse.urlsplit(url).path == "/prometheus" for url in urls) and bool(urls) == (run.service == "prometheus")
    assert "https://localhost:9090/prometheus" in probe.prometheus_probe_command(9090)
    assert "--alertmanager.url=https://localhost:9093/alertmanager" in probe.alertmanager_probe_command(9093)


def test_short_scrape_interval_gets_a_timeout_that_fits():
    settings = parse({"platform": "docker", "prometheus": {"scrapeInterval": "5s", "evaluationInterval": "5s"}}, stack="t")
    assert yaml.safe_load(render_prometheus_config(settings))["global"]["scrape_timeout"] == "5s"


def test_retention_is_set_by_flags_promtool_era_prometheus_accepts():
    """Every flag but the 3.x auto-reload ones (which the live harness replaces, see the test below)."""
    args = prometheus_args(DEV)
    assert "--storage.tsdb.retention.time=15d" in args and "--storage.tsdb.retention.size=8GB" in args
    help_text = subprocess.run(["prometheus", "--help"], capture_output=True, text=True, timeout=30)
    for flag in (arg.split("=")[0] for arg in args if not arg.startswith(RELOAD_FLAG_PREFIXES)):
        assert flag in help_text.stdout + help_text.stderr, f"{flag} is unknown to Debian's prometheus"


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["dev", "prod"])
def test_prometheus_reloads_changed_files_by_itself_and_offers_no_lifecycle_api(settings):
    """Prometheus 3.5's auto-reload (renderers/reloader.py): a changed rule or scrape job is loaded
    without a restart on both backends. The lifecycle API (POST /-/reload, /-/quit) stays off: nothing
    needs it any more, and it would let every user with a password stop Prometheus."""
    args = prometheus_args(settings)
    assert "--enable-feature=auto-reload-config" in args
    assert f"--config.auto-reload-interval={settings.prometheus.config_reload_interval}" in args
    assert settings.prometheus.config_reload_interval == "30s"
    assert "--web.enable-lifecycle" not in args
    # The feature exists from 3.0 and tracks absolute rule_files paths from 3.4 on.
    major, minor = (int(part) for part in settings.images.prometheus.rsplit(":v", 1)[1].split(".")[:2])
    assert (major, minor) >= (3, 4), settings.images.prometheus
    assert all(pattern.startswith("/") for pattern in yaml.safe_load(render_prometheus_config(settings))["rule_files"])


def test_rendering_is_deterministic():
    assert render_prometheus_config(PROD) == render_prometheus_config(PROD)


def test_web_config_passes_promtool_and_hashes_verify(tmp_path):
    passwords = {user: f"pw-{user}" for user in auth.users("ngx-ops")}
    hashes = {user: auth.bcrypt_hash(user, password, "salt-key") for user, password in passwords.items()}
    text = render_web_config(hashes)
    box = Sandbox(tmp_path / "sandbox")
    ca = ThrowawayCA(tmp_path / "ca")
    leaf = ca.issue("prometheus", ["prometheus"])
    box.put(paths.TLS_CERT, leaf.cert)
    box.put(paths.TLS_KEY, leaf.key, 0o600)
    box.put(paths.config_path("prometheus", "web.yml"), text)
    result = box.run(["promtool", "check", "web-config", paths.config_path("prometheus", "web.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load(text)
    assert document["tls_server_config"]["min_version"] == "TLS12"
    for user, password in passwords.items():
        stored = document["basic_auth_users"][user]
        assert bcrypt.checkpw(password.encode(), stored.encode())
        assert int(stored.split("$")[2]) >= 10, "bcrypt cost below 10"
        assert password not in text


def test_bcrypt_hash_is_stable_but_depends_on_key_user_and_password():
    base = auth.bcrypt_hash("grafana", "pw", "key")
    assert base == auth.bcrypt_hash("grafana", "pw", "key")
    assert len({base, auth.bcrypt_hash("grafana", "pw", "other-key"), auth.bcrypt_hash("grafana", "pw2", "key"), auth.bcrypt_hash("probe", "pw", "key")}) == 4


def _jobs(settings) -> dict[str, dict]:
    return {job["job_name"]: job for job in yaml.safe_load(render_prometheus_config(settings))["scrape_configs"]}


def test_kubernetes_jobs_keep_the_series_own_namespace_pod_and_container_labels():
    """Alerts and panels select on kube-state-metrics' and the kubelet's own namespace, pod, container,
    deployment and persistentvolumeclaim. Prometheus renames a scraped label to exported_<name> only
    when a target label of the same name exists; these jobs' target labels are job and instance
    alone, and no relabelling writes one of those names, so they arrive as the exporters wrote them."""
    jobs = _jobs(PROD)
    for name in (catalog.JOB_KUBE_STATE_METRICS, catalog.JOB_KUBELET, catalog.JOB_CADVISOR):
        job = jobs[name]
        written = {rule.get("target_label") for rule in job.get("relabel_configs", [])}
        assert not written & set(OWN_LABELS), name
        assert written - {None} <= {"__address__", "__metrics_path__", "instance"}, name
        assert not job.get("honor_labels"), f"{name}: a target must not overwrite job or instance"
        for static in job.get("static_configs", []):
            assert not set(static.get("labels", {})) & set(OWN_LABELS), name
        assert not any(
            rule.get("action") in ("labelmap", "labeldrop", "labelkeep") or rule.get("target_label") in OWN_LABELS for rule in job["metric_relabel_configs"]
        ), name


def test_node_jobs_go_through_the_api_server_node_proxy_with_the_service_account():
    for name, path in ((catalog.JOB_KUBELET, "/metrics"), (catalog.JOB_CADVISOR, "/metrics/cadvisor")):
        job = _jobs(PROD)[name]
        assert job["kubernetes_sd_configs"] == [{"role": "node"}]
        assert job["scheme"] == "https" and "insecure_skip_verify" not in job["tls_config"]
        assert job["tls_config"]["ca_file"] == f"{SERVICE_ACCOUNT_DIR}/ca.crt"
        assert job["authorization"] == {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"}
        address, metrics_path, instance = job["relabel_configs"]
        assert address == {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"}
        assert metrics_path["replacement"] == f"/api/v1/nodes/$1/proxy{path}"
        assert instance == {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "instance"}


def test_node_jobs_keep_only_catalogued_metrics_of_watched_namespaces():
    """A node runs pods of every namespace, and cAdvisor exposes dozens of series per container:
    each job keeps the catalogued metrics of the app's and the stack's namespaces, nothing else."""
    import re

    for name in (catalog.JOB_KUBELET, catalog.JOB_CADVISOR):
        rules = _jobs(PROD)[name]["metric_relabel_configs"]
        names = next(r for r in rules if r["source_labels"] == ["__name__"] and r["action"] == "keep")
        kept = re.compile(names["regex"])
        assert all(kept.fullmatch(series) for series in catalog.job_metrics(name))
        for unused in (
            "container_fs_reads_total",
            "container_network_receive_bytes_total",
            "kubelet_running_pods",
            "container_memory_cache",
            "container_cpu_usage_seconds_total_extra",
        ):
            assert not kept.fullmatch(unused), unused
        namespace = next(r for r in rules if r["source_labels"] == ["namespace"])
        assert namespace["action"] == "keep"
        assert {n for n in ("ngx", "ngx-monitoring", "ngx-monitoring-host", "kube-system", "") if re.fullmatch(namespace["regex"], n)} == {
            "ngx",
            "ngx-monitoring",
            "ngx-monitoring-host",
        }
    cadvisor = _jobs(PROD)[catalog.JOB_CADVISOR]["metric_relabel_configs"]
    pod_level = next(r for r in cadvisor if r["source_labels"] == ["container"])
    assert pod_level["action"] == "drop" and {c for c in ("", "POD", "api") if re.fullmatch(pod_level["regex"], c)} == {"", "POD"}


def test_kube_state_metrics_is_scraped_on_kubernetes_only():
    assert catalog.JOB_KUBE_STATE_METRICS not in _jobs(DEV)
    job = _jobs(PROD)[catalog.JOB_KUBE_STATE_METRICS]
    assert job["static_configs"] == [{"targets": ["kube-state-metrics.ngx-monitoring.svc:8080"]}]


def test_node_netdev_targets_carry_the_node_instance_and_the_netdev_port():
    """The network panels select the node by `instance` ($node, from up{job="node"}): the netdev
    exporter's series must carry the node job's instance, on Docker (static target, instance label)
    and on Kubernetes (the pod's node name, like job node), and be scraped on node-exporter's netdev
    port, where no other job scrapes. On Docker it is a container of its own, node-exporter-netdev
    (not in node-exporter's network namespace, which a restart of node-exporter would leave it out of)."""
    dev = {job["job_name"]: job for job in yaml.safe_load(render_prometheus_config(DEV))["scrape_configs"]}
    (node,) = dev[catalog.JOB_NODE]["static_configs"]
    (netdev,) = dev[catalog.JOB_NODE_NETDEV]["static_configs"]
    assert netdev == {"targets": ["node-exporter-netdev:9101"], "labels": {"instance": "node-exporter:9100"}}
    assert "labels" not in node and node["targets"] == ["node-exporter:9100"]
    prod = {job["job_name"]: job for job in yaml.safe_load(render_prometheus_config(PROD))["scrape_configs"]}
    for job, port in ((catalog.JOB_NODE, ("web", 9100)), (catalog.JOB_NODE_NETDEV, ("netdev", 9101))):
        rules = prod[job]["relabel_configs"]
        assert rules[0] == {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port[0], "action": "keep"}, job
        assert rules[1]["replacement"] == f"$1:{port[1]}" and rules[2] == {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "instance"}
    # node-exporter counts no interface of its own namespace; the netdev exporter reads PID 1's.
    assert "--no-collector.netdev" in commands.node_exporter_args()
    netdev_args = commands.node_exporter_netdev_args()
    assert f"--path.procfs={commands.NODE_EXPORTER_ROOT}/proc/1" in netdev_args and "--no-collector.netdev.netlink" in netdev_args
