"""Alerts on the product metrics and the database pool (placed by alerting.placement).

Only where a threshold means something: a drift score has a rule of thumb (PSI), and a pool is
exhausted when it can open no more connections or checkouts wait. A/B results, ROI and conversation
duration have no threshold that is right for every business, so they are panels, not alerts.
"""

from __future__ import annotations

from alerting.model import Alert
from alerting.product_recording import DRIFT_SCORE_MAX
from alerting.promql import number, selector
from catalog import JOB_API
from settings import Settings

_POOL = "job, instance, pool_name"


def model_drift(settings: Settings) -> Alert:
    t = settings.alerting.thresholds
    # The worst feature of each model: one alert per model, the ML dashboard's drift panel names the feature.
    drift = f"max by (job, model_name) ({DRIFT_SCORE_MAX})"
    return Alert(
        "ModelDataDrift",
        f"{drift} > {number(t.drift_score)}",
        # 30m: drift is computed over windows of traffic; one noisy window is not a shift in the data.
        t.drift_score_for,
        "warning",
        "ml",
        "The input data of an ML model drifted away from its training data.",
        f"The highest feature drift score of model {{{{ $labels.model_name }}}} is {{{{ $value }}}} (threshold {number(t.drift_score)}).",
    )


def database_pool_exhausted(settings: Settings) -> Alert:
    in_use = selector("db_client_connections_usage", JOB_API, 'state="used"')
    used = f"max by ({_POOL}) ({in_use})"
    maximum = f"max by ({_POOL}) ({selector('db_client_connections_max', JOB_API)})"
    pending = f"max by ({_POOL}) ({selector('db_client_connections_pending_requests', JOB_API)})"
    return Alert(
        "DatabasePoolExhausted",
        # Every connection the pool may open is in use, or checkouts wait for one: either way requests queue.
        f"{used} >= on ({_POOL}) {maximum} or on ({_POOL}) {pending} > 0",
        # 5m: a burst that fills the pool for seconds is what the pool is for; minutes of it is a leak or too small a pool.
        settings.alerting.thresholds.database_pool_exhausted_for,
        "warning",
        "resources",
        "A database connection pool of the API is exhausted: requests wait for a connection.",
        "Pool {{ $labels.pool_name }} of {{ $labels.instance }}: {{ $value }} (connections in use, at the pool's maximum; or, below it, checkouts waiting).",
    )


def alerts(settings: Settings) -> tuple[Alert, ...]:
    """Placed by alerting.placement like the other application alerts: ModelDataDrift after the drift
    recording in ngx-product.rules, DatabasePoolExhausted (raw series) in ngx.alerts."""
    return (model_drift(settings), database_pool_exhausted(settings))
