"""Shared defaults of every NGX dashboard: the dashboard shell, thresholds, variables and queries, so
each dashboard module only says what its panels show. The panel constructors are in dashboards.panels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard, loki as loki_builders, prometheus as prometheus_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models, loki as loki_models, prometheus as prometheus_models

from dashboards.datasources import LOKI, PROMETHEUS
from settings import Settings

# Every NGX dashboard carries this tag; the dashboards' link menu lists dashboards by it.
TAG = "ngx"
# Grafana-native annotations (the deploy markers a later issue posts) live in Grafana's own store.
GRAFANA_ANNOTATIONS = models.DataSourceRef(type_val="grafana", uid="-- Grafana --")
DEPLOY_TAG = "deploy"

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"
Step = tuple[float | None, str]  # (lower bound or None for the base step, colour)


# ---- queries ---------------------------------------------------------------------------------------


def prom(expr: str, legend: str = "__auto", *, instant: bool = False, heatmap_buckets: bool = False) -> prometheus_builders.Dataquery:
    """A PromQL target on the stack's Prometheus."""
    query = prometheus_builders.Dataquery().expr(expr).legend_format(legend).datasource(PROMETHEUS.ref()).editor_mode(prometheus_models.QueryEditorMode.CODE)
    if heatmap_buckets:
        query = query.format(prometheus_models.PromQueryFormat.HEATMAP)
    return query.instant() if instant else query.range()


def logql(expr: str, max_lines: int = 200) -> loki_builders.Dataquery:
    """A LogQL log query on the stack's Loki (newest lines first)."""
    return (
        loki_builders.Dataquery()
        .expr(expr)
        .max_lines(max_lines)
        .datasource(LOKI.ref())
        .query_type("range")
        .direction(loki_models.LokiQueryDirection.BACKWARD)
        .editor_mode(loki_models.QueryEditorMode.CODE)
    )


# ---- thresholds and mappings --------------------------------------------------------------------------


def thresholds(*steps: Step) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps([models.Threshold(value=value, color=colour) for value, colour in steps])


def neutral() -> tuple[Step, ...]:
    """No value is good or bad (throughput, counts)."""
    return ((None, BLUE),)


def good_above(minimum: float) -> tuple[Step, ...]:
    """Red below `minimum`, green from it (ratios that must stay high)."""
    return ((None, RED), (minimum, GREEN))


def bad_above(warning: float, critical: float | None = None) -> tuple[Step, ...]:
    """Green, orange from `warning`, red from `critical` (latencies, error shares, usage)."""
    steps: tuple[Step, ...] = ((None, GREEN), (warning, ORANGE))
    return steps + (((critical, RED),) if critical is not None else ())


def up_down_mappings() -> list[models.ValueMapping]:
    """1/0 of `up`-like gauges as words; no sample at all reads as DOWN, never as an empty box."""
    return [
        models.ValueMap(
            options={
                "0": models.ValueMappingResult(text="DOWN", color=RED, index=0),
                "1": models.ValueMappingResult(text="UP", color=GREEN, index=1),
            }
        ),
        models.SpecialValueMap(
            options=models.DashboardSpecialValueMapOptions(
                match=models.SpecialValueMatch.NULL_AND_NAN, result=models.ValueMappingResult(text="DOWN (no data)", color=RED, index=2)
            )
        ),
    ]


# ---- variables ---------------------------------------------------------------------------------------


def environment_variable(settings: Settings) -> dashboard.ConstantVariable:
    """`env` of the stack. One Grafana serves one environment, and Prometheus adds `env` only as an
    external label (to alerts and remote reads), so it is a constant: LogQL selects on it (Loki streams
    carry it) and titles show it."""
    return dashboard.ConstantVariable("env").label("Environment").value(settings.environment)


def query_variable(name: str, label: str, query: str, *, description: str) -> dashboard.QueryVariable:
    """A multi-value filter filled from Prometheus label values; "All" means the regex `.*`."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .description(description)
        .query(query)
        .datasource(PROMETHEUS.ref())
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def custom_variable(name: str, label: str, values: Sequence[str], *, description: str) -> dashboard.CustomVariable:
    """A multi-value filter over a fixed list (e.g. the catalog's tiers); "All" means `.*`."""
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .description(description)
        .values(",".join(values))
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
        .options([models.VariableOption(selected=False, text=value, value=value) for value in values])
    )


# ---- dashboard ---------------------------------------------------------------------------------------


def deploy_annotation() -> dashboard.AnnotationQuery:
    """Markers for deploys: Grafana annotations tagged `deploy` (posted by the deploy pipeline)."""
    return (
        dashboard.AnnotationQuery()
        .name("Deploys")
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .hide(False)
        .icon_color("#8F3BB8")
        .target(dashboard.AnnotationTarget().type("tags").tags([DEPLOY_TAG]).limit(100).match_any(False))
    )


def new_dashboard(uid: str, title: str, description: str, settings: Settings, *tags: str) -> dashboard.Dashboard:
    """The shell every NGX dashboard shares: stable UID, tags, time range, refresh, crosshair, links.

    Dashboards are read-only in Grafana: they are code, and a change saved in the UI would be
    overwritten by the next deploy. "Save as" still lets anyone experiment on a copy.
    """
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(sorted({TAG, *tags}))
        .readonly()
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .timepicker(dashboard.TimePicker().refresh_intervals(["30s", "1m", "5m", "15m", "1h"]))
        .link(
            dashboard.DashboardLink("NGX dashboards")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
            .target_blank(False)
        )
        .with_variable(environment_variable(settings))
    )


def finish(builder: dashboard.Dashboard) -> dict:
    """The dashboard JSON model, with panel ids numbered in layout order (stable across renders)."""
    model = builder.build()
    next_id = 1
    for panel in model.panels or []:
        panel.id_val = next_id
        next_id += 1
        for nested in getattr(panel, "panels", None) or []:  # panels inside a collapsed row
            nested.id_val = next_id
            next_id += 1
    return json.loads(JSONEncoder(sort_keys=True).encode(model))
