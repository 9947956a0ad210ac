"""The dashboards as code: every query is valid and names only what exists, every panel is complete,
and the JSON is what Grafana's own models read back unchanged.

A panel whose query names a metric nobody exports renders as an empty box in production and nobody
notices until it is needed; these tests make that a build failure instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import promql_parser
import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

import catalog
from alerting import recording as rec
from catalog import OVERVIEW_DASHBOARD_UID
from dashboards import DASHBOARDS, FOLDERS, build_dashboards, render_dashboards
from dashboards.datasources import DATASOURCES, LOKI, PROMETHEUS
from dashboards.defaults import DEPLOY_TAG
from renderers.rules import recorded_series
from settings import parse
from synthesis.stack_config import load_stack_config, settings_mapping

EXPECTED_UIDS = {"ngx-overview", "ngx-ml", "ngx-business", "ngx-slo", "ngx-stack"}
# Grafana's built-in variables stand for a duration; dashboard variables for a label value or regex.
GRAFANA_DURATIONS = ("$__rate_interval", "$__interval", "$__range")
_VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
_STREAM_SELECTOR = re.compile(r"^\{(?P<matchers>[^}]*)\}")
_LOG_MATCHER = re.compile(r'\s*(?P<label>[a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')


def _stack_settings(stack: str):
    raw, secret = settings_mapping(load_stack_config(stack))
    return parse(raw, stack=stack, secret_keys=secret)


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack_settings(request):
    return _stack_settings(request.param)


@pytest.fixture(scope="module")
def models(stack_settings):
    return build_dashboards(stack_settings)


def _panels(model: dict) -> list[dict]:
    """Every panel that shows data (rows are layout only), including panels inside collapsed rows."""
    found = []
    for panel in model["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels") or [])
        else:
            found.append(panel)
    return found


def _targets(models: dict, datasource_type: str) -> list[tuple[str, str, str]]:
    return [
        (uid, panel["title"], target["expr"])
        for uid, model in models.items()
        for panel in _panels(model)
        for target in panel.get("targets", [])
        if target["datasource"]["type"] == datasource_type
    ]


def _variable_queries(models: dict) -> list[tuple[str, str]]:
    return [(uid, variable["query"]) for uid, model in models.items() for variable in model["templating"]["list"] if variable["type"] == "query"]


def _as_promql(expr: str) -> str:
    """PromQL with Grafana's variables replaced by values of the right kind, as Grafana would send it."""
    for name in GRAFANA_DURATIONS:
        expr = expr.replace(name, "5m")
    return _VARIABLE.sub(".*", expr)


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(promql_parser.parse(_as_promql(expr)), lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None)
    return found


def _all_promql(models: dict) -> list[tuple[str, str, str]]:
    queries = _targets(models, "prometheus")
    for uid, query in _variable_queries(models):
        match = _LABEL_VALUES.match(query)
        assert match, f"{uid}: variable query {query!r} is not label_values(<selector>, <label>)"
        queries.append((uid, "variable", match["selector"]))
    return queries


def test_there_are_the_five_dashboards_with_stable_uids(stack_settings):
    """UIDs are URLs people bookmark and alerts link to; the overview's is the one notifications use."""
    rendered = render_dashboards(stack_settings)
    assert set(rendered) == {f"{uid}.json" for uid in EXPECTED_UIDS}
    assert {json.loads(text)["uid"] for text in rendered.values()} == EXPECTED_UIDS
    assert OVERVIEW_DASHBOARD_UID in EXPECTED_UIDS
    assert render_dashboards(stack_settings) == rendered, "rendering is not deterministic"
    for text in rendered.values():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert {spec.folder for spec in DASHBOARDS} == set(FOLDERS)


def test_every_promql_expression_parses_and_names_only_known_series(models, stack_settings):
    known = catalog.series_names() | recorded_series(stack_settings)
    queries = _all_promql(models)
    assert len(queries) > 40, "fewer queries than panels: the test would prove little"
    for uid, title, expr in queries:
        selectors = _selectors(expr)
        assert selectors, f"{uid} / {title}: {expr} reads no series"
        for selector in selectors:
            assert selector.name in known, f"{uid} / {title}: {selector.name} is neither in the catalog nor recorded by a rule"


def test_raw_selectors_use_only_labels_their_metric_has(models):
    """A matcher on a label a metric does not carry matches nothing: the panel is silently empty."""
    by_series = {series: metric for metric in catalog.METRICS.values() for series in metric.series_names()}
    for uid, title, expr in _all_promql(models):
        for selector in _selectors(expr):
            metric = by_series.get(selector.name)
            if metric is None:
                continue  # a recorded series
            allowed = set(metric.labels) | set(catalog.TARGET_LABELS) | {"__name__"}
            allowed |= {"le"} if selector.name.endswith("_bucket") else set()
            for matcher in selector.matchers.matchers:
                assert matcher.name in allowed, f"{uid} / {title}: {selector.name} has no label {matcher.name}"
                if matcher.name == "job":
                    assert matcher.value in catalog.JOBS, f"{uid} / {title}: job {matcher.value} is not a scrape job"


def test_application_counters_and_histograms_are_read_through_recording_rules(models):
    """Dashboards read the pre-aggregated series; a raw per-bucket, per-endpoint read at every refresh
    is exactly the load the recording rules exist to avoid."""
    heavy = {
        series
        for naming in catalog.API_NAMINGS
        for metric in catalog.app_metrics(naming)
        if metric.type in ("counter", "histogram")
        for series in metric.series_names()
    }
    for uid, title, expr in _all_promql(models):
        used = {selector.name for selector in _selectors(expr)}
        assert not used & heavy, f"{uid} / {title} reads raw {sorted(used & heavy)}; use a recorded series"


def test_every_logql_query_selects_only_stream_labels_the_shipper_sends(models):
    queries = _targets(models, "loki")
    assert queries, "the business dashboard must show conversation events from Loki"
    for uid, title, expr in queries:
        match = _STREAM_SELECTOR.match(expr)
        assert match, f"{uid} / {title}: {expr} has no stream selector"
        labels = [m["label"] for m in _LOG_MATCHER.finditer(match["matchers"])]
        assert labels and set(labels) <= set(catalog.LOG_LABELS), f"{uid} / {title}: {labels} vs {catalog.LOG_LABELS}"
        assert f'job="{catalog.LOG_JOB}"' in match["matchers"], f"{uid} / {title}: not scoped to the API's logs"
        rest = expr[match.end() :]
        if re.search(r"\|\s*\w+\s*(=~|!~|!=|=|>|<)", rest):
            assert "| json" in rest, f"{uid} / {title}: filters on a field without parsing the JSON line"


def test_every_panel_has_a_unit_a_description_and_an_existing_datasource(models):
    for uid, model in models.items():
        ids = [panel["id"] for panel in model["panels"]]
        assert len(ids) == len(set(ids)), f"{uid}: duplicate panel ids"
        for panel in _panels(model):
            where = f"{uid} / {panel['title']}"
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{where} has no unit"
            assert panel.get("description"), f"{where} has no description"
            assert panel["datasource"]["uid"] in DATASOURCES, f"{where}: unknown datasource {panel['datasource']}"
            assert panel["datasource"]["type"] == DATASOURCES[panel["datasource"]["uid"]].type
            for target in panel.get("targets", []):
                assert target["datasource"] == panel["datasource"], f"{where}: a target uses another datasource"
            if panel["type"] == "alertGroups":  # names its Alertmanager by datasource name, not UID
                assert panel["options"]["alertmanager"] == DATASOURCES[panel["datasource"]["uid"]].name
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0, f"{where}: off the grid"


def test_json_round_trips_through_grafanas_models(models):
    """What we upload is what the dashboard schema reads: nothing dropped, nothing unknown."""
    register_default_plugins()
    for uid, model in models.items():
        decoded = DashboardModel.from_json(model)
        assert json.loads(JSONEncoder(sort_keys=True).encode(decoded)) == model, uid


def test_overview_marks_deploys_and_filters_by_instance(models):
    overview = models["ngx-overview"]
    [deploys] = [a for a in overview["annotations"]["list"] if a["name"] == "Deploys"]
    assert deploys["enable"] and deploys["target"] == {"type": "tags", "tags": [DEPLOY_TAG], "limit": 100, "matchAny": False}
    variables = {v["name"]: v for v in overview["templating"]["list"]}
    assert {"env", "instance", "node"} <= set(variables)
    assert variables["instance"]["datasource"]["uid"] == PROMETHEUS.uid
    exprs = [expr for uid, _, expr in _targets(models, "prometheus") if uid == "ngx-overview"]
    assert any('instance=~"$instance"' in expr for expr in exprs)


def test_environment_variable_is_the_stack_environment(models, stack_settings):
    for uid, model in models.items():
        [env] = [v for v in model["templating"]["list"] if v["name"] == "env"]
        assert env["query"] == stack_settings.environment, uid
    for _uid, _, expr in _targets(models, "loki"):
        assert 'env="$env"' in expr


def test_thresholds_follow_the_alerting_settings(stack_settings):
    """The accuracy panel's red line is the LowModelAccuracy threshold, not a number typed twice."""
    thresholds = replace(stack_settings.alerting.thresholds, model_accuracy=0.83, error_rate=0.04)
    changed = replace(stack_settings, alerting=replace(stack_settings.alerting, thresholds=thresholds))

    def steps(models, uid, title):
        [panel] = [p for p in _panels(models[uid]) if p["title"] == title]
        return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    before, after = build_dashboards(stack_settings), build_dashboards(changed)
    assert 0.83 not in steps(before, "ngx-ml", "Model accuracy vs threshold")
    assert 0.83 in steps(after, "ngx-ml", "Model accuracy vs threshold")
    assert 0.04 in steps(after, "ngx-overview", "Error rate")


def test_every_dashboard_is_in_a_known_folder_and_tagged():
    for spec in DASHBOARDS:
        assert spec.folder in FOLDERS
    models = build_dashboards(_stack_settings("dev"))
    for uid, model in models.items():
        assert "ngx" in model["tags"], uid
        assert model["editable"] is False, f"{uid}: dashboards are code; edits in the UI would be overwritten"


def test_loki_panels_use_the_loki_datasource(models):
    logs = [panel for model in models.values() for panel in _panels(model) if panel["type"] == "logs"]
    assert logs and all(panel["datasource"]["uid"] == LOKI.uid for panel in logs)


def test_conversation_ratios_are_read_from_their_recordings_never_divided_in_a_panel(models):
    """The conversion and drop-off shares divide by conversations started (catalog's event contract); a
    panel dividing the conversation series itself could divide by every event again and show half the
    truth. So a panel reads the recorded ratios, and no query divides conversation series."""
    conversation_series = {rec.CONVERSATIONS_RATE5M, rec.CONVERSATIONS_RATE1H, *catalog.METRICS["ngx_conversations_total"].series_names()}
    exprs = [expr for _, _, expr in _all_promql(models)]
    assert rec.CONVERTED_RATIO_1H in exprs and rec.DROPPED_RATIO_1H in exprs
    for uid, title, expr in _all_promql(models):
        if not {selector.name for selector in _selectors(expr)} & conversation_series:
            continue
        found: list = []
        promql_parser.walk(promql_parser.parse(_as_promql(expr)), found.append)
        divisions = [node for node in found if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "/"]
        assert divisions == [], f"{uid} / {title} divides conversation series itself; read the recorded ratio"


def _titles_after_row(model: dict, row_title: str) -> list[str]:
    panels = model["panels"]
    start = next(index for index, panel in enumerate(panels) if panel["type"] == "row" and panel["title"] == row_title)
    rest = panels[start + 1 :]
    end = next((index for index, panel in enumerate(rest) if panel["type"] == "row"), len(rest))
    return [panel["title"] for panel in rest[:end]]


def _exprs(model: dict, title: str) -> list[str]:
    panel = next(panel for panel in _panels(model) if panel["title"] == title)
    return [target["expr"] for target in panel["targets"]]


def test_overview_has_a_row_for_the_api_pods_on_kubernetes_only():
    """Restarts, CPU against request and limit, memory against limit and throttling of the API's own
    pods (its namespace), read from kube-state-metrics and cAdvisor; dev has neither job."""
    prod = build_dashboards(_stack_settings("prod"))[OVERVIEW_DASHBOARD_UID]
    namespace = _stack_settings("prod").app.namespace
    assert _titles_after_row(prod, "API pods") == [
        "API pod restarts (1h)",
        "API pod CPU throttling",
        "API pod CPU vs request and limit",
        "API pod memory vs limit",
    ]
    cpu = _exprs(prod, "API pod CPU vs request and limit")
    assert [("container_cpu_usage_seconds_total" in e, 'resource="cpu"' in e) for e in cpu] == [(True, False), (False, True), (False, True)]
    assert "requests" in cpu[1] and "limits" in cpu[2]
    memory = _exprs(prod, "API pod memory vs limit")
    assert "container_memory_working_set_bytes" in memory[0] and 'resource="memory"' in memory[1] and "limits" in memory[1]
    for title in ("API pod restarts (1h)", "API pod CPU throttling", "API pod CPU vs request and limit", "API pod memory vs limit"):
        assert all(f'namespace="{namespace}"' in expr for expr in _exprs(prod, title)), title
    dev = build_dashboards(_stack_settings("dev"))[OVERVIEW_DASHBOARD_UID]
    assert not [panel for panel in dev["panels"] if panel["title"] == "API pods"]


def test_stack_health_shows_every_data_volume_and_node_disk():
    prod_settings = _stack_settings("prod")
    prod = build_dashboards(prod_settings)["ngx-stack"]
    assert _titles_after_row(prod, "Volumes and disks") == ["Data volumes used", "Node disks used"]
    (volumes,) = _exprs(prod, "Data volumes used")
    assert f'namespace="{prod_settings.kubernetes.namespace}"' in volumes and "persistentvolumeclaim" in volumes
    dev = build_dashboards(_stack_settings("dev"))["ngx-stack"]
    assert _titles_after_row(dev, "Volumes and disks") == ["Node disks used"]
