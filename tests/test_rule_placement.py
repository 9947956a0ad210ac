"""Where rules are evaluated: what makes a page need one evaluation after its inputs are scraped, and a
rule evaluation read each raw API series once.

Prometheus runs the rules of a group in order at one timestamp. An alert in another group than the
recordings it reads sees them as of that group's last run, up to one evaluation interval late, and the
page waits as long (docs/performance.md, alert latency). A raw counter or histogram read by several
rules costs its whole cardinality each time (the bench's samples touched per group).
"""

from __future__ import annotations

import promql_parser
import pytest
import yaml

import catalog
from alerting.model import Alert, Recording, RuleGroup
from alerting.placement import place, reads
from renderers.rules import render_rule_files
from tests.alerting_helpers import dev_settings, instrumentator_settings, kubernetes_settings

STACKS = {"dev": dev_settings, "kubernetes": kubernetes_settings, "instrumentator": instrumentator_settings}


def _groups(settings) -> list[dict]:
    return [group for text in render_rule_files(settings).values() for group in yaml.safe_load(text)["groups"]]


def _selected(expr: str) -> list[str]:
    found: list[str] = []
    promql_parser.walk(promql_parser.parse(expr), lambda node: found.append(node.name) if isinstance(node, promql_parser.VectorSelector) else None)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_follows_the_recordings_it_reads_in_their_group(stack):
    groups = _groups(STACKS[stack]())
    recorded_in = {rule["record"]: group["name"] for group in groups for rule in group["rules"] if "record" in rule}
    checked = 0
    for group in groups:
        seen: set[str] = set()
        for rule in group["rules"]:
            if "record" in rule:
                seen.add(rule["record"])
                continue
            for name in set(_selected(rule["expr"])) & set(recorded_in):
                assert recorded_in[name] == group["name"], f"{rule['alert']} in {group['name']} reads {name} recorded by {recorded_in[name]}"
                assert name in seen, f"{rule['alert']} comes before {name} in {group['name']}"
                checked += 1
    assert checked >= 8  # HighErrorRate, HighResponseTime, LowCacheHitRate, the burn alerts, business, node


@pytest.mark.parametrize("stack", ["dev", "instrumentator"])
def test_each_raw_api_counter_and_histogram_is_read_by_one_rule(stack):
    """The finest recording reads the raw series; every coarser level sums that recording."""
    api_series = {
        name
        for metric in catalog.METRICS.values()
        if metric.source == catalog.JOB_API and metric.type in ("counter", "histogram")
        for name in metric.series_names()
    }
    readers: dict[str, list[str]] = {}
    for group in _groups(STACKS[stack]()):
        for rule in group["rules"]:
            for name in set(_selected(rule["expr"])) & api_series:
                readers.setdefault(name, []).append(rule.get("record") or rule.get("alert"))
    request_counter = "ngx_api_requests_total" if stack == "dev" else "http_requests_total"
    assert readers[request_counter] == ["job_endpoint_status:ngx_api_requests:rate5m"]
    buckets = {name: rules for name, rules in readers.items() if name.endswith("_bucket")}
    assert buckets and all(len(rules) == 1 for rules in buckets.values()), buckets
    assert all(len(rules) == 1 for rules in readers.values()), readers


def _alert(name: str, expr: str) -> Alert:
    return Alert(name, expr, None, "warning", "performance", "Something.", "{{ $value }}")


def test_placement_appends_alerts_to_the_group_recording_their_inputs_and_refuses_two_groups():
    a = RuleGroup("a.rules", (Recording("job:x:rate5m", "sum(rate(x[5m]))"),))
    b = RuleGroup("b.rules", (Recording("job:y:rate5m", "sum(rate(y[5m]))"),))
    groups, raw = place((a, b), (_alert("OnY", "job:y:rate5m > 1"), _alert("OnRaw", "up == 0"), _alert("OnPrefix", "job:x:rate5m_other > 1")))
    assert [rule.name for rule in groups[1].alerts] == ["OnY"] and groups[0].alerts == ()
    # A longer name that starts with a recorded one is not a read of it.
    assert [alert.name for alert in raw] == ["OnRaw", "OnPrefix"]
    assert reads("a / job:x:rate5m", "job:x:rate5m") and not reads("job:x:rate5m_other", "job:x:rate5m")
    with pytest.raises(ValueError, match="OnBoth reads recordings of several groups"):
        place((a, b), (_alert("OnBoth", "job:x:rate5m / job:y:rate5m"),))
