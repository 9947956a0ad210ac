"""The targets table says met or not from the figures, so the performance page cannot claim a target by hand."""

from __future__ import annotations

from bench.targets import rows


def _results(api_down: float, errors: float, anchor: float, share: float, p95: float) -> dict:
    latency = [
        {"config": "dev", "alert": "APIDown", "overhead_median_s": api_down},
        {"config": "dev", "alert": "HighErrorRate", "overhead_median_s": errors},
        {"config": "kube-prometheus-stack", "alert": "HighErrorRate", "overhead_median_s": anchor},
    ]
    groups = [
        {"group": "quiet", "interval_s": 15, "share_of_interval": 0.001},
        {"group": "busy", "interval_s": 30, "share_of_interval": share},
    ]
    panels = [{"panel": "fast", "recorded": {"p95_s": 0.001}}, {"panel": "slow", "recorded": {"p95_s": p95}}, {"panel": "none", "recorded": {"p95_s": None}}]
    return {"latency": {"results": latency}, "queries": {"rule_groups": groups, "panels": panels}}


def test_every_target_met():
    table = rows(_results(api_down=15.0, errors=25.0, anchor=90.0, share=0.011, p95=0.012))
    assert [row[3] for row in table] == ["yes"] * 5
    assert table[2][2] == "0.28x (25.0s / 90.0s)"
    assert table[3][2] == "1.10% (busy, 30s)"
    assert table[4][2] == "12 ms (slow)"


def test_each_target_missed_says_so():
    table = rows(_results(api_down=25.1, errors=35.1, anchor=100.0, share=0.0201, p95=0.051))
    assert [row[3] for row in table] == ["**no**"] * 5
