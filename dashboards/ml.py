"""ML Performance: how fast, how often, how confidently and how accurately the models predict."""

from __future__ import annotations

from grafana_foundation_sdk.models import units

from dashboards import defaults as d, panels as p, product_panels as product, queries as q
from settings import Settings

UID = "ngx-ml"
TITLE = "NGX ML Performance"


def prediction_latency() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Prediction latency p50 / p95 / p99",
        "ML prediction duration percentiles by model over 5m.",
        units.Seconds,
        [d.prom(q.prediction_latency(quantile), f"{{{{model_type}}}} {legend}") for quantile, legend in q.QUANTILE_LEGENDS.items()],
    )


def throughput() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Throughput by model",
        "Predictions per second by model (successful and failed), 5m rate.",
        units.OpsPerSecond,
        [d.prom(q.prediction_throughput(), "{{model_type}}")],
        stacked=True,
    )


def confidence_distribution() -> p.heatmap.Panel:
    return p.heatmap_panel(
        "Prediction confidence distribution",
        "How many predictions fall in each confidence bucket (0-1) over time.",
        units.PercentUnit,
        [d.prom(q.prediction_confidence_buckets(), "{{le}}", heatmap_buckets=True)],
    )


def median_confidence(settings: Settings) -> p.timeseries.Panel:
    minimum = settings.alerting.thresholds.model_accuracy
    return p.timeseries_panel(
        "Median prediction confidence",
        "Median confidence by model over 5m: a falling median often precedes falling accuracy.",
        units.PercentUnit,
        [d.prom(q.prediction_confidence_median(), "{{model_type}}")],
        steps=d.good_above(minimum),
        max_val=1,
    )


def model_accuracy(settings: Settings) -> p.timeseries.Panel:
    minimum = settings.alerting.thresholds.model_accuracy
    return p.timeseries_panel(
        "Model accuracy vs threshold",
        f"Current accuracy of each model; LowModelAccuracy fires below {minimum:.0%} (dashed line).",
        units.PercentUnit,
        [d.prom(q.model_accuracy(), "{{model_name}}")],
        steps=d.good_above(minimum),
        max_val=1,
    )


def current_accuracy(settings: Settings) -> p.bargauge.Panel:
    minimum = settings.alerting.thresholds.model_accuracy
    return p.bargauge_panel(
        "Accuracy now",
        f"Last reported accuracy per model against the {minimum:.0%} minimum.",
        units.PercentUnit,
        [d.prom(q.model_accuracy(), "{{model_name}}", instant=True)],
        steps=d.good_above(minimum),
        max_val=1,
    )


def error_share() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Prediction error share",
        "Share of predictions that failed (status=error) by model over 5m.",
        units.PercentUnit,
        [d.prom(q.prediction_error_share(), "{{model_type}}")],
        steps=d.bad_above(0.01, 0.05),
        max_val=None,
    )


def build(settings: Settings) -> dict:
    builder = (
        d.new_dashboard(
            UID, TITLE, "Latency, throughput, confidence, accuracy, A/B results, conversion predictions and data drift of the NGX ML models.", settings, "ml"
        )
        .with_variable(d.query_variable("model", "Model", q.model_types(), description="ML model types"))
        .with_row(p.row("Serving"))
        .with_panel(prediction_latency())
        .with_panel(throughput())
        .with_panel(error_share())
        .with_panel(confidence_distribution())
        .with_row(p.row("Quality"))
        .with_panel(model_accuracy(settings))
        .with_panel(current_accuracy(settings))
        .with_panel(median_confidence(settings).span(p.FULL))
        .with_row(p.row("Experiments and predictions"))
        .with_panel(product.ab_conversion())
        .with_panel(product.ab_counts())
        .with_panel(product.conversion_predictions().span(p.FULL))
        .with_row(p.row("Data drift"))
        .with_panel(product.data_drift(settings))
    )
    return d.finish(builder)
