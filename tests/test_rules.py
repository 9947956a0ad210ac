"""Alerting and recording rules: valid for promtool, proven by promtool unit tests, built from the catalog.

An alert that never fires, fires on an idle service, names a metric nobody exports or links a runbook
that does not exist fails here, before it pages (or fails to page) anyone.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml

import catalog
from alerting.model import CATEGORIES, SEVERITIES, Alert
from alerting.rules import RUNBOOK_BASE, alerts, finalize, runbook_url
from alerting.slo import AVAILABILITY
from dashboards import render_dashboards
from renderers.prometheus import render_prometheus_config
from renderers.rules import recorded_series, render_rule_files
from settings import Settings
from settings.schema import walk
from tests.alerting_helpers import (
    INSTRUMENTATOR_RULE_TESTS,
    KUBERNETES_RULE_TESTS,
    REMOTE_WRITE_RULE_TESTS,
    REMOTE_WRITE_STORE,
    ROOT,
    RULE_TESTS,
    dev_settings,
    expected_alert_cases,
    instrumentator_settings,
    kubernetes_settings,
    prepare_rule_test,
    remote_write_settings,
    rule_test_files,
    run,
    write_rule_files,
)

STACKS = {"dev": dev_settings, "kubernetes": kubernetes_settings, "instrumentator": instrumentator_settings, "remote-write": remote_write_settings}
RULE_TEST_FOLDERS = {
    "dev": RULE_TESTS,
    "kubernetes": KUBERNETES_RULE_TESTS,
    "instrumentator": INSTRUMENTATOR_RULE_TESTS,
    "remote-write": REMOTE_WRITE_RULE_TESTS,
}
RULE_FILES = {"ngx-alerts.yml", "ngx-recording.yml", "slo.yml", "meta.yml", "node.yml"}
# Kubernetes only: the series of kube-state-metrics, the kubelet and cAdvisor.
KUBERNETES_RULE_FILES = {"kubernetes.yml"}
# Only with prometheus.remoteWrite: the remote-write pipeline.
REMOTE_WRITE_RULE_FILES = {"remote-write.yml"}
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")


def rendered_rules(settings) -> list[dict]:
    return [rule for text in render_rule_files(settings).values() for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def rendered_alerts(settings) -> list[dict]:
    return [rule for rule in rendered_rules(settings) if "alert" in rule]


def nodes(expr: str) -> list:
    found = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node))
    return found


def unparen(node):
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_check_rules_passes_with_every_lint(tmp_path, stack):
    rendered = write_rule_files(STACKS[stack](), tmp_path)
    optional = {"kubernetes": KUBERNETES_RULE_FILES, "remote-write": REMOTE_WRITE_RULE_FILES}.get(stack, set())
    assert set(rendered) == RULE_FILES | optional
    result = run(["promtool", "check", "rules", "--lint=all", "--lint-fatal", *sorted(str(path) for path in (tmp_path / "rules").iterdir())])
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything but "Checking <file>" and "SUCCESS: n rules found" is a warning (e.g. a duplicate rule).
    extra = [
        line for line in (result.stdout + result.stderr).splitlines() if line.strip() and not re.match(r"^(Checking \S+|\s*SUCCESS: \d+ rules found)$", line)
    ]
    assert extra == []


def _unit_test_cases():
    return [pytest.param(stack, path, id=f"{stack}:{path.name}") for stack, folder in RULE_TEST_FOLDERS.items() for path in rule_test_files(folder)]


@pytest.fixture(scope="module")
def promtool_unit_runs(tmp_path_factory) -> dict[tuple[str, str], tuple[int, str] | Exception]:
    """Every promtool unit test file, run on its stack's rendered rules, all files at once.

    Each run is one independent process over one test file (several take seconds of rule evaluation:
    hours of series at 1m steps over every rendered rule), so they run side by side rather than one
    after the other. Per file: (exit code, output), or the error preparing it raised."""
    runs: dict[tuple[str, str], subprocess.Popen | Exception] = {}
    for stack, folder in RULE_TEST_FOLDERS.items():
        directory = tmp_path_factory.mktemp(f"promtool-{stack}")
        rendered = write_rule_files(STACKS[stack](), directory)
        for test_file in rule_test_files(folder):
            try:
                prepared = prepare_rule_test(test_file, rendered, directory)
            except AssertionError as error:
                runs[(stack, test_file.name)] = error
                continue
            runs[(stack, test_file.name)] = subprocess.Popen(
                ["promtool", "test", "rules", prepared.name], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
    results: dict[tuple[str, str], tuple[int, str] | Exception] = {}
    for key, process in runs.items():
        if isinstance(process, Exception):
            results[key] = process
            continue
        output, _ = process.communicate(timeout=300)
        results[key] = (process.returncode, output)
    return results


@pytest.mark.parametrize("stack,test_file", _unit_test_cases())
def test_promtool_unit_tests_pass_on_the_rendered_rules(promtool_unit_runs, stack, test_file):
    outcome = promtool_unit_runs[(stack, test_file.name)]
    if isinstance(outcome, Exception):
        raise outcome
    returncode, output = outcome
    assert returncode == 0, output


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    """Both directions matter: an alert that cannot fire is as broken as one that cannot stay quiet."""
    dev_alerts = {(a.name, a.severity) for a in alerts(dev_settings())}
    k8s_only = {(a.name, a.severity) for a in alerts(kubernetes_settings())} - dev_alerts
    assert k8s_only == {
        ("AlertmanagerClusterMembersMissing", "warning"),
        ("KubePodCrashLooping", "warning"),
        ("KubeContainerWaiting", "warning"),
        ("KubeContainerOOMKilled", "warning"),
        ("KubePodNotReady", "warning"),
        ("KubeDeploymentReplicasMismatch", "warning"),
        ("KubeStatefulSetReplicasMismatch", "warning"),
        ("KubeDeploymentRolloutStuck", "warning"),
        ("KubePersistentVolumeFillingUp", "warning"),
        ("KubePersistentVolumeAlmostFull", "critical"),
        ("CPUThrottlingHigh", "info"),
        ("TargetsMissing", "warning"),
        ("AlertmanagerConfigInconsistent", "warning"),
    }
    remote_write_only = {(a.name, a.severity) for a in alerts(remote_write_settings())} - dev_alerts
    assert remote_write_only == {
        ("PrometheusRemoteWriteFailing", "warning"),
        ("PrometheusRemoteWriteBehind", "warning"),
        ("PrometheusRemoteWriteDesiredShards", "warning"),
    }
    for expected, folder in ((dev_alerts, RULE_TESTS), (k8s_only, KUBERNETES_RULE_TESTS), (remote_write_only, REMOTE_WRITE_RULE_TESTS)):
        fires, quiet = expected_alert_cases(folder)
        fired = {(name, labels["severity"]) for name, labels in fires}
        assert expected - fired == set(), f"no firing case in {folder.name}"
        # Watchdog is the one alert that must never be quiet; its test proves it fires with no data at all.
        assert {name for name, _ in expected} - {"Watchdog"} - quiet == set(), f"no quiet case in {folder.name}"
        # A case naming an alert that does not exist would pass "quiet" without testing anything.
        assert fired <= expected
        assert quiet <= {name for name, _ in expected}


def test_every_firing_expectation_keeps_the_job_label():
    """Inhibit rules match on job (and instance): an alert that aggregates `job` away escapes them."""
    for folder in (RULE_TESTS, KUBERNETES_RULE_TESTS, REMOTE_WRITE_RULE_TESTS):
        fires, _ = expected_alert_cases(folder)
        assert [name for name, labels in fires if name != "Watchdog" and "job" not in labels] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_has_labels_texts_and_a_runbook_in_this_repo(stack):
    for rule in rendered_alerts(STACKS[stack]()):
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["labels"]["category"] in CATEGORIES, name
        annotations = rule["annotations"]
        assert annotations["summary"] and "{{" not in annotations["summary"], name
        assert "$value" in annotations["description"], name
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}{name}.md"
        runbook = ROOT / "runbooks" / f"{name}.md"
        assert runbook.is_file(), f"{name}: {runbook} is missing"
        text = runbook.read_text()
        for section in ("## What it means", "## First checks", "## Silence"):
            assert section in text, f"{runbook.name} lacks {section}"
        assert re.search(rf"amtool [^`]*silence add alertname={name}\b", text), f"{runbook.name}: no amtool silence example"


def test_every_for_is_a_setting():
    """No `for` is a constant of the code, so a stack (livetest) can shorten any of them: with every
    alerting `...For` setting given a value of its own, each alert's rendered `for` is one of them and
    each of them is used. Watchdog and the late BackupTooOld have none; the missing BackupTooOld's
    follows backup.schedule, the late BackupCheckFailed's backup.checkSchedule; KubeContainerOOMKilled fires at once (the kill already happened)."""
    keys = [path for path, _, _ in walk(Settings) if path.startswith("alerting.") and path.endswith("For")]
    values = {key: f"{index + 1}m{index + 1}s" for index, key in enumerate(keys)}
    raw: dict = {}
    for key, value in values.items():
        _, section, name = key.split(".")
        raw.setdefault(section, {})[name] = value
    rendered = {
        (rule["alert"], rule["labels"]["severity"], rule["labels"].get("reason")): rule.get("for")
        for rule in rendered_alerts(kubernetes_settings(alerting=raw, prometheus={"remoteWrite": [REMOTE_WRITE_STORE]}))
    }
    computed = {
        ("Watchdog", "none", None),
        ("BackupTooOld", "warning", "late"),
        ("BackupTooOld", "warning", "missing"),
        ("BackupCheckFailed", "warning", "late"),
        ("BackupCheckFailed", "warning", "missing"),
        ("KubeContainerOOMKilled", "warning", None),
    }
    assert set(rendered) >= computed
    from_settings = {alert: value for alert, value in rendered.items() if alert not in computed}
    assert set(from_settings.values()) <= set(values.values()), from_settings
    assert set(values.values()) <= set(from_settings.values()), "a `for` setting no alert reads"


def test_only_watchdog_has_severity_none():
    assert {r["alert"] for r in rendered_alerts(kubernetes_settings()) if r["labels"]["severity"] == "none"} == {"Watchdog"}


def test_finalize_refuses_an_alert_without_proper_labels_or_value():
    settings = dev_settings()
    good = Alert("SomethingBroke", "vector(1)", "5m", "warning", "meta", "It broke.", "Value {{ $value }}.")
    assert finalize(good, settings).runbook_url == runbook_url("SomethingBroke")
    bad_cases = {
        "severity": Alert("A", "vector(1)", None, "page", "meta", "s", "{{ $value }}"),
        "category": Alert("B", "vector(1)", None, "warning", "misc", "s", "{{ $value }}"),
        "\\$value": Alert("C", "vector(1)", None, "warning", "meta", "s", "no value"),
        "summary": Alert("D", "vector(1)", None, "warning", "meta", "{{ $labels.job }}", "{{ $value }}"),
    }
    for problem, alert in bad_cases.items():
        with pytest.raises(ValueError, match=problem):
            finalize(alert, settings)


@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_in_every_expression_is_catalogued_or_recorded(stack):
    settings = STACKS[stack]()
    known = catalog.series_names() | recorded_series(settings)
    for rule in rendered_rules(settings):
        for node in nodes(rule["expr"]):
            if isinstance(node, promql_parser.VectorSelector):
                assert node.name in known, f"{rule.get('alert') or rule['record']}: {node.name} is neither catalogued nor recorded"


@pytest.mark.parametrize("stack", STACKS)
def test_every_division_is_safe_on_zero_traffic(stack):
    """x / y with y = 0 gives NaN or Inf; dividing by `(y > 0)` gives no sample, so no ratio alert fires."""
    for rule in rendered_rules(STACKS[stack]()):
        for node in nodes(rule["expr"]):
            if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "/":
                divisor = unparen(node.rhs)
                guarded = (
                    isinstance(divisor, promql_parser.BinaryExpr)
                    and str(divisor.op) == ">"
                    and not (divisor.modifier and divisor.modifier.return_bool)
                    and isinstance(unparen(divisor.rhs), promql_parser.NumberLiteral)
                    and unparen(divisor.rhs).val == 0
                )
                assert guarded or isinstance(divisor, promql_parser.NumberLiteral), f"{rule.get('alert') or rule['record']}: unguarded division"


# Functions with the same name and meaning in Debian's promtool 2.42 and the deployed Prometheus 3.5
# (3.0 removed or renamed some, e.g. holt_winters, which 2.42 would still accept).
PORTABLE_FUNCTIONS = {
    "rate",
    "increase",
    "sum_over_time",
    "avg_over_time",
    "max_over_time",
    "histogram_quantile",
    "absent",
    "vector",
    "time",
    "label_replace",
    "min_over_time",
    "predict_linear",
    "sqrt",  # the A/B interval (alerting.product_recording)
}


@pytest.mark.parametrize("stack", STACKS)
def test_expressions_use_only_functions_both_prometheus_versions_share(stack):
    used = {node.func.name for rule in rendered_rules(STACKS[stack]()) for node in nodes(rule["expr"]) if isinstance(node, promql_parser.Call)}
    assert used <= PORTABLE_FUNCTIONS


def test_recordings_are_named_level_metric_operations_and_recorded_once():
    rules = [rule for rule in rendered_rules(kubernetes_settings()) if "record" in rule]
    assert [r["record"] for r in rules if not RECORD_NAME.match(r["record"]) and r["record"] != AVAILABILITY] == []
    keys = [(r["record"], tuple(sorted(r.get("labels", {}).items()))) for r in rules]
    assert len(keys) == len(set(keys))
    assert {r["record"] for r in rules} == recorded_series(kubernetes_settings())


def test_seed_guide_recordings_exist():
    recorded = recorded_series(dev_settings())
    assert {"job:ngx_api_requests:rate5m", AVAILABILITY, "job:ngx_api_requests:rate1h", "job_status_tier:ngx_conversations:rate1h"} <= recorded
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"job:ngx_api_requests_errors:ratio_rate{window}" in recorded


def test_thresholds_and_durations_come_from_settings():
    """A changed threshold must change the rule; a value written into a rule by hand would not."""
    settings = dev_settings(
        alerting={
            "thresholds": {"errorRate": 0.05, "errorRateFor": "7m", "cpuUsage": 0.9, "apiDownFor": "4m", "dropRate": 0.45},
            "slo": {"availability": 0.999, "window": "28d"},
        }
    )
    by_name = {}
    for rule in rendered_alerts(settings):
        by_name.setdefault(rule["alert"], []).append(rule)
    assert by_name["HighErrorRate"][0]["expr"].endswith("> 0.05") and by_name["HighErrorRate"][0]["for"] == "7m"
    assert by_name["HighCPUUsage"][0]["expr"].endswith("> 0.9")
    assert by_name["APIDown"][0]["for"] == "4m"
    assert by_name["HighDropRate"][0]["expr"].endswith("> 0.45")
    page = next(r for r in by_name["SLOErrorBudgetBurn"] if r["labels"]["severity"] == "critical")
    # 2% of a 28d (672h) budget in 1h is a burn rate of 13.44; the budget of 99.9% is 0.001.
    assert "(13.44 * 0.001)" in page["expr"]


def test_thirty_day_burn_rates_are_the_workbook_ones():
    exprs = " ".join(r["expr"] for r in rendered_alerts(dev_settings()) if r["alert"] == "SLOErrorBudgetBurn")
    for factor in ("14.4", "6", "3", "1"):
        assert f"({factor} * 0.01)" in exprs


def test_cluster_members_alert_exists_only_with_several_alertmanagers():
    assert "AlertmanagerClusterMembersMissing" not in {a.name for a in alerts(dev_settings())}
    rule = next(r for r in rendered_alerts(kubernetes_settings()) if r["alert"] == "AlertmanagerClusterMembersMissing")
    assert rule["expr"].endswith("< 3")


def test_runbooks_folder_has_no_page_without_an_alert():
    names = {a.name for a in alerts(kubernetes_settings(prometheus={"remoteWrite": [REMOTE_WRITE_STORE]}))}
    pages = {path.stem for path in Path(ROOT / "runbooks").glob("*.md")} - {"README"}
    assert pages <= names


# The application's series that depend on app.metricNames: a promtool test reading them has a twin per naming.
_SHARED = set.intersection(*(set(catalog.app_metrics(naming)) for naming in catalog.API_NAMINGS))
_NAMED_SERIES = {
    naming: {series for metric in catalog.app_metrics(naming) if metric not in _SHARED for series in metric.series_names()} for naming in catalog.API_NAMINGS
}


def _tests_by_name(path: Path) -> dict[str, dict]:
    return {test["name"]: test for test in yaml.safe_load(path.read_text())["tests"]}


def _reads(test: dict, series: set[str]) -> bool:
    return any(re.match(r"^'?(\w+)", item["series"])[1] in series for item in test.get("input_series", []))


def test_every_api_rule_test_has_an_instrumentator_twin_with_the_same_expectations():
    """Alerts, the SLO and dashboards read recordings only, so the same traffic must give the same
    alerts and recorded values whichever names the application uses. Every promtool test fed the ngx
    names has a twin fed the instrumentator's, with the same name and exactly the same expectations."""
    twins_checked = 0
    for path in rule_test_files(RULE_TESTS):
        twin_path = INSTRUMENTATOR_RULE_TESTS / path.name
        ngx_tests = {name: test for name, test in _tests_by_name(path).items() if _reads(test, _NAMED_SERIES["ngx"])}
        if not ngx_tests:
            continue
        twins = _tests_by_name(twin_path) if twin_path.exists() else {}
        for name, test in ngx_tests.items():
            assert name in twins, f"{twin_path.name}: no twin of {name!r}"
            twin = twins[name]
            assert _reads(twin, _NAMED_SERIES["instrumentator"]) and not _reads(twin, _NAMED_SERIES["ngx"]), name
            for section in ("alert_rule_test", "promql_expr_test"):
                assert twin.get(section) == test.get(section), f"{twin_path.name}: {name!r} expects other {section}"
            twins_checked += 1
    # HighErrorRate, HighResponseTime, the SLO burns and the recordings they read: a dozen at least.
    assert twins_checked >= 15


def test_each_naming_names_catalogued_series_with_the_labels_the_rules_read():
    for naming, names in catalog.API_NAMINGS.items():
        exposed = {metric.name: metric for metric in catalog.app_metrics(naming)}
        assert exposed[names.requests].type == "counter" and {"status", names.route_label} <= set(exposed[names.requests].labels)
        assert exposed[names.latency].type == exposed[names.latency_by_route].type == "histogram"
        assert names.route_label in exposed[names.latency_by_route].labels
        assert exposed[names.active_conversations].type == "gauge"


@pytest.mark.parametrize("stack", ["dev", "instrumentator"])
def test_only_the_recording_rules_read_the_named_api_series(stack):
    """Above the recordings nothing may depend on app.metricNames: alerts and the SLO read recordings."""
    settings = STACKS[stack]()
    named = set().union(*_NAMED_SERIES.values())
    for text in render_rule_files(settings).values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                used = {node.name for node in nodes(rule["expr"]) if isinstance(node, promql_parser.VectorSelector)} & named
                if "alert" in rule:
                    assert used == set(), f"{rule['alert']} reads raw {used}"
                own = _NAMED_SERIES["ngx" if stack == "dev" else "instrumentator"]
                assert used <= own, f"{rule.get('record')}: reads {used - own}, not of the {stack} naming"


def test_alerts_and_dashboards_are_the_same_under_either_naming():
    ngx, instrumentator = dev_settings(), instrumentator_settings()
    assert render_dashboards(ngx) == render_dashboards(instrumentator)
    assert render_rule_files(ngx)["ngx-alerts.yml"] == render_rule_files(instrumentator)["ngx-alerts.yml"]
    assert recorded_series(ngx) == recorded_series(instrumentator)
    assert render_rule_files(ngx)["ngx-recording.yml"] != render_rule_files(instrumentator)["ngx-recording.yml"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_discovered_job_has_an_alert_for_when_all_its_targets_vanish(stack):
    """A job whose targets come from Kubernetes discovery can lose all of them (API server unreachable,
    RBAC, no pod), and then `up == 0` has nothing to match: only absent(up{job=...}) notices. The jobs
    are read from the rendered prometheus.yml, not from the function that chose them. On Docker every
    target is listed, so no job is discovered and TargetsMissing is not rendered."""
    settings = STACKS[stack]()
    scrape_configs = yaml.safe_load(render_prometheus_config(settings))["scrape_configs"]
    discovered = {job["job_name"] for job in scrape_configs if "kubernetes_sd_configs" in job}
    covered = {match for rule in rendered_alerts(settings) for match in re.findall(r'absent\(up\{job="([^"]+)"\}\)', rule["expr"])}
    assert discovered <= covered
    names = {rule["alert"] for rule in rendered_alerts(settings)}
    if settings.platform == "docker":
        assert discovered == set() and "TargetsMissing" not in names
    else:
        assert discovered == {catalog.JOB_API, catalog.JOB_NODE, catalog.JOB_NODE_NETDEV, catalog.JOB_ALLOY, catalog.JOB_KUBELET, catalog.JOB_CADVISOR}
        [missing] = [rule for rule in rendered_alerts(settings) if rule["alert"] == "TargetsMissing"]
        # APIDown already covers ngx-api; one alert per outage.
        assert set(re.findall(r'job="([^"]+)"', missing["expr"])) == discovered - {catalog.JOB_API}
