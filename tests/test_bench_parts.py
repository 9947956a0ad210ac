"""The benchmark's judgements, without a Prometheus: a recording that differs from its raw expression is
flagged, a fleet size that would not fit in memory is skipped, and the growth line is the least-squares
one. Each of these decides what docs/performance.md claims, so each must be able to say no.
"""

from __future__ import annotations

import pytest

from bench import honesty, memory_guard, scaling
from bench.promql import Recording

RULES = {
    "job:x:rate5m": [Recording("job:x:rate5m", 'sum by (job) (job_endpoint:x:rate5m{status=~"5.."})', {}, "15s", "g")],
    "job_endpoint:x:rate5m": [Recording("job_endpoint:x:rate5m", "sum by (job, endpoint, status) (rate(ngx_api_requests_total[5m]))", {}, "15s", "g")],
}


class Answers:
    """Answers instant queries from a table: expression text -> value of the one series {job="api"}."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def query(self, expr: str, at=None, **_):
        if expr.startswith("max(timestamp("):
            return 0.0, {"result": [{"metric": {}, "value": [at, str(at - 7)]}]}
        value = next((v for key, v in self.values.items() if key in expr), 1.0)
        return 0.0, {"result": [{"metric": {"job": "api"}, "value": [at, str(value)]}]}


def test_a_recording_that_differs_from_its_raw_chain_is_flagged_and_an_equal_one_is_not():
    # The raw chain of job:x:rate5m reads ngx_api_requests_total directly: make it answer 2 where the recording answers 1.
    wrong = honesty.check_recordings(Answers({"rate(ngx_api_requests_total": 2.0}), RULES, start=0, end=7200, log=lambda m: None)
    by_name = {entry["record"]: entry for entry in wrong}
    assert by_name["job:x:rate5m"]["raw"] == pytest.approx(0.5) and not by_name["job:x:rate5m"]["ok"]
    assert by_name["job:x:rate5m"]["at"] == 7200 - 60 - 7  # the recorded sample's own time
    right = honesty.check_recordings(Answers({}), RULES, start=0, end=7200, log=lambda m: None)
    assert all(entry["ok"] for entry in right)


def test_a_fleet_size_that_would_not_fit_is_skipped(monkeypatch):
    monkeypatch.setattr(memory_guard, "available_bytes", lambda: 8 * memory_guard.GIB)
    floor = 3 * memory_guard.GIB
    assert memory_guard.enough_for(300_000, [], floor) is None  # nothing measured yet: try
    assert memory_guard.enough_for(300_000, [(100_000, memory_guard.GIB)], floor) is None  # 3 GiB of 8, floor 3
    refused = memory_guard.enough_for(300_000, [(100_000, 2 * memory_guard.GIB)], floor)
    assert refused and refused.startswith("skipped: about 6.0 GiB needed")


def test_the_growth_line_is_least_squares_and_the_projection_meets_the_share():
    assert scaling._fit([(1, 3.0), (2, 5.0), (3, 7.0)]) == pytest.approx((1.0, 2.0))
    assert scaling._fit([(5, 1.0), (5, 2.0)]) is None
    group = {"file": "f.yml", "group": "g", "rules": 1, "interval_s": 15.0, "samples_touched": 0}
    points = [{"series": s, "queries": {"rule_groups": [{**group, "duration_s": d, "samples_touched": 10 * s}]}} for s, d in ((1000, 0.1), (3000, 0.3))]
    [row] = scaling.growth(points, series_per_instance=1000)
    assert row["samples_per_series"] == pytest.approx(10)
    assert row["series_at_alert_share"] == pytest.approx(15_000)  # 0.1 s per 1000 series reaches 1.5 s at 15k
    assert row["instances_at_alert_share"] == pytest.approx(15)


def test_a_windowed_chain_may_differ_by_the_subquery_phase_but_no_more():
    """A window over a recording becomes a subquery on raw series (steps on the clock's grid): within 1% passes, 5% does not."""
    rules = {
        **RULES,
        "job:x:rate1h": [Recording("job:x:rate1h", "avg_over_time(job:x:rate5m[1h])", {}, "15s", "g")],
    }
    for raw_value, ok in ((1.005, True), (1.05, False)):
        entries = honesty.check_recordings(Answers({"[1h:15s]": raw_value}), rules, start=0, end=7200, log=lambda m: None)
        [windowed] = [entry for entry in entries if entry["record"] == "job:x:rate1h"]
        assert windowed["raw_tolerance"] == honesty.SUBQUERY_TOLERANCE and windowed["ok"] is ok, windowed
