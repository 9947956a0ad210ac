"""The stack-health "Rule group evaluation time" panel on the live stack: its query, taken from the
rendered dashboard, returns each rendered rule group's evaluation time as a share of that group's own
interval (the groups run at different intervals: ngx-api-latency.rules at its own)."""

from __future__ import annotations

import json

import pytest
import yaml

from settings.validators import duration_seconds
from tests.live.clients import wait_until
from tests.live.timings import patience

pytestmark = pytest.mark.live
TITLE = "Rule group evaluation time"


def _panel_expr(deployment) -> str:
    for key, text in deployment.result.files.items():
        if key.startswith("grafana/dashboards/") and key.endswith(".json"):
            for panel in json.loads(text).get("panels", []):
                if panel.get("title") == TITLE:
                    [target] = panel["targets"]
                    return target["expr"]
    raise AssertionError(f"no panel {TITLE!r} in the rendered dashboards")


def test_each_rule_group_shows_its_share_of_its_own_interval(main_stack, live_deployment, timings):
    intervals = {
        group["name"]: duration_seconds(group["interval"]) if "interval" in group else timings.evaluation_interval
        for key, text in live_deployment.result.files.items()
        if key.startswith("prometheus/rules/")
        for group in yaml.safe_load(text)["groups"]
    }
    assert intervals["ngx-api-latency.rules"] == 2 * timings.evaluation_interval
    # Groups that run at most every 30s; the SLO budget's 5m group may not have run yet on a young stack.
    expected = {name for name, every in intervals.items() if every <= 30}
    expr = _panel_expr(live_deployment)
    seen: dict[str, float] = {}

    def every_group_seen() -> bool:
        seen.update({row["metric"]["rule_group"].rsplit(";", 1)[-1]: float(row["value"][1]) for row in main_stack.prometheus.query(expr)})
        assert expected <= set(seen), f"no value yet for {sorted(expected - set(seen))}"
        return True

    wait_until(every_group_seen, patience(2 * max(intervals[name] for name in expected)), what="a value for every rule group")
    # A share of the group's interval, not seconds: on this idle stack each group takes a small part of it.
    assert all(0 < seen[name] < 0.5 for name in expected), {name: seen[name] for name in expected}
