"""The response-time recordings and HighResponseTime in ngx-api-latency.rules, at
prometheus.latencyEvaluationInterval (unset: twice evaluationInterval, at most 1m)."""

from __future__ import annotations

import pytest
import yaml

from alerting.recording import RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M, RESPONSE_TIME_QUANTILES
from catalog import API_NAMINGS
from renderers.alertmanager import render_alertmanager_config
from renderers.prometheus import render_prometheus_config
from renderers.rules import render_rule_files
from settings import SettingsError
from tests.alerting_helpers import dev_settings, instrumentator_settings, kubernetes_settings
from tests.live.timings import RenderedTimings


def _groups(settings) -> dict[str, dict]:
    return {group["name"]: group for group in yaml.safe_load(render_rule_files(settings)["ngx-recording.yml"])["groups"]}


@pytest.mark.parametrize("make", [dev_settings, kubernetes_settings, instrumentator_settings])
def test_the_histogram_is_read_only_by_the_latency_group(make):
    settings = make()
    groups = _groups(settings)
    latency = groups["ngx-api-latency.rules"]
    assert latency["interval"] == "30s"
    assert [rule.get("alert") for rule in latency["rules"] if "alert" in rule] == ["HighResponseTime"]
    assert any(rule.get("record") == RESPONSE_TIME_BY_ENDPOINT_BUCKETS_RATE5M for rule in latency["rules"])
    names = API_NAMINGS[settings.app.metric_names]
    histograms = {f"{names.latency}_bucket", f"{names.latency_by_route}_bucket"}
    for name, group in groups.items():
        if name != "ngx-api-latency.rules":
            text = yaml.safe_dump(group)
            assert not any(histogram in text for histogram in histograms), name
            assert RESPONSE_TIME_QUANTILES not in text, name
    assert "interval" not in groups["ngx-api.rules"]  # the pages' group keeps the global interval


@pytest.mark.parametrize(
    ("evaluation", "configured", "expected"),
    [("15s", None, "30s"), ("30s", None, "60s"), ("45s", None, "60s"), ("2m", None, "120s"), ("15s", "45s", "45s"), ("90s", "90s", "90s")],
)
def test_the_interval_is_twice_the_evaluation_interval_up_to_a_minute_or_the_setting(evaluation, configured, expected):
    prometheus = {"scrapeInterval": "15s", "evaluationInterval": evaluation}
    if configured:
        prometheus["latencyEvaluationInterval"] = configured
    assert _groups(dev_settings(prometheus=prometheus))["ngx-api-latency.rules"]["interval"] == expected


@pytest.mark.parametrize("value", ["10s", "90s"])
def test_an_interval_outside_evaluation_interval_to_a_minute_is_refused(value):
    with pytest.raises(SettingsError) as error:
        dev_settings(prometheus={"latencyEvaluationInterval": value})
    assert str(error.value).startswith("ngx-monitoring:prometheus.latencyEvaluationInterval:")
    assert "outside evaluationInterval 15s to 1m" in str(error.value)


def test_live_bounds_use_the_alerts_own_group_interval():
    settings = dev_settings()
    files = {
        "prometheus/prometheus.yml": render_prometheus_config(settings),
        "alertmanager/alertmanager.yml": render_alertmanager_config(settings),
        **{f"prometheus/rules/{name}": text for name, text in render_rule_files(settings).items()},
    }
    timings = RenderedTimings(files)
    assert timings.evaluation_interval_of("HighResponseTime") == 30.0
    assert timings.evaluation_interval_of("HighErrorRate") == timings.evaluation_interval == 15.0
