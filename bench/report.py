"""The benchmark's figures as markdown tables, from its results JSON (pure: no Prometheus, no clock).

`bench.run` prints `tables(results)` after a run; gendocs.py writes the same tables into
docs/performance.md from the run committed beside the charts (docs/images/bench-results.json), so the
page's tables and its charts always come from one run.
"""

from __future__ import annotations

import statistics


def _fmt(value, unit: str = "s", digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.{digits}f}{unit}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def program_markdown(results: dict) -> str:
    """Wall time of `synth.py --stack <stack>`."""
    rows = [[r["stack"], _fmt(r.get("median_s"), digits=2), _fmt(r.get("min_s"), digits=2), _fmt(r.get("max_s"), digits=2)] for r in results["program"]]
    return markdown_table(["stack", "median", "min", "max"], rows)


def latency_markdown(results: dict) -> str:
    """Overhead beyond `for`: fault -> page at the receiver, minus `for`."""
    rows = []
    for r in results["latency"]["results"]:
        rows.append(
            [
                r["config"],
                r["alert"],
                f"{r['scrape_interval_s']:g}s / {r['evaluation_interval_s']:g}s / {r['group_wait_s']:g}s",
                f"{r['for_s']:g}s",
                f"{r['bound_s']:g}s",
                _fmt(r["overhead_median_s"], digits=1),
                _fmt(r["overhead_max_s"], digits=1),
                str(len(r["overhead_s"])) + (f" ({len(r['failed_trials'])} failed)" if r["failed_trials"] else ""),
            ]
        )
    return markdown_table(["config", "alert", "scrape / eval / group_wait", "for", "bound", "overhead median", "overhead max", "trials"], rows)


def dataset_markdown(results: dict) -> str:
    """One line on the TSDB the queries and rules ran on."""
    d = results["queries"]["dataset"]
    return (
        f"{d['series']:,} series, {d['hours']:g}h at {d['step']}s ({d['samples'] / 1e6:.0f}M samples, "
        f"{d['disk_bytes'] / 1e9:.2f} GB on disk); every panel queried over {d['hours']:g}h."
    )


def queries_markdown(results: dict) -> str:
    """Each panel's query time on recorded series against the same panel on raw series."""
    q = results["queries"]
    rows = []
    for p in q["panels"]:
        raw = p.get("raw", {})
        ratio = p.get("ratio_p50")
        timed_out = "timed out" in str(raw.get("error") or "")
        if not p["uses_recordings"]:
            raw_p50, raw_p95, versus = "(raw already)", "", ""
        elif timed_out:
            limit = q["query_timeout_s"]
            raw_p50, raw_p95 = f">{limit:g}s", ""
            versus = f">{limit / p['recorded']['p50_s']:,.0f}x" if p["recorded"]["p50_s"] else "timeout"
        else:
            raw_p50, raw_p95 = _fmt(raw.get("p50_s")), _fmt(raw.get("p95_s"))
            versus = (f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x") if ratio else (raw.get("error") or "")[:30]
        note = "" if p["has_data"] else "no data in the dataset"
        rows.append([p["dashboard"], p["panel"][:40], _fmt(p["recorded"]["p50_s"]), _fmt(p["recorded"]["p95_s"]), raw_p50, raw_p95, versus, note])
    return markdown_table(["dashboard", "panel", "p50", "p95", "raw p50", "raw p95", "raw/rec", "note"], rows)


def _count(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def rules_markdown(results: dict, key: str = "rule_groups") -> str:
    """Each rule group's evaluation time (the sum of its rules) as a share of its interval, and the samples
    its rules read per evaluation (Prometheus' query statistics: the same on any machine)."""
    rows = [
        [
            g["file"],
            g["group"],
            str(g["rules"]),
            f"{g['interval_s']:g}s",
            _count(g.get("samples_touched")),
            _fmt(g["duration_s"]),
            f"{100 * g['share_of_interval']:.2f}%",
        ]
        for g in results["queries"][key]
    ]
    return markdown_table(["file", "group", "rules", "interval", "samples touched", "duration", "share"], rows)


def _ruleset_totals(groups: list[dict]) -> list[str]:
    per_second = sum((g.get("samples_touched") or 0) / g["interval_s"] for g in groups)
    busiest = max(groups, key=lambda g: g["share_of_interval"])
    api = [g for g in groups if g["file"].startswith("ngx-") or g["file"] == "slo.yml"]
    return [
        str(len(groups)),
        str(sum(g["rules"] for g in groups)),
        _count(sum(g.get("samples_touched") or 0 for g in api)),
        _count(per_second),
        f"{100 * sum(g['duration_s'] / g['interval_s'] for g in groups):.2f}%",
        f"{busiest['group']} {100 * busiest['share_of_interval']:.2f}%",
    ]


def rules_compare_markdown(results: dict) -> str:
    """The rule set before (--baseline-ref) and after, on the same TSDB in the same run."""
    q = results["queries"]
    rows = []
    if q.get("rule_groups_before"):
        rows.append([f"before ({q.get('baseline_ref', 'baseline')})", *_ruleset_totals(q["rule_groups_before"])])
    rows.append(["this tree", *_ruleset_totals(q["rule_groups"])])
    headers = [
        "rules",
        "groups",
        "rules",
        "samples per evaluation (application groups)",
        "samples per second (all)",
        "time per interval (all)",
        "busiest group",
    ]
    return markdown_table(headers, rows)


def honesty_markdown(results: dict) -> str:
    """Every recorded series against its rule's expression and against its whole chain on raw series."""

    def shown(value) -> str:
        return f"{value:.1e}" if isinstance(value, float) else ("-" if value is None else str(value))

    rows = [
        [
            h["record"],
            h["group"],
            shown(h["rule"]),
            shown(h["raw"]) + (" (windowed: within 1%)" if h.get("raw_tolerance", 0) > 1e-6 and isinstance(h["raw"], float) else ""),
            "yes" if h["ok"] else "NO",
        ]
        for h in results["queries"].get("recording_honesty", [])
    ]
    return markdown_table(["recorded series", "group", "vs its rule", "vs raw series", "equal"], rows)


def scaling_markdown(results: dict) -> str:
    """Per rule group, samples touched and time at each fleet size, the slopes, and the fleet at 10% of its interval."""
    sc = results["scaling"]
    sizes = [p for p in sc["points"]]
    headers = ["group", "interval", *(f"samples @{p['instances']}" for p in sizes), *(f"time @{p['instances']}" for p in sizes)]
    headers += ["samples / series", "ms per 100k series", f"instances at {100 * sc['alert_share']:g}%"]
    rows = []
    for g in sc["growth"]:
        by_series = dict(zip(g["series"], zip(g["samples_touched"], g["duration_s"], strict=False), strict=False))
        samples = [_count(by_series.get(p["series"], (None, None))[0]) if "queries" in p else "-" for p in sizes]
        times = [_fmt(by_series.get(p["series"], (None, None))[1]) if "queries" in p else "-" for p in sizes]
        per = g["samples_per_series"]
        slope = g["seconds_per_million_series"]
        at = g["instances_at_alert_share"]
        rows.append(
            [
                g["group"],
                f"{g['interval_s']:g}s",
                *samples,
                *times,
                "-" if per is None else f"{per:.2f}",
                "-" if slope is None else f"{slope * 100:,.0f}",  # s per 1M series -> ms per 100k
                "-" if at is None else f"{at:,.0f}",
            ]
        )
    return markdown_table(headers, rows)


def scaling_points_markdown(results: dict) -> str:
    """One row per fleet size: series, the slowest panel, the busiest group, memory, time."""
    rows = []
    for p in results["scaling"]["points"]:
        q = p.get("queries")
        if q is None:
            rows.append([str(p["instances"]), _count(p["series"]), "-", "-", "-", "-", p.get("error", "")])
            continue
        panels = [x for x in q["panels"] if x["recorded"]["p95_s"] is not None]
        slowest = max(panels, key=lambda x: x["recorded"]["p95_s"])
        busiest = max(q["rule_groups"], key=lambda g: g["share_of_interval"])
        rows.append(
            [
                str(p["instances"]),
                _count(p["series"]),
                f"{_fmt(slowest['recorded']['p95_s'])} ({slowest['panel'][:28]})",
                f"{100 * busiest['share_of_interval']:.2f}% ({busiest['group']})",
                f"{p.get('memory_used_bytes', 0) / 2**30:.1f} GiB",
                f"{p.get('seconds', 0):.0f}s",
                p.get("error", ""),
            ]
        )
    return markdown_table(["instances", "series", "slowest panel p95", "busiest group", "memory used", "took", "note"], rows)


def first_to_alert_share(results: dict) -> str:
    """One sentence: which group reaches the alert share first, at what fleet (from the time slope)."""
    sc = results["scaling"]
    known = [g for g in sc["growth"] if g["instances_at_alert_share"] is not None]
    if not known:
        return "No group's evaluation time grew measurably with the fleet."
    first = min(known, key=lambda g: g["instances_at_alert_share"])
    return (
        f"`{first['group']}` reaches {100 * sc['alert_share']:g}% of its {first['interval_s']:g}s interval first, at about "
        f"{first['instances_at_alert_share']:,.0f} API instances ({first['series_at_alert_share'] / 1e6:.1f}M series of this shape)."
    )


def provenance(results: dict, part: str) -> str:
    """Which run a part's figures come from (a merged JSON keeps each invocation in `runs`)."""
    for run in results.get("runs", []):
        if part in run.get("parts", []):
            return f"From the run started {run['started']}: `{run['command']}`." + (f" {run['note']}" if run.get("note") else "")
    if "command" in results:
        return f"From the run started {results.get('started', '?')}: `{results['command']}`."
    return "From an unrecorded run."


def _size(count: float) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def _day_median(trials: list[dict], index: int, method: str, key: str) -> float:
    return statistics.median(trial["days"][index][method][key] for trial in trials)


BACKUP_METHODS = ("tar.gz", "restic")  # today's archives first, as the tables and the chart show them


def backups_dataset_markdown(results: dict) -> str:
    """One line on the TSDB the backups read."""
    b = results["backups"]
    d, last = b["dataset"], b["snapshots"][-1]
    per_day = statistics.median(s["samples_added"] for s in b["snapshots"])
    return (
        f"{d['series']:,} series ({d['instances']} API instances x {d['endpoints']} endpoints) at {d['step']}s, one day "
        f"({per_day / 1e6:.0f}M samples) added before each of {d['days']} daily backups, compacted by Prometheus with the "
        f"block ranges of a {d['retention']} retention; on day {last['day']} the snapshot holds {len(last['blocks'])} blocks, "
        f"{_size(last['bytes'])}; {len(b['trials'])} trials, keep {d['keep']}."
    )


def backups_markdown(results: dict) -> str:
    """Per daily backup: the snapshot's size, then each method's wall time, CPU time (user + system),
    bytes added and storage used in all (medians over trials)."""
    b = results["backups"]
    rows = []
    for index, snapshot in enumerate(b["snapshots"]):
        row = [str(snapshot["day"]), _size(snapshot["bytes"])]
        for method in BACKUP_METHODS:
            row += [
                _fmt(_day_median(b["trials"], index, method, "seconds"), digits=1),
                _fmt(_day_median(b["trials"], index, method, "cpu_seconds"), digits=1),
                _size(_day_median(b["trials"], index, method, "bytes_added")),
                _size(_day_median(b["trials"], index, method, "stored_bytes")),
            ]
        rows.append(row)
    headers = ["day", "snapshot"] + [f"{m} {what}" for m in BACKUP_METHODS for what in ("time", "CPU", "added", "stored")]
    return markdown_table(headers, rows)


def backups_restore_markdown(results: dict) -> str:
    """Restore of the newest backup into an empty directory, checked file for file."""
    b = results["backups"]
    rows = []
    for method in BACKUP_METHODS:
        seconds = [t["restore"][method]["seconds"] for t in b["trials"]]
        rows.append(
            [
                method,
                _fmt(statistics.median(seconds), digits=1),
                _fmt(min(seconds), digits=1),
                _fmt(max(seconds), digits=1),
                _fmt(statistics.median(t["restore"][method]["cpu_seconds"] for t in b["trials"]), digits=1),
                _size(b["trials"][0]["restore"][method]["restored_bytes"]),
                "yes" if all(t["restore"][method]["identical"] for t in b["trials"]) else "NO",
            ]
        )
    return markdown_table(["method", "median", "min", "max", "CPU", "restored", "identical (sha256 of every file)"], rows)


def backups_tables(results: dict) -> str:
    return "\n".join(
        [
            f"Daily backups: {backups_dataset_markdown(results)} Medians over trials\n",
            backups_markdown(results),
            "\nRestore of the newest backup\n",
            backups_restore_markdown(results),
        ]
    )


def tables(results: dict) -> str:
    """Every part the run has, with a caption each (what `bench.run` prints)."""
    out = []
    if "program" in results:
        out += ["Program: wall time of `synth.py --stack <stack>` (median of runs)\n", program_markdown(results)]
    if "latency" in results:
        out += ["\nAlert latency: overhead beyond `for` (fault -> page at the receiver, minus `for`)\n", latency_markdown(results)]
    if "queries" in results:
        out += [f"\nDashboard query cost: {dataset_markdown(results)} Recorded series vs the same panel on raw series\n", queries_markdown(results)]
        out += ["\nRule evaluation on that TSDB: duration per group (sum of its rules) as a share of its interval\n", rules_markdown(results)]
        if results["queries"].get("rule_groups_before"):
            out += ["\nThe baseline's rule groups on the same TSDB\n", rules_markdown(results, "rule_groups_before")]
            out += ["\nBefore and after\n", rules_compare_markdown(results)]
        if "recording_honesty" in results["queries"]:
            out += ["\nEvery recorded series against its rule and its raw chain\n", honesty_markdown(results)]
    if "scaling" in results:
        out += [
            "\nFleet sizes\n",
            scaling_points_markdown(results),
            "\nGrowth per rule group\n",
            scaling_markdown(results),
            "\n" + first_to_alert_share(results),
        ]
    if "backups" in results:
        out += ["\n" + backups_tables(results)]
    return "\n".join(out)
