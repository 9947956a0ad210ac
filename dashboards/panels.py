"""One constructor per panel type, shared by every NGX dashboard, and the panel sizes of the grid.

Every panel constructor takes a unit (Grafana unit id, see grafana_foundation_sdk.models.units) and
sets the panel's datasource by the fixed UIDs of dashboards.datasources; a test checks both on every
panel of every dashboard. Thresholds, queries, variables and the dashboard shell are in
dashboards.defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import (
    alertgroups,
    bargauge,
    common,
    dashboard,
    gauge,
    heatmap,
    logs,
    loki as loki_builders,
    piechart,
    prometheus as prometheus_builders,
    stat,
    timeseries,
)
from grafana_foundation_sdk.models import common as common_models, dashboard as models, heatmap as heatmap_models, piechart as piechart_models

from dashboards.datasources import ALERTMANAGER, LOKI, PROMETHEUS, Datasource
from dashboards.defaults import Step, neutral, thresholds

# Panel sizes on Grafana's 24-column grid.
FULL, HALF, THIRD, QUARTER, SIXTH = 24, 12, 8, 6, 4
GRAPH_HEIGHT, STAT_HEIGHT, LOGS_HEIGHT = 8, 5, 12
# Recorded series are written every evaluation interval; drawing them at a finer step adds nothing.
MIN_INTERVAL = "30s"


def _framed(panel, title: str, description: str, unit: str, width: int, height: int, interval: str | None = MIN_INTERVAL):
    """What every panel states, whatever its kind: title, description, unit, place in the grid and
    (for Prometheus panels) the minimum step."""
    panel = panel.title(title).description(description).unit(unit).span(width).height(height)
    return panel.interval(interval) if interval else panel


def _targets(panel, queries: Sequence, datasource: Datasource):
    panel = panel.datasource(datasource.ref())
    for index, query in enumerate(queries):
        panel = panel.with_target(query.ref_id(chr(ord("A") + index)))
    return panel


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[prometheus_builders.Dataquery],
    *,
    steps: Iterable[Step] = (),
    width: int = HALF,
    height: int = GRAPH_HEIGHT,
    min_val: float | None = 0,
    max_val: float | None = None,
    stacked: bool = False,
) -> timeseries.Panel:
    """A graph; threshold steps (if any) are drawn as dashed lines so a limit is visible next to the data."""
    steps = tuple(steps)
    panel = (
        _framed(timeseries.Panel(), title, description, unit, width, height)
        .fill_opacity(10)
        .line_width(1)
        .show_points(common_models.VisibilityMode.NEVER)
        .legend(
            common.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI).sort(common_models.SortOrder.DESCENDING))
        .thresholds(thresholds(*(steps or neutral())))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(common_models.GraphTresholdsStyleMode.DASHED if steps else common_models.GraphTresholdsStyleMode.OFF)
        )
    )
    if min_val is not None:
        panel = panel.min(min_val)
    if max_val is not None:
        panel = panel.max(max_val)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL)).fill_opacity(40)
    return _targets(panel, queries, PROMETHEUS)


def stat_panel(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[prometheus_builders.Dataquery],
    *,
    steps: Iterable[Step] = (),
    width: int = QUARTER,
    height: int = STAT_HEIGHT,
    mappings: list[models.ValueMapping] | None = None,
    graph: bool = True,
) -> stat.Panel:
    """One big number per series (the last value), coloured by its thresholds."""
    panel = (
        _framed(stat.Panel(), title, description, unit, width, height)
        .thresholds(thresholds(*(tuple(steps) or neutral())))
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.AREA if graph else common_models.BigValueGraphMode.NONE)
        .text_mode(common_models.BigValueTextMode.AUTO)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if mappings:
        panel = panel.mappings(mappings)
    return _targets(panel, queries, PROMETHEUS)


def gauge_panel(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[prometheus_builders.Dataquery],
    *,
    steps: Iterable[Step],
    min_val: float,
    max_val: float,
    width: int = QUARTER,
    height: int = STAT_HEIGHT * 2,
) -> gauge.Panel:
    """A dial between fixed bounds, with its thresholds marked on the rim."""
    panel = (
        gauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(width)
        .height(height)
        .min(min_val)
        .max(max_val)
        .interval(MIN_INTERVAL)
        .thresholds(thresholds(*steps))
        .show_threshold_markers(True)
        .show_threshold_labels(False)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    return _targets(panel, queries, PROMETHEUS)


def bargauge_panel(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[prometheus_builders.Dataquery],
    *,
    steps: Iterable[Step] = (),
    min_val: float | None = 0,
    max_val: float | None = None,
    width: int = HALF,
    height: int = GRAPH_HEIGHT,
) -> bargauge.Panel:
    """One horizontal bar per series: compares current values across labels (jobs, windows, tiers)."""
    panel = (
        _framed(bargauge.Panel(), title, description, unit, width, height)
        .thresholds(thresholds(*(tuple(steps) or neutral())))
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if min_val is not None:
        panel = panel.min(min_val)
    if max_val is not None:
        panel = panel.max(max_val)
    return _targets(panel, queries, PROMETHEUS)


def piechart_panel(
    title: str, description: str, unit: str, queries: Sequence[prometheus_builders.Dataquery], *, width: int = THIRD, height: int = GRAPH_HEIGHT
) -> piechart.Panel:
    """Shares of a whole, labelled with their percentage."""
    panel = (
        _framed(piechart.Panel(), title, description, unit, width, height)
        .pie_type(piechart_models.PieChartType.DONUT)
        .display_labels([piechart_models.PieChartLabels.PERCENT])
        .legend(
            piechart.PieChartLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.RIGHT)
            .show_legend(True)
            .values([piechart_models.PieChartLegendValues.PERCENT])
        )
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .hide_from(_shown())
    )
    return _targets(panel, queries, PROMETHEUS)


def heatmap_panel(
    title: str, description: str, unit: str, queries: Sequence[prometheus_builders.Dataquery], *, width: int = HALF, height: int = GRAPH_HEIGHT
) -> heatmap.Panel:
    """A distribution over time from pre-aggregated histogram buckets (queries use heatmap format)."""
    panel = (
        _framed(heatmap.Panel(), title, description, unit, width, height)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit(unit))
        .color(heatmap.HeatmapColorOptions().mode(heatmap_models.HeatmapColorMode.SCHEME).scheme("Oranges").steps(64))
        .cell_values(heatmap.CellValues().unit("ops"))
        .show_tooltip()
        .show_legend()
        .hide_from(_shown())
    )
    return _targets(panel, queries, PROMETHEUS)


def logs_panel(title: str, description: str, queries: Sequence[loki_builders.Dataquery], *, width: int = FULL, height: int = LOGS_HEIGHT) -> logs.Panel:
    """Log lines, newest first, with their parsed fields one click away."""
    # A logs panel draws no values; the unit is set anyway so every panel states what it shows.
    panel = (
        _framed(logs.Panel(), title, description, "none", width, height, interval=None)
        .show_time(True)
        .show_labels(False)
        .show_common_labels(False)
        .wrap_log_message(True)
        .prettify_log_message(False)
        .enable_log_details(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
        .dedup_strategy(common_models.LogsDedupStrategy.NONE)
    )
    return _targets(panel, queries, LOKI)


def alert_groups_panel(title: str, description: str, *, labels: str = "", width: int = HALF, height: int = GRAPH_HEIGHT) -> alertgroups.Panel:
    """Alerts currently held by the stack's Alertmanager, grouped as it notifies them."""
    return (
        _framed(alertgroups.Panel(), title, description, "none", width, height, interval=None)
        # The panel names its Alertmanager by datasource *name* (Grafana's alerting source name).
        .datasource(ALERTMANAGER.ref())
        .alertmanager(ALERTMANAGER.name)
        .labels(labels)
        .expand_all(False)
    )


def _shown() -> common.HideSeriesConfig:
    """Series visible in legend, tooltip and graph (stated, so the JSON has no empty `custom`)."""
    return common.HideSeriesConfig().legend(False).tooltip(False).viz(False)


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)
