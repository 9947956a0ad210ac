"""SLO: the API's availability against its objective, the error budget left and how fast it burns.

Burn-rate lines are the multi-window thresholds of alerting.slo, so the graph shows exactly where the
SLOErrorBudgetBurn alerts start.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models, units

from alerting import slo
from dashboards import defaults as d, panels as p, queries as q
from dashboards.datasources import LONG_TERM, PROMETHEUS
from settings import Settings

UID = "ngx-slo"
TITLE = "NGX API SLO"
# Burn rates have no physical unit: "x" reads as "times the sustainable rate".
BURN_UNIT = "suffix:x"
# With grafana.longTermStore: the variable that picks where every panel reads, and the longer view only
# the store keeps (Prometheus's own retention is 30d at most on prod).
STORE_VARIABLE = "store"
QUARTER = "90d"


def availability(settings: Settings) -> p.timeseries.Panel:
    objective = settings.alerting.slo.availability
    return p.timeseries_panel(
        "Availability vs objective",
        f"Share of non-5xx requests over 5m against the {objective:.2%} objective (dashed line).",
        units.PercentUnit,
        [d.prom(q.availability(), "availability")],
        steps=d.good_above(objective),
        min_val=None,
        max_val=1,
    )


def availability_over_window(settings: Settings) -> p.stat.Panel:
    s = settings.alerting.slo
    return p.stat_panel(
        f"Availability ({s.window})",
        f"Availability over the whole {s.window} SLO window; the objective is {s.availability:.2%}.",
        units.PercentUnit,
        [d.prom(q.availability_over_slo_window(settings), "availability")],
        steps=d.good_above(s.availability),
        width=p.THIRD,
    )


def error_budget_remaining(settings: Settings) -> p.gauge.Panel:
    s = settings.alerting.slo
    return p.gauge_panel(
        "Error budget remaining",
        f"Share of the {s.window} error budget ({slo.error_budget(settings):.2%} of requests) not yet spent; below 0 the SLO is broken for the window.",
        units.PercentUnit,
        [d.prom(q.error_budget_remaining(), "remaining")],
        steps=((None, d.RED), (0, d.ORANGE), (0.25, d.GREEN)),
        min_val=-0.5,
        max_val=1,
        width=p.THIRD,
        height=p.STAT_HEIGHT,
    )


def budget_over_time() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Error budget remaining over time",
        "How the remaining budget evolved; a steep fall is a fast burn.",
        units.PercentUnit,
        [d.prom(q.error_budget_remaining(), "remaining")],
        steps=((None, d.RED), (0, d.ORANGE), (0.25, d.GREEN)),
        min_val=None,
        max_val=1,
        width=p.THIRD,
        height=p.STAT_HEIGHT,
    )


def _burn_steps(settings: Settings) -> tuple[d.Step, ...]:
    rates = sorted({slo.burn_rate(settings, window) for window in slo.BURN_WINDOWS})
    # The slowest alerting burn (a ticket) is orange, the fastest (a page) red.
    return ((None, d.GREEN), (rates[0], d.ORANGE), (rates[-1], d.RED))


def burn_rates(settings: Settings) -> p.timeseries.Panel:
    thresholds = ", ".join(f"{slo.burn_rate(settings, w):g}x over {w.long}" for w in slo.BURN_WINDOWS)
    return p.timeseries_panel(
        "Burn rate per window",
        f"Error ratio per window divided by the error budget (1x = exactly on budget). Alerts: {thresholds}.",
        BURN_UNIT,
        [d.prom(q.burn_rate(settings, window), window) for window in slo.WINDOWS],
        steps=_burn_steps(settings),
        width=p.FULL,
        height=10,
    )


def burn_rates_now(settings: Settings) -> p.bargauge.Panel:
    return p.bargauge_panel(
        "Burn rate now",
        "Current burn rate of every window the SLO alerts read.",
        BURN_UNIT,
        [d.prom(q.burn_rate(settings, window), window, instant=True) for window in slo.WINDOWS],
        steps=_burn_steps(settings),
    )


def errors_by_endpoint() -> p.bargauge.Panel:
    return p.bargauge_panel(
        "Error share by endpoint",
        "The ten endpoints with the highest 5xx share over 5m: where the budget goes.",
        units.PercentUnit,
        [d.prom(q.error_ratio_by_endpoint(), "{{endpoint}}", instant=True)],
        steps=d.bad_above(0.001, 0.01),
        max_val=None,
    )


def availability_over_quarter(settings: Settings) -> p.stat.Panel:
    return p.stat_panel(
        f"Availability ({QUARTER})",
        f"Availability over the last {QUARTER}, from the recorded 5m request and error rates the long-term store keeps; the objective is {settings.alerting.slo.availability:.2%}.",
        units.PercentUnit,
        [d.prom(q.availability_over(QUARTER), "availability")],
        steps=d.good_above(settings.alerting.slo.availability),
        width=p.FULL,
    )


def store_variable() -> dashboard.DatasourceVariable:
    """Where the panels read: the long-term store by default (deduplicated there, and it keeps more than
    the local retention), or the stack's Prometheus."""
    return (
        dashboard.DatasourceVariable(STORE_VARIABLE)
        .label("Store")
        .description("Long-term store (deduplicated, long history) or the stack's own Prometheus (its retention only).")
        .type("prometheus")
        .regex(f"/^({LONG_TERM.name}|{PROMETHEUS.name})$/")
        .current(models.VariableOption(selected=True, text=LONG_TERM.name, value=LONG_TERM.uid))
    )


def _read_from_store_variable(model: dict) -> dict:
    """Every Prometheus panel and target of `model` reads the datasource the variable picks."""
    chosen = {"type": PROMETHEUS.type, "uid": f"${{{STORE_VARIABLE}}}"}
    for panel in model.get("panels") or []:
        if (panel.get("datasource") or {}).get("uid") == PROMETHEUS.uid:
            panel["datasource"] = chosen
        for target in panel.get("targets") or []:
            if (target.get("datasource") or {}).get("uid") == PROMETHEUS.uid:
                target["datasource"] = chosen
    return model


def build(settings: Settings) -> dict:
    s = settings.alerting.slo
    long_term = settings.grafana.long_term_store is not None
    builder = (
        d.new_dashboard(UID, TITLE, f"Availability SLO of the NGX API: {s.availability:.2%} over {s.window}.", settings, "slo")
        .with_row(p.row("Objective"))
        .with_panel(availability_over_window(settings))
        .with_panel(error_budget_remaining(settings))
        .with_panel(budget_over_time())
    )
    if long_term:
        builder = builder.with_variable(store_variable()).with_panel(availability_over_quarter(settings))
    builder = (
        builder.with_panel(availability(settings).span(p.FULL))
        .with_row(p.row("Burn"))
        .with_panel(burn_rates(settings))
        .with_panel(burn_rates_now(settings))
        .with_panel(errors_by_endpoint())
    )
    model = d.finish(builder)
    return _read_from_store_variable(model) if long_term else model
