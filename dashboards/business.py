"""Business KPIs: how many conversations start, convert or drop, by tier and archetype, with the
conversation events behind the numbers from the API's structured logs."""

from __future__ import annotations

from grafana_foundation_sdk.models import units

import catalog
from dashboards import defaults as d, panels as p, product_panels as product, queries as q
from settings import Settings

UID = "ngx-business"
TITLE = "NGX Business KPIs"


def conversion_rate(settings: Settings) -> p.stat.Panel:
    minimum = settings.alerting.thresholds.conversion_rate
    return p.stat_panel(
        "Conversion rate (1h)",
        f"Conversations that ended converted per conversation started over the last hour (the LowConversionRate ratio; alert below {minimum:.0%}).",
        units.PercentUnit,
        [d.prom(q.conversion_ratio(), "converted")],
        steps=d.good_above(minimum),
        width=p.QUARTER,
    )


def drop_off_rate(settings: Settings) -> p.stat.Panel:
    limit = settings.alerting.thresholds.drop_rate
    return p.stat_panel(
        "Drop-off rate (1h)",
        f"Conversations that ended dropped per conversation started over the last hour (the HighDropRate ratio; alert above {limit:.0%}).",
        units.PercentUnit,
        [d.prom(q.drop_ratio(), "dropped")],
        steps=d.bad_above(limit * 0.8, limit),
        width=p.QUARTER,
    )


def rates_over_time(settings: Settings) -> p.timeseries.Panel:
    t = settings.alerting.thresholds
    return p.timeseries_panel(
        "Conversion and drop-off rate",
        "Hourly conversion and drop-off shares of the conversations started, over time.",
        units.PercentUnit,
        [d.prom(q.conversion_ratio(), "conversion"), d.prom(q.drop_ratio(), "drop-off")],
        steps=((None, d.BLUE), (t.conversion_rate, d.GREEN), (t.drop_rate, d.ORANGE)),
        max_val=None,
    )


def conversations_by_tier() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Conversations started by tier",
        "New conversations per minute by detected tier.",
        units.CountsPerMinute,
        [d.prom(q.conversations_by_tier("started"), "{{tier}}")],
        stacked=True,
    )


def conversions_by_tier() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Conversions by tier",
        "Conversations converted per minute by tier.",
        units.CountsPerMinute,
        [d.prom(q.conversations_by_tier("converted"), "{{tier}}")],
        stacked=True,
    )


def conversions_by_archetype() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Conversions by tier and archetype",
        "Successful conversions per minute by tier and customer archetype.",
        units.CountsPerMinute,
        [d.prom(q.conversions_by_tier_and_archetype(), "{{tier}} / {{archetype}}")],
        stacked=True,
    )


def outcomes() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Conversation outcomes",
        "Conversation events per minute by status: started when a conversation starts, then completed, converted or dropped when it ends.",
        units.CountsPerMinute,
        [d.prom(q.conversations_by_outcome(), "{{status}}")],
    )


def tier_distribution() -> p.piechart.Panel:
    return p.piechart_panel(
        "Tier distribution (1h)",
        "Share of conversations started per tier over the last hour.",
        units.CountsPerMinute,
        [d.prom(q.tier_distribution(), "{{tier}}", instant=True)],
        width=p.HALF,
    )


def conversation_events() -> p.logs.Panel:
    return p.logs_panel(
        "Recent conversation events",
        "conversation_* events from the API's JSON logs (Loki), newest first; "
        "expand a line for its fields, and follow request_id / trace_id to every line of that request.",
        [d.logql(q.conversation_events())],
    )


def build(settings: Settings) -> dict:
    builder = (
        d.new_dashboard(UID, TITLE, "Conversions, drop-offs, tiers, ROI and duration of NGX conversations.", settings, "business")
        .with_variable(d.custom_variable("tier", "Tier", catalog.TIERS, description="Customer tier detected by the agent"))
        .with_row(p.row("Outcomes"))
        .with_panel(conversion_rate(settings))
        .with_panel(drop_off_rate(settings))
        .with_panel(rates_over_time(settings))
        .with_panel(outcomes())
        .with_panel(tier_distribution())
        .with_row(p.row("Tiers and archetypes"))
        .with_panel(conversations_by_tier())
        .with_panel(conversions_by_tier())
        .with_panel(conversions_by_archetype().span(p.FULL))
        .with_row(p.row("Return and duration"))
        .with_panel(product.roi())
        .with_panel(product.conversation_duration())
        .with_panel(product.revenue_and_cost())
        .with_panel(product.conversation_duration_by_tier().span(p.FULL))
        .with_row(p.row("Events"))
        .with_panel(conversation_events())
    )
    return d.finish(builder)
