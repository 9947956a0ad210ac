"""Scenario 5: a target that exposes more samples than sample_limit fails alone.

The stack (fixture flood_stack) made its API expose `flood_series` extra series before the first live
test. Its scrapes are rejected as a whole (nothing of it is stored), every other target keeps being
scraped, and PrometheusScrapeSampleLimitHit fires; the test that waits for it firing waits out its
`for` (alerting.thresholds.sampleLimitHitFor: 10s in the livetest stack, 5m elsewhere) and is marked slow.
"""

from __future__ import annotations

import time

import pytest

import catalog
from tests.live.clients import wait_until
from tests.live.simulator import FLOOD_METRIC
from tests.live.stack import NOT_RUN
from tests.live.timings import patience
from topology import SERVICES

pytestmark = pytest.mark.live

ALERT = "PrometheusScrapeSampleLimitHit"


def _targets(stack) -> dict[str, dict]:
    return {t["labels"]["job"]: t for t in stack.prometheus.targets()}


def test_the_flooding_target_fails_alone(flood_stack, timings):
    stack = flood_stack
    limit = stack.settings.prometheus.sample_limit
    assert stack.simulator.flood_series > limit
    wait_until(
        lambda: "sample limit" in _targets(stack)[catalog.JOB_API]["lastError"],
        patience(timings.scrape_interval + 5),
        what="the API's scrape rejected for sample_limit",
    )
    targets = _targets(stack)
    assert targets[catalog.JOB_API]["health"] == "down"
    assert stack.prometheus.value(f'up{{job="{catalog.JOB_API}"}}') == 0
    # Nothing of a rejected scrape is stored, not even the series within the limit: no sample of the
    # API's own series since the rejections began, and no flood series ever.
    window = int(3 * timings.scrape_interval) + 1
    wait_until(lambda: time.time() - stack.fault_at > 2 * window, 3 * window, what="a few rejected scrapes")
    stored = stack.prometheus.query(f'count_over_time(ngx_api_requests_total{{job="{catalog.JOB_API}"}}[{window}s])')
    assert stored == [], stored
    assert stack.prometheus.query(f'count(last_over_time({{__name__="{FLOOD_METRIC}"}}[1h]))') == []

    not_run = {SERVICES[service].job for service in NOT_RUN if SERVICES[service].job}
    others = [job for job in targets if job not in not_run | {catalog.JOB_API}]
    assert len(others) >= 5, others
    window = int(5 * timings.scrape_interval) + 1
    for job in others:
        assert targets[job]["health"] == "up", (job, targets[job]["lastError"])
        # Samples keep arriving, one a scrape interval.
        count = stack.prometheus.value(f'count_over_time(up{{job="{job}"}}[{window}s])')
        assert count is not None and count >= 3, (job, count)

    rejected = stack.prometheus.value('increase(prometheus_target_scrapes_exceeded_sample_limit_total{job="prometheus"}[1m])')
    assert rejected and rejected > 0


def test_the_sample_limit_alert_is_raised(flood_stack, timings):
    stack = flood_stack
    alert = wait_until(
        lambda: [a for a in stack.prometheus.alerts() if a["labels"]["alertname"] == ALERT],
        patience(timings.scrape_interval + 2 * timings.evaluation_interval),
        what=f"{ALERT} pending",
    )[0]
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["job"] == "prometheus" and alert["labels"]["severity"] == "warning"


@pytest.mark.slow
def test_the_sample_limit_alert_fires_and_reaches_alertmanager(flood_stack, timings):
    stack = flood_stack
    bound = timings.scrape_interval + 2 * timings.evaluation_interval + timings.for_(ALERT)
    remaining = stack.fault_at + patience(bound) - time.time()

    def firing():
        return [a for a in stack.prometheus.alerts() if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]

    wait_until(firing, max(remaining, 30), interval=2, what=f"{ALERT} firing")
    print(f"{ALERT} fired {time.time() - stack.fault_at:.0f}s after the flood began (its for: {timings.for_(ALERT):.0f}s)")
    received = wait_until(
        lambda: [a for a in stack.alertmanager.alerts() if a["labels"]["alertname"] == ALERT],
        patience(timings.evaluation_interval),
        what=f"{ALERT} in Alertmanager",
    )
    assert [r["name"] for r in received[0]["receivers"]] == [timings.route(received[0]["labels"]).receiver] == ["ops-email"]
