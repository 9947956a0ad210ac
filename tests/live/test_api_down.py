"""Scenario 2: the API stops; APIDown pages oncall-pager; the API comes back; the page resolves.

The stack (fixture api_down_stack) stopped its simulated API before the first live test, so the page
is usually in by the time these tests run. The resolve waits for the route's next group_interval
tick after the first page, as rendered (alerting.routes.oncallPager.groupInterval: 10s in the livetest
stack, 5m in dev and prod).
"""

from __future__ import annotations

import time

import pytest

import catalog
from tests.live.clients import wait_until
from tests.live.timings import patience

pytestmark = pytest.mark.live

LABELS = {"alertname": "APIDown", "severity": "critical", "job": catalog.JOB_API}


def test_oncall_pager_is_the_receiver_with_pagerduty_and_slack(timings):
    """What the sink's integrations mean: a PagerDuty event or a Slack message for a critical alert is a page."""
    route = timings.route(LABELS)
    assert route.receiver == "oncall-pager"
    assert timings.receiver_integrations("oncall-pager") == {"pagerduty", "slack"}
    assert all("pagerduty" not in timings.receiver_integrations(name) for name in ("ops-email", "business-daily", "heartbeat"))


def test_api_down_reaches_oncall_pager(api_down_stack, timings):
    stack = api_down_stack
    bound = timings.first_notification_bound("APIDown", LABELS)
    page = stack.sink.wait_for(patience(bound), integration="pagerduty", alertname="APIDown", status="firing")
    slack = stack.sink.wait_for(patience(bound), integration="slack", alertname="APIDown", status="firing")
    latency = page.arrived - stack.fault_at
    print(f"APIDown paged {latency:.1f}s after the API stopped (theoretical bound {bound:.0f}s)")
    assert latency <= patience(bound)
    assert page.payload["routing_key"] == stack.deployment.result.settings.receivers.pagerduty.routing_key.reveal()
    assert "runbooks/APIDown.md" in str(page.payload.get("links")), "the page must link its runbook"
    assert slack.payload["channel"] == stack.settings.receivers.slack.channel
    assert "fails its scrapes" in slack.payload["attachments"][0]["text"], "the description with the observed value"
    groups = stack.alertmanager.groups()
    receivers = {g["receiver"]["name"] for g in groups for a in g["alerts"] if a["labels"]["alertname"] == "APIDown"}
    assert receivers == {"oncall-pager"}


def test_the_page_carries_the_alert_severity(api_down_stack, timings):
    bound = timings.first_notification_bound("APIDown", LABELS)
    page = api_down_stack.sink.wait_for(patience(bound), integration="pagerduty", alertname="APIDown", status="firing")
    assert page.payload["payload"]["severity"] == "critical"


@pytest.mark.slow
def test_api_back_resolves_the_page(api_down_stack, timings):
    stack = api_down_stack
    first_page = stack.sink.wait_for(
        patience(timings.first_notification_bound("APIDown", LABELS)), integration="pagerduty", alertname="APIDown", status="firing"
    )
    stack.simulator.set_mode("healthy")
    restarted = time.time()
    wait_until(lambda: stack.prometheus.value('up{job="ngx-api"}') == 1, patience(timings.scrape_interval + 5), what="the API scraped again")
    # The resolve goes out at the first group_interval tick after the first page at which Alertmanager
    # already knows the alert is resolved (Prometheus sends the resolution at its next evaluation).
    interval = timings.route(LABELS).group_interval
    known = restarted + timings.scrape_interval + 2 * timings.evaluation_interval + 5  # Alertmanager knows by then
    tick = first_page.arrived + (int((known - first_page.arrived) // interval) + 1) * interval
    timeout = max(0.0, tick - time.time()) + 30
    resolved = stack.sink.wait_for(timeout, integration="pagerduty", alertname="APIDown", status="resolved", since=restarted)
    stack.sink.wait_for(30, integration="slack", alertname="APIDown", status="resolved", since=restarted)
    assert resolved.payload["dedup_key"] == first_page.payload["dedup_key"], "the resolve must close the same incident"
    print(
        f"resolve arrived {resolved.arrived - restarted:.1f}s after the API came back "
        f"({resolved.arrived - first_page.arrived:.1f}s after the page; group_interval {interval:.0f}s)"
    )
    firing_again = stack.sink.notifications(alertname="APIDown", status="firing", since=restarted)
    assert not firing_again, firing_again
