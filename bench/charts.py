"""Charts of a benchmark run: PNG files drawn from the results JSON that bench/run.py writes.

    venv/bin/python -m bench.charts bench/results/latest.json [--out-dir DIR]

bench/run.py calls `write` itself, so the charts land next to its JSON; run this alone to redraw them
from an existing JSON. One chart per figure the run has to compare:
- bench-alert-overhead.png: seconds beyond each alert's `for`, each configuration's median and trials,
  against the configuration's bound (scrape + evaluation interval + group_wait);
- bench-panel-queries.png: every dashboard panel's query time (p50), recorded series vs raw, log scale;
- bench-rule-groups.png: every rule group's evaluation time as a share of its interval;
- bench-cost-growth.png: per rule group, samples touched and time against series, at each fleet size;
- bench-backups.png: storage and time of daily backups, tar.gz against restic (bench/backup_charts.py).

`render` is a pure function of the results: the same JSON gives byte-identical PNGs (matplotlib's
defaults rather than any local matplotlibrc, its bundled DejaVu Sans, fixed sizes and dpi, and no
Software tag in the file; PNGs from matplotlib carry no timestamp), so committed images change only
when the figures do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from bench import backup_charts
from bench.chart_parts import BOUND, CONFIG_COLOURS, MUTED, RAW, RECORDED, STYLE, ChartError, field, part_rows, png_bytes, seconds_label

ALERT_OVERHEAD = "bench-alert-overhead.png"
PANEL_QUERIES = "bench-panel-queries.png"
RULE_GROUPS = "bench-rule-groups.png"
COST_GROWTH = "bench-cost-growth.png"
# --- alert overhead --------------------------------------------------------------------------------------


def alert_overhead(latency_rows: list[Mapping[str, Any]]) -> Figure:
    rows = []
    for number, row in enumerate(latency_rows):
        where = f"latency.results[{number}]"
        rows.append({key: field(row, key, where) for key in ("config", "alert", "for_s", "bound_s", "overhead_s", "overhead_median_s", "failed_trials")})
    configs = list(dict.fromkeys(r["config"] for r in rows))
    alerts = list(dict.fromkeys(r["alert"] for r in rows))
    width = 0.8 / len(configs)
    figure = Figure(figsize=(8, 4.2))
    axes = figure.add_subplot()
    top = 0.0
    for c, config in enumerate(configs):
        colour = CONFIG_COLOURS[c % len(CONFIG_COLOURS)]
        for a, alert in enumerate(alerts):
            row = next((r for r in rows if r["config"] == config and r["alert"] == alert), None)
            if row is None:
                continue
            x = a - 0.4 + width * (c + 0.5)
            median = row["overhead_median_s"]
            if median is not None:
                axes.bar(x, median, width * 0.85, color=colour, alpha=0.85, label=config if a == 0 else None)
                axes.text(x, 0, f"median\n{seconds_label(median)}", ha="center", va="bottom", color="white", fontweight="bold")
            else:
                axes.text(x, 1, f"no page\n({len(row['failed_trials'])} failed)", ha="center", va="bottom", color=colour)
            axes.scatter([x] * len(row["overhead_s"]), row["overhead_s"], s=14, color=BOUND, zorder=3, label="each trial" if (a, c) == (0, 0) else None)
            axes.hlines(
                row["bound_s"],
                x - width * 0.5,
                x + width * 0.5,
                colors=BOUND,
                linestyles="--",
                linewidth=1.4,
                label="bound: scrape + evaluation interval + group_wait" if (a, c) == (0, 0) else None,
            )
            axes.text(x - width * 0.5, row["bound_s"], f" bound {row['bound_s']:g} s", ha="left", va="bottom", fontsize=8)
            top = max(top, row["bound_s"], *row["overhead_s"], median or 0)
    labels = []
    for alert in alerts:
        fors = sorted({r["for_s"] for r in rows if r["alert"] == alert})
        labels.append(f"{alert}\n(for {' / '.join(f'{f:g}' for f in fors)} s)")
    axes.set_xticks(range(len(alerts)), labels)
    axes.set_ylim(0, top * 1.25 + 1)
    axes.set_ylabel("seconds from fault to page, beyond `for`")
    axes.set_title("Alert latency: overhead beyond `for`, per configuration (median bar, trials as dots)")
    axes.legend(loc="upper left", frameon=False, fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


# --- dashboard panels ------------------------------------------------------------------------------------


def _timed_out(timing: Mapping[str, Any]) -> bool:
    return "timed out" in str(timing.get("error") or "").lower() or "timeout" in str(timing.get("error") or "").lower()


def panel_queries(queries: Mapping[str, Any]) -> Figure:
    panels = part_rows({"queries": queries}, "queries", "panels")
    timeout = float(field(queries, "query_timeout_s", "queries"))
    figure = Figure(figsize=(9, 1.4 + 0.36 * len(panels)))
    axes = figure.add_subplot()
    labels, smallest, biggest = [], timeout, timeout
    previous_dashboard = None
    for y, panel in enumerate(panels):
        where = f"queries.panels[{y}]"
        dashboard, title = field(panel, "dashboard", where), field(panel, "panel", where)
        recorded = field(panel, "recorded", where)
        fast = field(recorded, "p50_s", f"{where}.recorded")
        labels.append(f"{dashboard} · {title}" if len(title) <= 42 else f"{dashboard} · {title[:40]}…")
        if previous_dashboard is not None and dashboard != previous_dashboard:
            axes.axhline(y - 0.5, color=MUTED, linewidth=0.5, alpha=0.5)
        previous_dashboard = dashboard
        direct = not field(panel, "uses_recordings", where)
        if fast:
            axes.barh(y if direct else y - 0.18, fast, 0.34, color=MUTED if direct else RECORDED)  # direct: one bar
            smallest = min(smallest, fast)
        else:
            axes.text(timeout, y - 0.18, "error", va="center", fontsize=7, color=RECORDED)
        if direct:
            continue
        raw = field(panel, "raw", where)
        slow = field(raw, "p50_s", f"{where}.raw")
        if slow:
            axes.barh(y + 0.18, slow, 0.34, color=RAW)
            biggest = max(biggest, slow)
            note = f"×{slow / fast:,.0f}" if fast and slow / fast >= 10 else (f"×{slow / fast:.1f}" if fast else "")
            axes.text(slow * 1.25, y + 0.18, f"{seconds_label(slow)}  {note}", va="center", fontsize=7)
        elif _timed_out(raw):
            axes.barh(y + 0.18, timeout, 0.34, color="white", edgecolor=RAW, hatch="///")
            axes.text(timeout * 1.25, y + 0.18, f"> {timeout:g} s: stopped", va="center", fontsize=7)
        else:
            axes.text(smallest, y + 0.18, f"raw: {str(raw.get('error') or 'no timing')[:50]}", va="center", fontsize=7)
    axes.set_xscale("log")
    axes.set_xlim(smallest / 2, biggest * 40)  # room on the right for the labels
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: seconds_label(value)))
    axes.set_yticks(range(len(panels)), labels)
    axes.set_ylim(len(panels) - 0.5, -0.5)  # first panel on top, as in the JSON and the dashboards
    axes.set_xlabel("p50 time of all of a panel's queries (log scale)")
    axes.set_title("Dashboard query cost: each panel, recorded vs raw series", pad=40)
    legend = [
        Patch(color=RECORDED, label="on recorded series (as shipped)"),
        Patch(color=RAW, label="the same panel on raw series"),
        Patch(facecolor="white", edgecolor=RAW, hatch="///", label=f"raw: stopped at {timeout:g} s"),
        Patch(color=MUTED, label="no recording to use: reads raw series"),
    ]
    axes.legend(handles=legend, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


# --- rule groups -----------------------------------------------------------------------------------------


def rule_groups(groups: list[Mapping[str, Any]]) -> Figure:
    rows = []
    for number, group in enumerate(groups):
        where = f"queries.rule_groups[{number}]"
        rows.append({key: field(group, key, where) for key in ("file", "group", "rules", "interval_s", "duration_s", "share_of_interval")})
    rows.sort(key=lambda r: -r["share_of_interval"])  # stable: ties keep the JSON's order
    figure = Figure(figsize=(8, 1.3 + 0.34 * len(rows)))
    axes = figure.add_subplot()
    for y, row in enumerate(rows):
        share = 100 * row["share_of_interval"]
        axes.barh(y, share, 0.6, color=RECORDED if share < 50 else RAW)
        label = (
            f"{seconds_label(row['duration_s'])} of {row['interval_s']:g} s ({share:.2f}%)"
            if share >= 0.01
            else f"{seconds_label(row['duration_s'])} of {row['interval_s']:g} s (< 0.01%)"
        )
        inside = share > 60  # a long bar holds its label, clear of the 100% line
        axes.text(share - 1 if inside else share + 1, y, label, va="center", ha="right" if inside else "left", fontsize=8, color="white" if inside else "black")
    axes.axvline(100, color=BOUND, linestyle="--", linewidth=1)
    axes.text(99, len(rows) - 0.4, "100%: the group would miss evaluations", ha="right", va="bottom", fontsize=8)
    axes.set_yticks(range(len(rows)), [f"{r['group']} ({r['file']}, {r['rules']} rules)" for r in rows])
    axes.set_ylim(len(rows) - 0.5 + 0.6, -0.5)
    axes.set_xlim(0, 105)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}%"))
    axes.set_xlabel("evaluation time (sum of the group's rules) as a share of the group's interval")
    axes.set_title("Rule evaluation: each group's time as a share of its interval")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


# --- cost growth ---------------------------------------------------------------------------------------


def cost_growth(scaling: Mapping[str, Any]) -> Figure:
    """Per rule group: samples touched per evaluation and share of the interval against series, with the
    straight line the projection in docs/performance.md comes from."""
    rows = part_rows({"scaling": scaling}, "scaling", "growth")
    share = float(field(scaling, "alert_share", "scaling"))
    per_instance = float(field(scaling, "series_per_instance", "scaling"))
    figure = Figure(figsize=(10, 4.4))
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    # The groups that touch samples at all, busiest first (the others are flat at the floor).
    ranked = sorted(rows, key=lambda r: -max((s or 0) for s in field(r, "samples_touched", "scaling.growth[]")))
    shown = [r for r in ranked if max((s or 0) for s in r["samples_touched"]) > 0][:6]
    projected = [r["series_at_alert_share"] for r in rows if r.get("series_at_alert_share")]
    measured_max = max(max(field(r, "series", "scaling.growth[]")) for r in rows)
    # Up to where the first group meets the line (and no further): the other groups' lines are drawn to there.
    right_end = max(measured_max, min(projected)) * 1.08 if projected else measured_max * 1.08
    for number, row in enumerate(shown):
        colour = CONFIG_COLOURS[number % len(CONFIG_COLOURS)] if number < len(CONFIG_COLOURS) else MUTED
        series = field(row, "series", "scaling.growth[]")
        left.plot(series, [s or 0 for s in row["samples_touched"]], marker="o", color=colour, label=row["group"])
        shares = [100 * d / row["interval_s"] for d in field(row, "duration_s", "scaling.growth[]")]
        right.plot(series, shares, marker="o", color=colour, label=row["group"])
        slope, at = row.get("seconds_per_million_series"), row.get("series_at_alert_share")
        if slope and at is not None and slope > 0:
            per_series = 100 * slope / 1e6 / row["interval_s"]  # share points per series, from the fitted line
            ends = [max(series), min(right_end, at)]
            right.plot(ends, [100 * share + per_series * (x - at) for x in ends], linestyle=":", color=colour)
            if at <= right_end:
                right.annotate(
                    f"{row['group']}: ~{at / per_instance:,.0f} instances",
                    (at, 100 * share),
                    xytext=(-8, 8),
                    textcoords="offset points",
                    ha="right",
                    fontsize=8,
                )
    right.set_xlim(0, right_end)
    right.set_ylim(0, 100 * share * 1.3)
    right.axhline(100 * share, color=BOUND, linestyle="--", linewidth=1)
    right.text(0, 100 * share, f" {100 * share:g}% of the interval: act here", va="top", fontsize=8)
    for axes in (left, right):
        axes.set_xlabel(f"series (x {per_instance:,.0f} per API instance)")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:,.0f}k"))
        axes.grid(alpha=0.3)
    left.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1e6:g}M" if value >= 1e6 else f"{value / 1000:g}k"))
    left.set_ylabel("samples touched per evaluation")
    right.set_ylabel("evaluation time, % of the group's interval")
    left.set_title("Samples read per evaluation (machine-independent)")
    right.set_title("Time per evaluation; dotted: the measured slope")
    left.legend(loc="upper left", frameon=False, fontsize=8)
    figure.tight_layout()
    return figure


# --- the files ----------------------------------------------------------------------------------------


def render(results: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes by file name, for each part of the run present in `results` (none: an empty dict)."""
    charts: dict[str, bytes] = {}
    with matplotlib.rc_context(STYLE):
        if "latency" in results:
            charts[ALERT_OVERHEAD] = png_bytes(alert_overhead(part_rows(results, "latency", "results")))
        if "queries" in results:
            charts[PANEL_QUERIES] = png_bytes(panel_queries(results["queries"]))
            charts[RULE_GROUPS] = png_bytes(rule_groups(part_rows(results, "queries", "rule_groups")))
        if "scaling" in results:
            charts[COST_GROWTH] = png_bytes(cost_growth(results["scaling"]))
        if "backups" in results:
            charts[backup_charts.BACKUPS] = png_bytes(backup_charts.backups(results["backups"]))
    return charts


def write(results: Mapping[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render(results).items():
        (directory / name).write_bytes(data)
        written.append(directory / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results JSON from bench/run.py (bench/results/latest.json)")
    parser.add_argument("--out-dir", type=Path, help="where the PNGs go (default: next to the JSON)")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        written = write(results, args.out_dir or args.results.parent)
    except (OSError, json.JSONDecodeError, ChartError) as error:
        parser.exit(2, f"{args.results}: {error}\n")
    if not written:
        parser.exit(
            2,
            f"{args.results}: no 'latency', 'queries' or 'backups' part, nothing to chart; run `venv/bin/python bench/run.py --parts latency,queries,backups`\n",
        )
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
