"""The product metrics and the database pool in the benchmark dataset (catalog._PRODUCT), per API instance:
A/B exposures and conversions, predicted conversion probability by outcome, revenue and cost, conversation
duration, drift scores and the pool's gauges. bench/dataset.py's Writer calls `write` once per window.

Volumes follow the dataset's traffic: a twentieth of the requests start a conversation (as
ngx_conversations_total there), 5% of those convert.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import catalog

EXPERIMENTS = {"greeting_script": ("control", "warm_intro"), "pricing_pitch": ("control", "annual_first")}
FEATURES = ("call_duration", "message_count", "sentiment", "lead_source")
MODEL_NAMES = ("objection_prediction", "conversion_prediction", "tier_detection")
PROBABILITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
DURATION_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
CURRENCY = "EUR"
POOL = "ngx-db"
CONVERSATION_SHARE, CONVERSION_SHARE = 0.05, 0.05


def series_per_instance() -> int:
    variants = sum(len(v) for v in EXPERIMENTS.values())
    return (
        2 * variants  # exposures, conversions
        + len(catalog.CONVERSION_OUTCOMES) * (len(PROBABILITY_BUCKETS) + 3)
        + len(catalog.TIERS)  # revenue
        + len(catalog.COST_KINDS)
        + len(catalog.TIERS) * (len(DURATION_BUCKETS) + 3)
        + len(MODEL_NAMES) * len(FEATURES)
        + len(catalog.DB_POOL_STATES)
        + 4  # idle_max, max, pending_requests, timeouts
    )


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def write(writer, emit: Callable[[str], None], flush: Callable[[list[str]], None], instances: list[str], per_instance_step: float, rnd: random.Random) -> None:
    """Append every product series of `instances` to the window `writer` (bench.dataset.Writer) writes.

    `emit` writes a `# TYPE` line, `flush` a list of samples."""
    job = catalog.JOB_API
    conversations = per_instance_step * CONVERSATION_SHARE
    emit("# TYPE ngx_ab_exposures counter\n")
    for instance in instances:
        out: list[str] = []
        for experiment, variants in EXPERIMENTS.items():
            for variant in variants:
                writer._counter(out, "ngx_ab_exposures_total", _labels(job=job, instance=instance, experiment=experiment, variant=variant), conversations / 4)
        flush(out)
    emit("# TYPE ngx_ab_conversions counter\n")
    for instance in instances:
        out = []
        for experiment, variants in EXPERIMENTS.items():
            for index, variant in enumerate(variants):
                share = CONVERSION_SHARE * (1 + 0.2 * index)
                writer._counter(
                    out, "ngx_ab_conversions_total", _labels(job=job, instance=instance, experiment=experiment, variant=variant), conversations / 4 * share
                )
        flush(out)
    emit("# TYPE ngx_conversion_prediction_probability histogram\n")
    for instance in instances:
        out = []
        for outcome, share, median in (("converted", CONVERSION_SHARE, 0.6), ("not_converted", 1 - CONVERSION_SHARE, 0.1)):
            labels = {"job": job, "instance": instance, "outcome": outcome}
            writer._histogram(out, "ngx_conversion_prediction_probability", labels, conversations * share, PROBABILITY_BUCKETS, median, False)
        flush(out)
    emit("# TYPE ngx_revenue counter\n")
    for instance in instances:
        out = []
        for tier, price in zip(catalog.TIERS, (99.0, 499.0, 1999.0), strict=True):
            writer._counter(
                out, "ngx_revenue_total", _labels(job=job, instance=instance, tier=tier, currency=CURRENCY), conversations * CONVERSION_SHARE / 3 * price
            )
        flush(out)
    emit("# TYPE ngx_cost counter\n")
    for instance in instances:
        out = []
        for kind, cost in zip(catalog.COST_KINDS, (0.05, 0.03, 0.02), strict=True):
            writer._counter(out, "ngx_cost_total", _labels(job=job, instance=instance, kind=kind, currency=CURRENCY), per_instance_step * cost)
        flush(out)
    emit("# TYPE ngx_conversation_duration_seconds histogram\n")
    for instance in instances:
        out = []
        for tier in catalog.TIERS:
            labels = {"job": job, "instance": instance, "tier": tier}
            writer._histogram(out, "ngx_conversation_duration_seconds", labels, conversations / 3, DURATION_BUCKETS, 240.0, False)
        flush(out)
    emit("# TYPE ngx_model_drift_score gauge\n")
    for instance in instances:
        out = []
        for model in MODEL_NAMES:
            for feature in FEATURES:
                writer._gauge(out, "ngx_model_drift_score", _labels(job=job, instance=instance, model_name=model, feature=feature), 0.05, 0.03, rnd)
        flush(out)
    emit("# TYPE db_client_connections_usage gauge\n")
    for instance in instances:
        out = []
        for state, value in zip(catalog.DB_POOL_STATES, (3.0, 2.0), strict=True):
            writer._gauge(out, "db_client_connections_usage", _labels(job=job, instance=instance, pool_name=POOL, state=state), value, 1.0, rnd)
        flush(out)
    for name, value in (("db_client_connections_idle_max", 5.0), ("db_client_connections_max", 15.0), ("db_client_connections_pending_requests", 0.0)):
        emit(f"# TYPE {name} gauge\n")
        for instance in instances:
            out = []
            writer._gauge(out, name, _labels(job=job, instance=instance, pool_name=POOL), value, 0.0, rnd)
            flush(out)
    emit("# TYPE db_client_connections_timeouts counter\n")
    for instance in instances:
        out = []
        writer._counter(out, "db_client_connections_timeouts_total", _labels(job=job, instance=instance, pool_name=POOL), 0.001)
        flush(out)
