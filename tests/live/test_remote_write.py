"""Scenario 6: remote write to a real second Prometheus (tests/live/remote_receiver.py).

The stack (fixture remote_write_stack) is livetest with one store (tests/live/deployment.py,
REMOTE_WRITE_CONFIG): TLS with the stack's CA, basic auth from the password file the program mounts.
What the stack stores arrives in the receiver identically (same series with the rendered external
labels added, same samples); with the receiver stopped, PrometheusRemoteWriteBehind fires (its
threshold and `for` are livetest's); after the restart it resolves and every sample of the outage,
replayed from the WAL, is in the store. Every wait is derived from the rendered files.
"""

from __future__ import annotations

import re
import time

import pytest

from renderers.prometheus import REPLICA_LABEL
from settings.validators import duration_seconds
from tests.live.clients import PrometheusAPI, wait_until
from tests.live.timings import RenderedTimings, patience

pytestmark = pytest.mark.live

ALERT = "PrometheusRemoteWriteBehind"
SENT = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"


def _timings(stack) -> RenderedTimings:
    return RenderedTimings(stack.deployment.result.files)


def _queue(stack) -> dict:
    return _timings(stack).prometheus["remote_write"][0]["queue_config"]


def _behind_threshold(timings: RenderedTimings) -> float:
    return float(re.search(r">\s*([0-9.]+)\s*$", timings.rule(ALERT)["expr"]).group(1))


def _samples(api: PrometheusAPI, start: float, end: float, extra: dict[str, str]) -> dict[tuple, tuple]:
    """Every raw sample in (start, end], by series (labels plus `extra`): {labels: ((t, value), ...)}."""
    window = f"{max(1, round(end - start))}s"
    found = {}
    for series in api.query(f'{{__name__=~".+"}}[{window}]', end):
        labels = tuple(sorted({**extra, **series["metric"]}.items()))  # a series's own label wins, as in remote write
        found[labels] = tuple((float(t), v) for t, v in series["values"])
    return found


def _sent_up_to(stack, moment: float) -> None:
    """Wait until the store acknowledged samples newer than `moment` by one batch deadline and one
    scrape: then every sample up to `moment` has been sent, whichever shard carried it."""
    timings = _timings(stack)
    margin = duration_seconds(_queue(stack)["batch_send_deadline"]) + timings.scrape_interval
    bound = max(0.0, moment - time.time()) + margin + timings.scrape_interval + duration_seconds(_queue(stack)["max_backoff"])
    wait_until(lambda: (stack.prometheus.value(f"max({SENT})") or 0) >= moment + margin, patience(bound), what=f"store acknowledged past {moment:.0f}")


def _assert_identical(stack, start: float, end: float) -> int:
    # The external labels as rendered (the replica's own name substituted), not a list kept here.
    external = {**_timings(stack).prometheus["global"]["external_labels"], REPLICA_LABEL: "prometheus-0"}
    local = _samples(stack.prometheus, start, end, external)
    stored = _samples(stack.remote_receiver.api, start, end, {})
    jobs = {dict(labels).get("job") for labels in local}
    assert {"ngx-api", "node", "prometheus", "alertmanager"} <= jobs, f"the window lacks scraped jobs: {sorted(filter(None, jobs))}"
    missing = sorted(set(local) - set(stored))[:3]
    extra = sorted(set(stored) - set(local))[:3]
    assert not missing and not extra, f"series differ: missing in the store {missing}, only in the store {extra}"
    different = [labels for labels in local if local[labels] != stored[labels]][:3]
    assert not different, f"samples differ for {different}: {[(local[d], stored[d]) for d in different]}"
    return sum(len(values) for values in local.values())


def _firing(stack) -> list[dict]:
    return stack.prometheus.query(f'ALERTS{{alertname="{ALERT}",alertstate="firing"}}')


def test_the_store_holds_what_the_stack_stores_identically(remote_write_stack):
    stack = remote_write_stack
    # Ten seconds from the first scrape of the API on (earlier, discovery had not handed every target
    # to its scraper yet), so the window holds every job that runs.
    start = stack.fault_at
    end = start + 10
    _sent_up_to(stack, end)
    count = _assert_identical(stack, start, end)
    sent = stack.prometheus.value("sum(prometheus_remote_storage_samples_total)")
    sent_bytes = stack.prometheus.value("sum(prometheus_remote_storage_bytes_total)")
    # The figure settings/capacity.py uses for remote-write bandwidth (REMOTE_WRITE_BYTES_PER_SAMPLE).
    print(f"{count} samples identical in the store; {sent_bytes / sent:.1f} bytes per sample sent (compressed, {sent:.0f} samples)")
    assert not _firing(stack), "the lag alert fires while the store keeps up"


def test_a_stopped_store_fires_the_lag_alert_loses_nothing_and_resolves(remote_write_stack):
    stack = remote_write_stack
    timings = _timings(stack)
    receiver = stack.remote_receiver
    _sent_up_to(stack, time.time() - 1)
    assert not _firing(stack)

    receiver.stop()
    stopped = time.time()
    # The lag grows a second a second from the last acknowledged sample; then `for`, a scrape of the
    # gauges and the evaluations that see them.
    bound = _behind_threshold(timings) + timings.for_(ALERT) + timings.scrape_interval + 2 * timings.evaluation_interval
    alerts = wait_until(lambda: _firing(stack), patience(bound), what=f"{ALERT} firing")
    fired = time.time()
    assert {a["metric"]["remote_name"] for a in alerts} == {"receiver"}
    print(f"{ALERT} fired {fired - stopped:.1f}s after the store stopped (bound {bound:.0f}s)")

    receiver.start()
    restarted = time.time()
    # A shard retries within max_backoff, the backlog goes out at once, then a scrape and an evaluation.
    queue = _queue(stack)
    resolve = (
        duration_seconds(queue["max_backoff"]) + duration_seconds(queue["batch_send_deadline"]) + timings.scrape_interval + 2 * timings.evaluation_interval
    )
    wait_until(lambda: not _firing(stack), patience(resolve), what=f"{ALERT} resolved")
    print(f"{ALERT} resolved {time.time() - restarted:.1f}s after the store came back (down {restarted - stopped:.1f}s)")

    end = restarted + timings.scrape_interval
    _sent_up_to(stack, end)
    count = _assert_identical(stack, stopped - 5, end)
    print(f"{count} samples of the outage and around it identical in the store")
