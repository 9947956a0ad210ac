"""The seeds' product panels and the database pool panel, one function per panel: A/B results,
conversion predictions and data drift (ML Performance), ROI and conversation duration (Business),
database connections (Overview). Their dashboards place them (dashboards.ml, .business, .overview).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from alerting.product_recording import AB_WINDOW, Z95
from dashboards import defaults as d, panels as p, product_queries as q
from settings import Settings

_VARIANT = "{{experiment}} / {{variant}}"

# ---- ML Performance ---------------------------------------------------------------------------------


def ab_conversion() -> p.bargauge.Panel:
    return p.bargauge_panel(
        f"A/B conversion per variant ({AB_WINDOW}, 95% interval)",
        f"Share of each variant's exposed conversations that converted over the last {AB_WINDOW}, between the ends of its "
        f"95% interval (p +- {Z95:g} x sqrt(p(1-p)/n)). Two variants whose intervals do not overlap differ significantly; "
        "overlapping intervals are not proof of no difference: wait for more exposures.",
        units.PercentUnit,
        [
            d.prom(q.ab_conversion_bound("lower"), f"{_VARIANT} lower", instant=True),
            d.prom(q.ab_conversion_ratio(), f"{_VARIANT} observed", instant=True),
            d.prom(q.ab_conversion_bound("upper"), f"{_VARIANT} upper", instant=True),
        ],
        max_val=None,
    )


def ab_counts() -> p.bargauge.Panel:
    return p.bargauge_panel(
        f"A/B exposures and conversions ({AB_WINDOW})",
        f"The counts behind the conversion shares: conversations assigned to each variant and those that converted, last {AB_WINDOW}.",
        units.Short,
        [
            d.prom(q.ab_exposures(), f"{_VARIANT} exposures", instant=True),
            d.prom(q.ab_conversions(), f"{_VARIANT} conversions", instant=True),
        ],
    )


def conversion_predictions() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Conversion predictions: predicted vs actual (1h)",
        "Mean probability the conversion model gave the conversations that ended in the last hour, against the share of "
        "them that actually converted. A calibrated model keeps the two lines together.",
        units.PercentUnit,
        [d.prom(q.conversion_predicted(), "predicted"), d.prom(q.conversion_actual(), "actual")],
        max_val=None,
    )


def data_drift(settings: Settings) -> p.timeseries.Panel:
    limit = settings.alerting.thresholds.drift_score
    return p.timeseries_panel(
        "Data drift by model and feature",
        f"Drift score (PSI) of each model's input features against its training data; ModelDataDrift fires when a model's "
        f"worst feature stays above {limit:g} (dashed line).",
        units.Short,
        [d.prom(q.drift_scores(), "{{model_name}} / {{feature}}")],
        steps=d.bad_above(limit * 0.4, limit),
        width=p.FULL,
    )


# ---- Business -----------------------------------------------------------------------------------------


def roi() -> p.stat.Panel:
    return p.stat_panel(
        "ROI: revenue per cost (1h)",
        "Revenue booked over the last hour divided by the cost of serving conversations in the same hour, per currency "
        "(never summed across currencies): 1 is break-even. Its inputs are the next panel.",
        units.Short,
        [d.prom(q.revenue_per_cost(), "{{currency}}")],
        steps=((None, d.RED), (1, d.GREEN)),
    )


def revenue_and_cost() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Revenue and cost per hour",
        "The two inputs of the ROI, per currency: revenue of converted conversations and the cost of serving (LLM, speech, telephony), hourly rate.",
        units.Short,
        [d.prom(q.revenue_per_hour(), "revenue {{currency}}"), d.prom(q.cost_per_hour(), "cost {{currency}}")],
    )


def conversation_duration() -> p.stat.Panel:
    return p.stat_panel(
        "Average conversation duration (1h)",
        "Mean duration of the conversations that ended in the last hour, start to end.",
        units.Seconds,
        [d.prom(q.conversation_duration_mean(), "average")],
    )


def conversation_duration_by_tier() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Average conversation duration by tier (1h)",
        "Mean duration of the conversations that ended in the last hour, by tier.",
        units.Seconds,
        [d.prom(q.conversation_duration_by_tier(), "{{tier}}")],
    )


# ---- Overview -----------------------------------------------------------------------------------------


def database_connections() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Database connections",
        "The API's SQLAlchemy pools summed over its instances: connections in use and idle, the pool size, the "
        "overflow opened beyond it and the maximum (size + max_overflow); checkouts waiting for a connection. "
        "DatabasePoolExhausted fires when an instance's pool stays at its maximum or keeps checkouts waiting.",
        units.Short,
        [
            d.prom(q.db_connections_in_use(), "{{pool_name}} in use"),
            d.prom(q.db_connections_idle(), "{{pool_name}} idle"),
            d.prom(q.db_pool_size(), "{{pool_name}} size"),
            d.prom(q.db_pool_overflow(), "{{pool_name}} overflow"),
            d.prom(q.db_pool_max(), "{{pool_name}} max"),
            d.prom(q.db_pool_waiting(), "{{pool_name}} waiting"),
        ],
    )


def database_timeouts() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Database checkout timeouts",
        "Checkouts per second over 5m, all instances, that gave up waiting for a pool connection (SQLAlchemy's pool_timeout): each one is a failed request.",
        units.OpsPerSecond,
        [d.prom(q.db_pool_timeouts(), "{{pool_name}}")],
        steps=((None, d.GREEN), (0.001, d.RED)),
    )
