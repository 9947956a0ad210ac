"""alertmanager.yml: accepted by amtool, routes every alert to the receiver the issue names, never holds a
credential, and its templates show value, runbook and dashboard.

Routing is where an alert silently dies: a typo in a matcher sends pages to a mailbox, a credential in the
file leaks with every backup. amtool checks the file we ship, not a hand-written twin of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from alerting import receiver_files
from alerting.docs import alert_table_markdown, routing_labels
from alerting.routing import RECEIVERS, ROOT_RECEIVER, receiver_integrations, receivers_for, routing_tree, unrouted_receivers
from alerting.rules import alerts
from renderers import paths
from renderers.alertmanager import TEMPLATES_GLOB, render_alertmanager_config, render_alertmanager_templates
from settings import secret_paths
from settings.validators import duration_ms
from tests.alerting_helpers import PLACEHOLDER_URL, SECRET_VALUES, amtool_route, dev_settings, for_amtool_025, kubernetes_settings, receivers_config, run


def write_templates(directory: Path) -> Path:
    templates = directory / "templates"
    templates.mkdir(exist_ok=True)
    for name, text in render_alertmanager_templates().items():
        (templates / name).write_text(text)
    return templates


@pytest.fixture
def checked_config(tmp_path) -> Path:
    """The dev stack's alertmanager.yml (every receiver configured) as amtool 0.25 checks it."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(render_alertmanager_config(dev_settings()), write_templates(tmp_path)))
    return path


def amtool_check(path: Path):
    return run(["amtool", "check-config", str(path)])


def file_fields(document) -> list[tuple[str, str]]:
    """Every (key, value) of a *_file field anywhere in a parsed config."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key.endswith("_file") and isinstance(value, str):
                found.append((key, value))
            found.extend(file_fields(value))
    elif isinstance(document, list):
        for item in document:
            found.extend(file_fields(item))
    return found


@pytest.mark.parametrize("make_settings", [dev_settings, kubernetes_settings], ids=["dev", "kubernetes"])
def test_amtool_accepts_the_rendered_config_and_templates(tmp_path, make_settings):
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(render_alertmanager_config(make_settings()), write_templates(tmp_path)))
    result = amtool_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 receivers" in result.stdout and "4 inhibit rules" in result.stdout


def test_amtool_check_does_not_need_the_secret_files(checked_config):
    """check-config only validates field names: the mounted secret files need not exist where it runs."""
    referenced = [value for _, value in file_fields(yaml.safe_load(checked_config.read_text()))]
    assert referenced and not any(Path(value).exists() for value in referenced)
    assert amtool_check(checked_config).returncode == 0


def test_amtool_025_refuses_exactly_the_fields_newer_than_it(tmp_path):
    """The shipped file keeps webhook url_file (Alertmanager >= 0.26): the only thing 0.25 cannot read.

    If Debian's amtool learns the field, this test fails and the shim in for_amtool_025 can go.
    """
    rendered = render_alertmanager_config(dev_settings())
    shipped = yaml.safe_load(rendered)
    heartbeat = next(r for r in shipped["receivers"] if r["name"] == "heartbeat")
    assert heartbeat["webhook_configs"] == [{"send_resolved": False, "url_file": paths.secret_file(receiver_files.HEARTBEAT_URL)}]

    templates = write_templates(tmp_path)
    as_shipped = yaml.safe_load(rendered)
    as_shipped["templates"] = [str(templates / "*.tmpl")]
    path = tmp_path / "as-shipped.yml"
    path.write_text(yaml.safe_dump(as_shipped))
    result = amtool_check(path)
    assert result.returncode != 0
    assert "field url_file not found" in result.stdout + result.stderr

    # The variant amtool 0.25 checks differs from the shipped file in that field only (and the template path).
    variant = yaml.safe_load(for_amtool_025(rendered, templates))
    assert next(r for r in variant["receivers"] if r["name"] == "heartbeat")["webhook_configs"] == [{"send_resolved": False, "url": PLACEHOLDER_URL}]
    for document in (variant, shipped):
        del document["templates"]
        document["receivers"] = [r for r in document["receivers"] if r["name"] != "heartbeat"]
    assert variant == shipped


ROUTES = [
    ({"alertname": "HighErrorRate", "severity": "critical", "category": "availability"}, "oncall-pager"),
    ({"alertname": "HighResponseTime", "severity": "warning", "category": "performance"}, "ops-email"),
    # Discovery finding nothing is mailed, like TargetDown: the metrics are gone, alerting still works.
    ({"alertname": "TargetsMissing", "severity": "warning", "category": "meta", "job": "node"}, "ops-email"),
    ({"alertname": "LowConversionRate", "severity": "info", "category": "business"}, "business-daily"),
    # The product alerts are mailed: drift and an exhausted pool need someone at work, not a page.
    ({"alertname": "ModelDataDrift", "severity": "warning", "category": "ml", "job": "ngx-api", "model_name": "conversion_prediction"}, "ops-email"),
    ({"alertname": "DatabasePoolExhausted", "severity": "warning", "category": "resources", "job": "ngx-api", "pool_name": "ngx-db"}, "ops-email"),
    ({"alertname": "Watchdog", "severity": "none", "category": "meta"}, "heartbeat"),
    ({"alertname": "SomethingNew", "severity": "info", "category": "meta"}, ROOT_RECEIVER),
    # A damaged backup repository is mailed like a failed backup: no data is lost yet.
    ({"alertname": "BackupCheckFailed", "severity": "warning", "category": "backup", "job": "ngx-backup", "target": "repository"}, "ops-email"),
    ({"alertname": "NoLabelsAtAll"}, ROOT_RECEIVER),
    # A critical business alert pages: the pager route comes before the digest.
    ({"alertname": "RevenueStopped", "severity": "critical", "category": "business"}, "oncall-pager"),
    # Kubernetes signals: a full volume or disk pages, a workload problem is mailed, throttling too (info).
    (
        {
            "alertname": "KubePersistentVolumeAlmostFull",
            "severity": "critical",
            "category": "resources",
            "job": "kubelet",
            "namespace": "ngx-monitoring",
            "persistentvolumeclaim": "data-prometheus-0",
        },
        "oncall-pager",
    ),
    ({"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical", "category": "resources", "job": "node"}, "oncall-pager"),
    (
        {
            "alertname": "KubePodCrashLooping",
            "severity": "warning",
            "category": "availability",
            "job": "kube-state-metrics",
            "namespace": "ngx",
            "pod": "ngx-voice-agent-1",
            "container": "api",
        },
        "ops-email",
    ),
    ({"alertname": "KubeContainerOOMKilled", "severity": "warning", "category": "resources", "job": "kube-state-metrics"}, "ops-email"),
    ({"alertname": "CPUThrottlingHigh", "severity": "info", "category": "performance", "job": "cadvisor"}, ROOT_RECEIVER),
    # Remote write (only with prometheus.remoteWrite): the store falls behind; alerting itself is unaffected.
    ({"alertname": "PrometheusRemoteWriteBehind", "severity": "warning", "category": "meta", "job": "prometheus", "remote_name": "store"}, "ops-email"),
]


@pytest.mark.parametrize("labels,receiver", ROUTES, ids=[f"{r}:{labels['alertname']}" for labels, r in ROUTES])
def test_amtool_routes_each_kind_of_alert_to_its_receiver(checked_config, labels, receiver):
    result = run(
        ["amtool", "config", "routes", "test", f"--config.file={checked_config}", f"--verify.receivers={receiver}", *(f"{k}={v}" for k, v in labels.items())]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert receivers_for(labels, routing_tree(dev_settings())) == (receiver,)


def test_route_tests_cover_every_receiver_and_a_wrong_receiver_fails(checked_config):
    assert {receiver for _, receiver in ROUTES} == set(RECEIVERS)
    wrong = run(["amtool", "config", "routes", "test", f"--config.file={checked_config}", "--verify.receivers=oncall-pager", "severity=warning"])
    assert wrong.returncode != 0


def test_docs_alert_table_gives_every_alert_the_route_amtool_resolves(tmp_path):
    settings = kubernetes_settings()
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(render_alertmanager_config(settings), write_templates(tmp_path)))
    rows = [line.split(" | ") for line in alert_table_markdown(settings).splitlines()[2:]]
    table = {(re.match(r"\| \[(\w+)\]", row[0]).group(1), row[2]): row[3].rstrip(" |") for row in rows}
    every_alert = alerts(settings)
    # One row per alert and severity: rules of one alert that differ only in how they detect it
    # (BackupTooOld: late, or missing) share their row.
    assert len(rows) == len(table) and set(table) == {(a.name, a.severity) for a in every_alert}
    for alert in every_alert:
        assert table[(alert.name, alert.severity)] == ", ".join(amtool_route(path, routing_labels(alert))), alert.name
    # The For column is each rule's `for` as rendered (0s: none), both of BackupTooOld's.
    fors = {(re.match(r"\| \[(\w+)\]", row[0]).group(1), row[2]): row[4].rstrip(" |") for row in rows}
    for alert in every_alert:
        assert (alert.for_ or "0s") in fors[(alert.name, alert.severity)].split(" or "), alert.name


def test_inhibit_rules_silence_warnings_under_a_page_and_symptoms_of_api_down():
    rules = yaml.safe_load(render_alertmanager_config(dev_settings()))["inhibit_rules"]
    by_source = {rule["source_matchers"][0]: rule for rule in rules}
    page = by_source['severity="critical"']
    assert page["target_matchers"] == ['severity="warning"']
    assert page["equal"] == ["job", "instance", "namespace", "persistentvolumeclaim", "mountpoint"]
    api_down = by_source['alertname="APIDown"']
    assert api_down["equal"] == ["job"]
    pattern = re.fullmatch(r'alertname=~"(.*)"', api_down["target_matchers"][0]).group(1)
    for symptom in ("HighErrorRate", "HighResponseTime", "SLOErrorBudgetBurn"):
        assert re.fullmatch(pattern, symptom)
    assert not re.fullmatch(pattern, "RedisDown")
    assert by_source['alertname="RedisDown"']["target_matchers"] == ['alertname="LowCacheHitRate"']


def test_no_credential_is_written_only_file_references(tmp_path):
    settings = dev_settings()
    rendered = render_alertmanager_config(settings)
    for key, value in SECRET_VALUES.items():
        assert value not in rendered, f"{key} leaked into alertmanager.yml"
    document = yaml.safe_load(rendered)
    inline = re.compile(r"^[\s-]*(api_url|routing_key|service_key|auth_password|url):", re.M)
    assert inline.findall(rendered) == []
    referenced = {Path(value).name for _, value in file_fields(document)}
    assert all(value.startswith(paths.SECRETS_DIR + "/") for _, value in file_fields(document))
    assert referenced == set(receiver_files.receiver_secret_files(settings))


def test_receiver_secret_files_name_credential_settings():
    files = receiver_files.receiver_secret_files(dev_settings())
    assert files == {
        "slack-webhook-url": "receivers.slack.webhookUrl",
        "pagerduty-routing-key": "receivers.pagerduty.routingKey",
        "smtp-password": "receivers.email.password",
        "heartbeat-url": "receivers.heartbeat.url",
    }
    assert set(files.values()) <= set(secret_paths())
    secrets = receiver_files.receiver_secrets(dev_settings())
    assert {name: secrets[name].reveal() for name in files} == {name: SECRET_VALUES[key] for name, key in files.items()}
    assert receiver_files.receiver_secret_files(dev_settings(receivers={})) == {}


def test_integrations_follow_the_configured_receivers():
    everything = receiver_integrations(dev_settings())
    assert everything == {"oncall-pager": ["pagerduty", "slack"], "ops-email": ["email"], "business-daily": ["email", "slack"], "heartbeat": ["webhook"]}
    assert unrouted_receivers(dev_settings()) == []
    mail_only = dev_settings(receivers=receivers_config(slack=False, pagerduty=False, heartbeat=False))
    assert receiver_integrations(mail_only)["oncall-pager"] == ["email"]  # pages are mailed, not lost
    assert unrouted_receivers(mail_only) == ["heartbeat"]
    assert unrouted_receivers(dev_settings(receivers={})) == list(RECEIVERS)


def test_a_stack_without_receivers_still_renders_a_valid_config(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(render_alertmanager_config(dev_settings(receivers={})), write_templates(tmp_path)))
    assert amtool_check(path).returncode == 0
    assert [r["name"] for r in yaml.safe_load(path.read_text())["receivers"]] == list(RECEIVERS)


def test_business_digest_is_sent_inside_the_configured_working_hours(tmp_path):
    hours = {"timezone": "Europe/Madrid", "weekdays": "monday:thursday,saturday", "start": "08:30", "end": "17:00"}
    settings = dev_settings(alerting={"businessHours": hours})
    document = yaml.safe_load(render_alertmanager_config(settings))
    assert document["time_intervals"] == [
        {
            "name": "business-hours",
            "time_intervals": [
                {
                    "weekdays": ["monday:thursday", "saturday"],
                    "times": [{"start_time": "08:30", "end_time": "17:00"}],
                    "location": "Europe/Madrid",
                }
            ],
        }
    ]
    digest = next(r for r in document["route"]["routes"] if r["receiver"] == "business-daily")
    assert digest["active_time_intervals"] == ["business-hours"]
    # One group_interval tick per working day lands inside it: the interval is the working day's length.
    assert digest["group_interval"] == digest["repeat_interval"] == "8h30m"
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(yaml.safe_dump(document), write_templates(tmp_path)))
    assert amtool_check(path).returncode == 0


def test_timings_avoid_alertmanager_warnings_and_keep_the_issue_promises():
    """Alertmanager warns when repeat_interval < group_interval or > its data retention."""
    settings = kubernetes_settings()
    root = yaml.safe_load(render_alertmanager_config(settings))["route"]
    retention = duration_ms(settings.alertmanager.retention)
    routes = {route["receiver"]: {**root, **route} for route in root["routes"]}
    for route in [root, *routes.values()]:
        assert duration_ms(route["group_interval"]) <= duration_ms(route["repeat_interval"]) <= retention
    assert duration_ms(routes["oncall-pager"]["group_wait"]) <= 30_000
    assert routes["oncall-pager"]["repeat_interval"] == "1h"
    assert duration_ms(routes["ops-email"]["group_wait"]) >= 60_000
    assert duration_ms(routes["ops-email"]["group_interval"]) >= 15 * 60_000
    assert duration_ms(routes["heartbeat"]["repeat_interval"]) <= 10 * 60_000


def test_route_timings_are_the_alerting_routes_settings(tmp_path):
    """Each receiver is notified when its settings say, the root route as ops-email (the livetest stack
    shortens them to seconds); amtool accepts a zero group_wait and second-long intervals."""
    timings = {"oncallPager": ("1s", "10s", "1h"), "opsEmail": ("5s", "10s", "1h"), "heartbeat": ("0s", "30s", "2m")}
    keys = ("groupWait", "groupInterval", "repeatInterval")
    routes = {name: dict(zip(keys, values, strict=False)) for name, values in timings.items()}
    settings = dev_settings(alerting={"routes": {**routes, "businessDaily": {"groupWait": "1m"}}})
    text = render_alertmanager_config(settings)
    root = yaml.safe_load(text)["route"]

    def of(route):
        return tuple(route.get(key) for key in ("group_wait", "group_interval", "repeat_interval"))

    rendered = {route["receiver"]: of(route) for route in root["routes"]}
    assert of(root) == rendered["ops-email"] == timings["opsEmail"]
    assert rendered["oncall-pager"] == timings["oncallPager"] and rendered["heartbeat"] == timings["heartbeat"]
    assert rendered["business-daily"][0] == "1m"
    path = tmp_path / "alertmanager.yml"
    path.write_text(for_amtool_025(text, write_templates(tmp_path)))
    assert amtool_check(path).returncode == 0


def test_templates_show_value_runbook_and_dashboard(tmp_path):
    templates = write_templates(tmp_path)
    assert TEMPLATES_GLOB == "/etc/alertmanager/templates/*.tmpl" and set(render_alertmanager_templates()) == {"ngx.tmpl"}
    alert = next(a for a in alerts(dev_settings()) if a.name == "HighErrorRate")
    annotations = {
        "summary": alert.summary,
        "description": "2.5% of ngx-api requests failed with 5xx over the last 5m (threshold 1%).",
        "runbook_url": alert.runbook_url,
        "dashboard_url": alert.dashboard_url,
    }
    data = {
        "receiver": "oncall-pager",
        "status": "firing",
        "externalURL": "https://monitoring.localhost/alertmanager",
        "alerts": [
            {
                "status": "firing",
                "labels": {**routing_labels(alert), "job": "ngx-api"},
                "annotations": annotations,
                "startsAt": "2025-01-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
        "groupLabels": {"alertname": alert.name},
        "commonLabels": {**routing_labels(alert), "job": "ngx-api"},
        "commonAnnotations": annotations,
    }
    (tmp_path / "data.json").write_text(json.dumps(data))

    def render(template: str, kind: str = "text") -> str:
        result = run(
            [
                "amtool",
                "template",
                "render",
                f"--template.glob={templates}/*.tmpl",
                f"--template.type={kind}",
                f'--template.text={{{{ template "{template}" . }}}}',
                f"--template.data={tmp_path / 'data.json'}",
            ]
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    for template, kind in (("ngx.text", "text"), ("ngx.email.html", "html")):
        body = render(template, kind)
        assert "2.5% of ngx-api requests failed" in body, template
        assert alert.runbook_url in body and "https://monitoring.localhost/grafana/d/ngx-overview" in body, template
    assert render("ngx.title") == "[FIRING:1] HighErrorRate (ngx-api)"
    assert render("ngx.dashboard_url") == "https://monitoring.localhost/grafana/d/ngx-overview"


# --- inhibition: amtool 0.25 cannot evaluate inhibit rules offline, so the rendered ones (the file amtool
# checks above) are evaluated here with Alertmanager's semantics: every source matcher matches the source,
# every target matcher the target, and each `equal` label has the same value on both (missing = "").


def _matcher(text: str):
    label, op, value = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', text).groups()
    return label, op, value


def _matches(labels: dict, text: str) -> bool:
    label, op, value = _matcher(text)
    actual = labels.get(label, "")
    return {"=": actual == value, "!=": actual != value, "=~": bool(re.fullmatch(value, actual)), "!~": not re.fullmatch(value, actual)}[op]


def inhibited(settings, source: dict, target: dict) -> bool:
    rules = yaml.safe_load(render_alertmanager_config(settings))["inhibit_rules"]
    return any(
        all(_matches(source, m) for m in rule["source_matchers"])
        and all(_matches(target, m) for m in rule["target_matchers"])
        and all(source.get(label, "") == target.get(label, "") for label in rule.get("equal", []))
        for rule in rules
    )


API_DOWN = {"alertname": "APIDown", "severity": "critical", "category": "availability", "job": "ngx-api", "instance": "10.244.1.7:8000"}


def _workload(alertname: str, namespace: str = "ngx", **extra) -> dict:
    return {
        "alertname": alertname,
        "severity": "warning",
        "category": "availability",
        "job": "kube-state-metrics",
        "instance": "kube-state-metrics.ngx-monitoring.svc:8080",
        "namespace": namespace,
        "pod": "ngx-voice-agent-1",
        **extra,
    }


@pytest.mark.parametrize("symptom", ["KubePodCrashLooping", "KubeContainerWaiting", "KubePodNotReady", "KubeDeploymentReplicasMismatch"])
def test_api_down_inhibits_the_api_pods_workload_alerts(symptom):
    """Decision: while APIDown pages, the API's crash-looping, waiting or unready pods are the same outage;
    the page's runbook and the Overview's pod row show them, so they do not notify a second time."""
    settings = kubernetes_settings()
    assert inhibited(settings, API_DOWN, _workload(symptom))
    # The same alert on the stack's own pods is another problem and still notifies.
    assert not inhibited(settings, API_DOWN, _workload(symptom, namespace=settings.kubernetes.namespace))
    # Without APIDown nothing silences it.
    assert not inhibited(settings, {**API_DOWN, "alertname": "RedisDown", "job": "redis"}, _workload(symptom))


@pytest.mark.parametrize("cause", ["KubeContainerOOMKilled", "KubeDeploymentRolloutStuck"])
def test_api_down_leaves_the_alerts_that_name_a_cause(cause):
    assert not inhibited(kubernetes_settings(), API_DOWN, _workload(cause))


def test_the_inhibition_follows_the_app_namespace_setting():
    settings = kubernetes_settings(app={"namespace": "sales"})
    assert inhibited(settings, API_DOWN, _workload("KubePodCrashLooping", namespace="sales"))
    assert not inhibited(settings, API_DOWN, _workload("KubePodCrashLooping", namespace="ngx"))


def test_a_full_volume_does_not_silence_another_volume_on_the_same_node():
    """The kubelet job's instance is a node with many claims: the critical page for one claim must not
    inhibit the warning about another (it still inhibits the same claim's filling-up warning)."""
    settings = kubernetes_settings()
    full = {
        "alertname": "KubePersistentVolumeAlmostFull",
        "severity": "critical",
        "job": "kubelet",
        "instance": "worker-1",
        "namespace": "ngx-monitoring",
        "persistentvolumeclaim": "data-prometheus-0",
    }
    filling = {**full, "alertname": "KubePersistentVolumeFillingUp", "severity": "warning"}
    assert inhibited(settings, full, filling)
    assert not inhibited(settings, full, {**filling, "persistentvolumeclaim": "data-loki-0"})
    # A target-level page still covers that target's other warnings, as before.
    node_down = {"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical", "job": "node", "instance": "n1", "mountpoint": "/"}
    assert inhibited(settings, node_down, {**node_down, "alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning"})
    assert not inhibited(settings, node_down, {**node_down, "alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning", "mountpoint": "/data"})
    assert inhibited(
        settings,
        {"alertname": "X", "severity": "critical", "job": "redis", "instance": "r:9121"},
        {"alertname": "Y", "severity": "warning", "job": "redis", "instance": "r:9121"},
    )
