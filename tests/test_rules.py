"""Alerting and recording rules: valid for promtool, proven by promtool unit tests, built from the catalog.

An alert that never fires, fires on an idle service, names a metric nobody exports or links a runbook
that does not exist fails here, before it pages (or fails to page) anyone.
"""
from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import pytest
import yaml

import catalog
from alerting.model import CATEGORIES, SEVERITIES, Alert
from alerting.rules import RUNBOOK_BASE, alerts, finalize, runbook_url
from alerting.slo import AVAILABILITY
from renderers.rules import recorded_series, render_rule_files
from tests.alerting_helpers import (KUBERNETES_RULE_TESTS, ROOT, RULE_TESTS, dev_settings, expected_alert_cases,
                                    kubernetes_settings, prepare_rule_test, rule_test_files, run, write_rule_files)

STACKS = {"dev": dev_settings, "kubernetes": kubernetes_settings}
RULE_FILES = {"ngx-alerts.yml", "ngx-recording.yml", "slo.yml", "meta.yml"}
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")


def rendered_rules(settings) -> list[dict]:
    return [rule for text in render_rule_files(settings).values()
            for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


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
    assert set(rendered) == RULE_FILES
    result = run(["promtool", "check", "rules", "--lint=all", "--lint-fatal",
                  *sorted(str(path) for path in (tmp_path / "rules").iterdir())])
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything but "Checking <file>" and "SUCCESS: n rules found" is a warning (e.g. a duplicate rule).
    extra = [line for line in (result.stdout + result.stderr).splitlines()
             if line.strip() and not re.match(r"^(Checking \S+|\s*SUCCESS: \d+ rules found)$", line)]
    assert extra == []


def _unit_test_cases():
    return [pytest.param(stack, path, id=f"{stack}:{path.name}")
            for stack, folder in (("dev", RULE_TESTS), ("kubernetes", KUBERNETES_RULE_TESTS))
            for path in rule_test_files(folder)]


@pytest.mark.parametrize("stack,test_file", _unit_test_cases())
def test_promtool_unit_tests_pass_on_the_rendered_rules(tmp_path, stack, test_file):
    rendered = write_rule_files(STACKS[stack](), tmp_path)
    prepared = prepare_rule_test(test_file, rendered, tmp_path)
    result = run(["promtool", "test", "rules", prepared.name], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    """Both directions matter: an alert that cannot fire is as broken as one that cannot stay quiet."""
    dev_alerts = {(a.name, a.severity) for a in alerts(dev_settings())}
    k8s_only = {(a.name, a.severity) for a in alerts(kubernetes_settings())} - dev_alerts
    assert k8s_only == {("AlertmanagerClusterMembersMissing", "warning"), ("AlertmanagerConfigInconsistent", "warning")}
    for expected, folder in ((dev_alerts, RULE_TESTS), (k8s_only, KUBERNETES_RULE_TESTS)):
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
    for folder in (RULE_TESTS, KUBERNETES_RULE_TESTS):
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
                guarded = (isinstance(divisor, promql_parser.BinaryExpr) and str(divisor.op) == ">"
                           and not (divisor.modifier and divisor.modifier.return_bool)
                           and isinstance(unparen(divisor.rhs), promql_parser.NumberLiteral) and unparen(divisor.rhs).val == 0)
                assert guarded or isinstance(divisor, promql_parser.NumberLiteral), f"{rule.get('alert') or rule['record']}: unguarded division"


# Functions with the same name and meaning in Debian's promtool 2.42 and the deployed Prometheus 3.5
# (3.0 removed or renamed some, e.g. holt_winters, which 2.42 would still accept).
PORTABLE_FUNCTIONS = {"rate", "increase", "sum_over_time", "avg_over_time", "max_over_time", "histogram_quantile",
                      "absent", "vector", "time"}


@pytest.mark.parametrize("stack", STACKS)
def test_expressions_use_only_functions_both_prometheus_versions_share(stack):
    used = {node.func.name for rule in rendered_rules(STACKS[stack]()) for node in nodes(rule["expr"])
            if isinstance(node, promql_parser.Call)}
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
    settings = dev_settings(alerting={
        "thresholds": {"errorRate": 0.05, "errorRateFor": "7m", "cpuUsage": 0.9, "apiDownFor": "4m", "dropRate": 0.45},
        "slo": {"availability": 0.999, "window": "28d"},
    })
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
    names = {a.name for a in alerts(kubernetes_settings())}
    pages = {path.stem for path in Path(ROOT / "runbooks").glob("*.md")} - {"README"}
    assert pages <= names
