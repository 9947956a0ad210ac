"""Scenario 4: restarts lose nothing but the restart itself.

Prometheus: samples written before a restart come back from its WAL, identical, and scraping resumes.
Alertmanager: silences and the notification log survive, so a restart neither un-silences an alert
nor pages twice for the same one.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from renderers import auth
from tests.live import progress
from tests.live.clients import AlertmanagerAPI, wait_until
from tests.live.timings import patience
from topology import ALERTMANAGER, PROMETHEUS

pytestmark = pytest.mark.live

SERIES = 'up{job="node"}'


def _samples(stack, at: float, window: int) -> list[tuple[float, str]]:
    result = stack.prometheus.query(f"{SERIES}[{window}s]", at)
    assert len(result) == 1, result
    return [(float(ts), value) for ts, value in result[0]["values"]]


def test_prometheus_restart_keeps_every_sample_written_before_it(main_stack, timings):
    stack = main_stack
    scrape = timings.scrape_interval
    wait_until(lambda: len(_samples(stack, time.time(), 30)) >= 5, patience(5 * scrape), what="five samples")
    # Only samples that were surely committed when read: a scrape in flight at `before_at` carries a
    # timestamp from before it but may land in the head just after the first query.
    settled_at = time.time() - 2 * scrape
    before = [sample for sample in _samples(stack, settled_at, 300) if sample[0] <= settled_at]
    stopped = time.time()
    stack.restart_service(PROMETHEUS)
    started = time.time()

    after = [sample for sample in _samples(stack, settled_at, 300) if sample[0] <= settled_at]
    assert before and after == before, "samples written before the restart changed or went missing"

    # Scraping resumes: the gap is the restart itself (plus discovery's first hand-over of targets).
    wait_until(lambda: any(ts > started for ts, _ in _samples(stack, time.time(), 30)), patience(scrape + 5), what="a sample scraped after the restart")
    now = time.time()
    series = _samples(stack, now, int(now - before[0][0]) + 2)
    assert series[: len(before)] == before
    gap = max(b[0] - a[0] for a, b in zip(series, series[1:], strict=False))
    restart_took = started - stopped
    print(f"restart took {restart_took:.1f}s; largest gap between samples {gap:.1f}s")
    assert gap <= restart_took + scrape + 5 + 2, "more than the restart's own gap is missing"


def _post_alert(api: AlertmanagerAPI, alertname: str, starts: float) -> None:
    """Post an alert as Prometheus does (it re-sends firing alerts until they resolve)."""
    labels = {"alertname": alertname, "severity": "critical", "job": "live-test", "category": "meta"}
    annotations = {
        "summary": f"{alertname} (posted by tests/live)",
        "description": "value {{ $value }}",
        "runbook_url": "https://example.invalid/runbook",
        "dashboard_url": "https://example.invalid/d",
    }
    alert = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(starts)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600)),
    }
    api.post_alerts([alert])


def _notify_returns(stack) -> dict[str, float]:
    """Per integration, how many notify calls have returned in Alertmanager (its latency histogram)."""
    text = stack.alertmanager.endpoint.get("/metrics").body.decode()
    return {
        sample.labels["integration"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alertmanager_notification_latency_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }


def test_alertmanager_restart_keeps_silences_and_the_notification_log(main_stack, timings):
    stack = main_stack
    # Prometheus's own user posts alerts, as Prometheus does.
    sender = AlertmanagerAPI(stack.endpoint(ALERTMANAGER, user=auth.PROMETHEUS_USER))
    labels = {"alertname": "LiveTestPaged", "severity": "critical", "job": "live-test"}
    route = timings.route(labels)
    assert route.receiver == "oncall-pager"
    integrations = timings.receiver_integrations(route.receiver)
    silence = stack.alertmanager.add_silence({"alertname": "LiveTestSilenced"}, hours=2, comment="live test")
    returned = _notify_returns(stack)
    starts = time.time()
    _post_alert(sender, "LiveTestPaged", starts)
    _post_alert(sender, "LiveTestSilenced", starts)
    page = stack.sink.wait_for(patience(route.group_wait), integration="pagerduty", alertname="LiveTestPaged")
    for integration in integrations - {"pagerduty"}:
        stack.sink.wait_for(patience(route.group_wait), integration=integration, alertname="LiveTestPaged")
    # Alertmanager logs a notification once the receiver has answered and its notify call has returned,
    # per integration. A restart before that loses the entry (any Alertmanager would notify again), so
    # the restart waits for every integration's call to return; the log entry follows in the same
    # goroutine, within microseconds, and a second covers it on a loaded machine.
    wait_until(
        lambda: all(_notify_returns(stack).get(name, 0) > returned.get(name, 0) for name in integrations),
        patience(0),
        what="Alertmanager's notify calls returned",
    )
    time.sleep(1)

    stack.restart_service(ALERTMANAGER)
    restarted = time.time()
    silences = {s["id"]: s for s in stack.alertmanager.silences()}
    assert silence in silences and silences[silence]["status"]["state"] == "active", silences

    # Prometheus would re-send both alerts within its resend delay; here they are re-sent at once.
    _post_alert(sender, "LiveTestPaged", starts)
    _post_alert(sender, "LiveTestSilenced", starts)
    _post_alert(sender, "LiveTestAfterRestart", restarted)
    # Control: a new alert is paged, so the pipeline works after the restart ...
    stack.sink.wait_for(patience(route.group_wait), integration="pagerduty", alertname="LiveTestAfterRestart")
    # ... while the alert paged before it is not paged again (its group has flushed by now) ...
    progress.sleep(restarted + route.group_wait + 5 - time.time(), "the re-sent page's group_wait passes (it must not page again)")
    again = [n for n in stack.sink.notifications(alertname="LiveTestPaged", since=page.arrived) if n is not page]
    assert [n for n in again if n.arrived > restarted] == [], "the notification log was lost: paged again after the restart"
    # ... and the silenced one stays silenced.
    silenced = [a for a in stack.alertmanager.alerts() if a["labels"]["alertname"] == "LiveTestSilenced"]
    assert silenced and silenced[0]["status"]["silencedBy"] == [silence]
    assert not stack.sink.notifications(alertname="LiveTestSilenced")
