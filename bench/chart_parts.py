"""What every benchmark chart shares: style, colours, the results-JSON accessors with their errors,
and the PNG writer (bench/charts.py draws the run's charts, bench/backup_charts.py the backups')."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120
# Matplotlib's defaults (not the machine's matplotlibrc) plus the few settings these charts fix.
STYLE = {
    **matplotlib.rcParamsDefault,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}
RECORDED, RAW, BOUND, MUTED = "#1f77b4", "#ff7f0e", "#222222", "#777777"
CONFIG_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")  # per configuration, in the JSON's order


class ChartError(ValueError):
    """The results JSON lacks something a chart needs (an older or hand-edited file)."""


# Where each part comes from, for the error message: the module that writes it and how to redo it.
_PRODUCERS = {"latency": "bench/latency.py", "queries": "bench/tsdb.py", "scaling": "bench/scaling.py", "backups": "bench/backups.py"}


def field(container: Mapping[str, Any], key: str, where: str) -> Any:
    """container[key], or a ChartError naming the path in the JSON and how to get a complete one."""
    if not isinstance(container, Mapping) or key not in container:
        part = where.split(".", 1)[0].split("[", 1)[0]
        raise ChartError(
            f"results JSON: {where} has no '{key}' (written by {_PRODUCERS.get(part, 'bench/run.py')}); "
            f"re-run `venv/bin/python bench/run.py --parts {part}` to get a complete file"
        )
    return container[key]


def part_rows(results: Mapping[str, Any], part: str, key: str) -> list[Mapping[str, Any]]:
    rows = field(field(results, part, "the top level"), key, part)
    if not isinstance(rows, list) or not rows:
        raise ChartError(f"results JSON: {part}.{key} is empty; re-run `venv/bin/python bench/run.py --parts {part}`")
    return rows


def seconds_label(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.1f}".removesuffix(".0") + " s"
    return f"{value * 1000:.0f} ms" if value >= 0.001 else f"{value * 1000:.2g} ms"


def png_bytes(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # No Software tag: the file then depends on the figures only, not on the matplotlib build.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
