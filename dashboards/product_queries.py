"""Expressions of the product panels (A/B results, conversion predictions, drift, ROI, conversation
duration) and of the database pool, built from the catalog and alerting.product_recording.

Every one reads recorded series: even the drift and pool gauges, a handful of series per instance, add
up to too many on a fleet of instances for the panel goal (docs/performance.md).
"""

from __future__ import annotations

from alerting import product_recording as rec
from dashboards.queries import TIER

# ---- ML: A/B results, conversion predictions, drift -------------------------------------------------


def ab_conversion_ratio() -> str:
    return rec.AB_CONVERSION_RATIO_1D


def ab_conversion_bound(side: str) -> str:
    """The lower or upper end of each variant's 95% interval, clamped to 0-1."""
    if side not in ("lower", "upper"):
        raise KeyError(f"{side} is not a side of an interval (lower, upper)")
    ratio, margin = rec.AB_CONVERSION_RATIO_1D, rec.AB_CONVERSION_MARGIN95_1D
    if side == "lower":
        return f"clamp_min({ratio} - {margin}, 0)"
    return f"clamp_max({ratio} + {margin}, 1)"


def ab_exposures() -> str:
    return f"sum by (experiment, variant) ({rec.AB_EXPOSURES_1D})"


def ab_conversions() -> str:
    return f"sum by (experiment, variant) ({rec.AB_CONVERSIONS_1D})"


def conversion_predicted() -> str:
    return rec.CONVERSION_PREDICTED_RATIO_1H


def conversion_actual() -> str:
    return rec.CONVERSION_ACTUAL_RATIO_1H


def drift_scores() -> str:
    return f"max by (model_name, feature) ({rec.DRIFT_SCORE_MAX})"


# ---- business: ROI and conversation duration --------------------------------------------------------


def revenue_per_cost() -> str:
    return rec.REVENUE_PER_COST_1H


def revenue_per_hour() -> str:
    return f"sum by (currency) ({rec.REVENUE_RATE1H}) * 3600"


def cost_per_hour() -> str:
    return f"sum by (currency) ({rec.COST_RATE1H}) * 3600"


def conversation_duration_mean() -> str:
    return rec.CONVERSATION_DURATION_MEAN_1H


def conversation_duration_by_tier() -> str:
    return f"{rec.CONVERSATION_DURATION_BY_TIER_MEAN_1H}{{{TIER}}}"


# ---- overview: database connections -----------------------------------------------------------------


def _pool(record: str, *matchers: str) -> str:
    return f"sum by (pool_name) ({record}{{{','.join(matchers)}}})" if matchers else f"sum by (pool_name) ({record})"


def db_connections_in_use() -> str:
    return _pool(rec.DB_POOL_USAGE, 'state="used"')


def db_connections_idle() -> str:
    return _pool(rec.DB_POOL_USAGE, 'state="idle"')


def db_pool_size() -> str:
    return _pool(rec.DB_POOL_SIZE)


def db_pool_max() -> str:
    return _pool(rec.DB_POOL_MAX)


def db_pool_overflow() -> str:
    """Connections open beyond pool_size (SQLAlchemy's overflow): open minus pool size, never below 0."""
    return f"clamp_min({_pool(rec.DB_POOL_USAGE)} - {db_pool_size()}, 0)"


def db_pool_waiting() -> str:
    return _pool(rec.DB_POOL_PENDING)


def db_pool_timeouts() -> str:
    return f"sum by (pool_name) ({rec.DB_POOL_TIMEOUTS_RATE5M})"
