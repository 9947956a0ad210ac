"""The backup benchmark's chart (bench/backups.py): drawn from its results JSON by bench/charts.py's
`render`, with the same style and the same byte-determinism (see that module).

bench-backups.png, three panels side by side, today's tar.gz archives against restic:
- what the backups occupy after each daily backup (the sum of the archives kept, the repository);
- each daily backup's time, the median of the trials as a bar and every trial as a dot;
- the restore of the newest backup, the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bench.chart_parts import BOUND, RAW, RECORDED, ChartError, field, seconds_label
from bench.report import BACKUP_METHODS

BACKUPS = "bench-backups.png"
COLOURS = {"tar.gz": RAW, "restic": RECORDED}
LABELS = {"tar.gz": "tar.gz archives (today)", "restic": "restic repository"}


def _size(count: float) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


def _figures(part: Mapping[str, Any]) -> tuple[list[int], dict, dict, dict]:
    """Days; per method: stored bytes per day (median), backup seconds per day (every trial), restore seconds."""
    snapshots = field(part, "snapshots", "backups")
    trials = field(part, "trials", "backups")
    if not trials or not snapshots:
        raise ChartError("results JSON: backups.trials is empty; re-run `venv/bin/python -m bench.backups`")
    days = [field(s, "day", f"backups.snapshots[{n}]") for n, s in enumerate(snapshots)]
    stored, seconds, restore = {}, {}, {}
    for method in BACKUP_METHODS:
        per_trial_stored, per_trial_seconds = [], []
        for t, trial in enumerate(trials):
            rows = field(trial, "days", f"backups.trials[{t}]")
            figures = [
                field(field(row, method, f"backups.trials[{t}].days[{d}]"), key, f"backups.trials[{t}].days[{d}].{method}")
                for d, row in enumerate(rows)
                for key in ("stored_bytes", "seconds")
            ]
            per_trial_stored.append(figures[0::2])
            per_trial_seconds.append(figures[1::2])
        stored[method] = [statistics.median(day) for day in zip(*per_trial_stored, strict=True)]
        seconds[method] = [list(day) for day in zip(*per_trial_seconds, strict=True)]
        restore[method] = [
            field(
                field(field(trial, "restore", f"backups.trials[{t}]"), method, f"backups.trials[{t}].restore"),
                "seconds",
                f"backups.trials[{t}].restore.{method}",
            )
            for t, trial in enumerate(trials)
        ]
    return days, stored, seconds, restore


def backups(part: Mapping[str, Any]) -> Figure:
    days, stored, seconds, restore = _figures(part)
    figure = Figure(figsize=(12, 4))
    storage_axes, time_axes, restore_axes = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1.2, 0.6]})
    width = 0.8 / len(BACKUP_METHODS)

    for method in BACKUP_METHODS:
        storage_axes.plot(days, stored[method], marker="o", color=COLOURS[method], label=LABELS[method])
        storage_axes.annotate(_size(stored[method][-1]), (days[-1], stored[method][-1]), textcoords="offset points", xytext=(-4, 6), ha="right", fontsize=8)
    storage_axes.set_ylim(0, max(max(values) for values in stored.values()) * 1.15)
    storage_axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _size(value)))
    storage_axes.set_title("Storage used after each daily backup")
    storage_axes.legend(loc="upper left", frameon=False, fontsize=8)

    for m, method in enumerate(BACKUP_METHODS):
        xs = [day - 0.4 + width * (m + 0.5) for day in days]
        time_axes.bar(xs, [statistics.median(trials) for trials in seconds[method]], width * 0.9, color=COLOURS[method], alpha=0.85, label=LABELS[method])
        for x, trials in zip(xs, seconds[method], strict=True):
            time_axes.scatter([x] * len(trials), trials, s=10, color=BOUND, zorder=3)
    time_axes.set_title("Time of each daily backup (median, dots: trials)")
    time_axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} s"))

    for m, method in enumerate(BACKUP_METHODS):
        median = statistics.median(restore[method])
        restore_axes.bar(m, median, 0.6, color=COLOURS[method], alpha=0.85)
        restore_axes.scatter([m] * len(restore[method]), restore[method], s=10, color=BOUND, zorder=3)
        restore_axes.text(m, 0, seconds_label(median), ha="center", va="bottom", color="white", fontweight="bold")
    restore_axes.set_xticks(range(len(BACKUP_METHODS)), list(BACKUP_METHODS))
    restore_axes.set_xlim(-0.6, len(BACKUP_METHODS) - 0.4)
    restore_axes.set_title("Restore of the newest")
    restore_axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} s"))

    for axes in (storage_axes, time_axes):
        axes.set_xticks(days, [str(day) for day in days])
        axes.set_xlabel("daily backup (one more day of data each)")
        axes.grid(axis="y", alpha=0.3)
    restore_axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure
