"""The performance targets, checked against a run's figures (pure: from the results JSON).

The goals are issue 18's, for the dev defaults with kube-prometheus-stack's defaults as the anchor in
the same run. docs/performance.md shows this table from the published run (gendocs.py), so whether a
target is met is computed, never typed by hand.
"""

from __future__ import annotations

from bench.report import markdown_table

API_DOWN_MAX_S = 25.0  # APIDown: page overhead beyond `for`, median
HIGH_ERROR_RATE_MAX_S = 35.0  # HighErrorRate: the same
HIGH_ERROR_RATE_ANCHOR_SHARE = 0.3  # ... and at most this share of the anchor's
RULE_GROUP_MAX_SHARE = 0.02  # every rule group's evaluation time, as a share of its interval
PANEL_MAX_P95_S = 0.050  # every panel's p95
DEV, ANCHOR = "dev", "kube-prometheus-stack"


def _median(results: dict, config: str, alert: str) -> float | None:
    for row in results["latency"]["results"]:
        if row["config"] == config and row["alert"] == alert:
            return row["overhead_median_s"]
    return None


def _row(target: str, goal: str, measured: str, met: bool | None) -> list[str]:
    return [target, goal, measured, "-" if met is None else ("yes" if met else "**no**")]


def _at_most(target: str, value: float | None, limit: float, unit: str, shown: str | None = None) -> list[str]:
    """A row for `value <= limit`; "-" when the run has no such figure."""
    if value is None:
        return _row(target, f"<= {limit:g}{unit}", "-", None)
    return _row(target, f"<= {limit:g}{unit}", shown or f"{value:.1f}{unit}", value <= limit)


def rows(results: dict) -> list[list[str]]:
    out = []
    if "latency" in results:
        down = _median(results, DEV, "APIDown")
        errors, anchor = _median(results, DEV, "HighErrorRate"), _median(results, ANCHOR, "HighErrorRate")
        share = errors / anchor if errors is not None and anchor else None
        out += [
            _at_most("APIDown page overhead (median)", down, API_DOWN_MAX_S, "s"),
            _at_most("HighErrorRate page overhead (median)", errors, HIGH_ERROR_RATE_MAX_S, "s"),
            _at_most(
                "HighErrorRate against the anchor",
                share,
                HIGH_ERROR_RATE_ANCHOR_SHARE,
                "x",
                f"{share:.2f}x ({errors:.1f}s / {anchor:.1f}s)" if share is not None else None,
            ),
        ]
    if "queries" in results:
        groups = results["queries"]["rule_groups"]
        busiest = max(groups, key=lambda g: g["share_of_interval"])
        out.append(
            _row(
                "Busiest rule group, share of its interval",
                f"<= {100 * RULE_GROUP_MAX_SHARE:g}%",
                f"{100 * busiest['share_of_interval']:.2f}% ({busiest['group']}, {busiest['interval_s']:g}s)",
                busiest["share_of_interval"] <= RULE_GROUP_MAX_SHARE,
            )
        )
        panels = [p for p in results["queries"]["panels"] if p["recorded"].get("p95_s") is not None]
        slowest = max(panels, key=lambda p: p["recorded"]["p95_s"])
        out.append(
            _row(
                "Slowest panel p95",
                f"<= {1000 * PANEL_MAX_P95_S:g} ms",
                f"{1000 * slowest['recorded']['p95_s']:.0f} ms ({slowest['panel']})",
                slowest["recorded"]["p95_s"] <= PANEL_MAX_P95_S,
            )
        )
    return out


def targets_markdown(results: dict) -> str:
    return markdown_table(["target", "goal", "this run", "met"], rows(results))
