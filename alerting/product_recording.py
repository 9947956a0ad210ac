"""Recording rules of the product panels (rendered into ngx-recording.yml, group ngx-product.rules):
A/B results, conversion predictions against outcomes, revenue and cost, conversation duration.

Every one reads per-instance counters or histograms once per evaluation, so the panels read a few
pre-aggregated series. Product events are sparse (a few conversions a minute), so they are rated over
1h, as the business ratios are (alerting.recording); the A/B results over a day. The drift scores and the database pool's
gauges are aggregated over instances and its timeouts rated over 5m, as the API's own counters are.
"""

from __future__ import annotations

from alerting.model import Recording, RuleGroup
from alerting.promql import number, rate_by, selector, zero_safe_ratio
from catalog import JOB_API

# A/B: exposures and conversions per variant, hourly, then counted over AB_WINDOW with a 95% interval.
AB_EXPOSURES_RATE1H = "job_experiment_variant:ngx_ab_exposures:rate1h"
AB_CONVERSIONS_RATE1H = "job_experiment_variant:ngx_ab_conversions:rate1h"
AB_EXPOSURES_1D = "job_experiment_variant:ngx_ab_exposures:increase1d"
AB_CONVERSIONS_1D = "job_experiment_variant:ngx_ab_conversions:increase1d"
AB_CONVERSION_RATIO_1D = "job_experiment_variant:ngx_ab_conversions:ratio_increase1d"
AB_CONVERSION_MARGIN95_1D = "job_experiment_variant:ngx_ab_conversions:ratio_increase1d_margin95"
AB_WINDOW = "1d"
# Two-sided 95% normal quantile: the interval p +- Z95 * sqrt(p(1-p)/n) (Wald).
Z95 = 1.96

# Conversion predictions: the mean predicted probability against the share that actually converted, both
# from the histogram's sum and count read once per evaluation, per outcome.
PREDICTION_SUM_RATE1H = "job_outcome:ngx_conversion_prediction_probability_sum:rate1h"
PREDICTION_COUNT_RATE1H = "job_outcome:ngx_conversion_prediction_probability_count:rate1h"
CONVERSION_PREDICTED_RATIO_1H = "job:ngx_conversion_prediction_probability:mean_rate1h"
CONVERSION_ACTUAL_RATIO_1H = "job:ngx_conversion_prediction_outcome_converted:ratio_rate1h"

# ROI: revenue and cost per currency (never summed across currencies), and their ratio.
REVENUE_RATE1H = "job_currency:ngx_revenue:rate1h"
COST_RATE1H = "job_currency:ngx_cost:rate1h"
REVENUE_PER_COST_1H = "job_currency:ngx_revenue_per_cost:ratio_rate1h"

# Conversation duration: the mean over the last hour, by tier and overall, from the per-tier rates of the
# histogram's sum and count (the raw series read once per evaluation).
DURATION_SUM_RATE1H = "job_tier:ngx_conversation_duration_seconds_sum:rate1h"
DURATION_COUNT_RATE1H = "job_tier:ngx_conversation_duration_seconds_count:rate1h"
CONVERSATION_DURATION_MEAN_1H = "job:ngx_conversation_duration_seconds:mean_rate1h"
CONVERSATION_DURATION_BY_TIER_MEAN_1H = "job_tier:ngx_conversation_duration_seconds:mean_rate1h"

# Drift per model and feature, the highest any instance reports (they all load the same model; a higher one
# lags a reload). One series per model and feature instead of one per instance too (bench: 37-82 ms raw).
DRIFT_SCORE_MAX = "job_model_name_feature:ngx_model_drift_score:max"

# Database pool, summed over the API's instances: connections by state, size, maximum, waiting checkouts,
# and checkouts that timed out per second over 5m. One series each instead of one per instance, so the
# Overview's pool panel stays within the panel goal on a fleet (bench: 59 ms raw at 100 instances).
DB_POOL_USAGE = "job_pool_name_state:db_client_connections_usage:sum"
DB_POOL_SIZE = "job_pool_name:db_client_connections_idle_max:sum"
DB_POOL_MAX = "job_pool_name:db_client_connections_max:sum"
DB_POOL_PENDING = "job_pool_name:db_client_connections_pending_requests:sum"
DB_POOL_TIMEOUTS_RATE5M = "job_pool_name:db_client_connections_timeouts:rate5m"


def _rate1h(by: str, series: str, *matchers: str) -> str:
    return f"sum by ({by}) (rate({selector(series, JOB_API, *matchers)}[1h]))"


def _mean(by: str, sum_rate: str, count_rate: str) -> str:
    """Mean of a histogram's observations from the recorded rates of its sum and count, summed `by`."""
    return f"sum by ({by}) ({sum_rate}) / (sum by ({by}) ({count_rate}) > 0)"


def _over_window(rate: str) -> str:
    """Events in the last AB_WINDOW from a recorded hourly rate: the hourly increases at each full hour
    (a subquery of 24 points a day), plus the current hour so far at the last hour's rate. Hours without
    data count nothing, so a young experiment or a gap is not scaled up to a whole day (a mean over the
    window times its length was); before its first full hour only the current hour counts."""
    return f"(sum_over_time(({rate} * 3600)[{AB_WINDOW}:1h]) or {rate} * 0) + {rate} * (time() % 3600)"


def ab_recordings() -> tuple[Recording, ...]:
    ratio = AB_CONVERSION_RATIO_1D
    return (
        Recording(AB_EXPOSURES_RATE1H, _rate1h("job, experiment, variant", "ngx_ab_exposures_total")),
        Recording(AB_CONVERSIONS_RATE1H, _rate1h("job, experiment, variant", "ngx_ab_conversions_total")),
        Recording(AB_EXPOSURES_1D, _over_window(AB_EXPOSURES_RATE1H)),
        Recording(AB_CONVERSIONS_1D, _over_window(AB_CONVERSIONS_RATE1H)),
        Recording(ratio, zero_safe_ratio(AB_CONVERSIONS_1D, AB_EXPOSURES_1D)),
        # Half-width of the 95% interval of each variant's conversion share; the dashboard draws p +- it.
        Recording(AB_CONVERSION_MARGIN95_1D, f"{number(Z95)} * sqrt({ratio} * (1 - {ratio}) / ({AB_EXPOSURES_1D} > 0))"),
    )


def prediction_recordings() -> tuple[Recording, ...]:
    histogram = "ngx_conversion_prediction_probability"
    converted = f'sum by (job) ({PREDICTION_COUNT_RATE1H}{{outcome="converted"}})'
    return (
        Recording(PREDICTION_SUM_RATE1H, _rate1h("job, outcome", f"{histogram}_sum")),
        Recording(PREDICTION_COUNT_RATE1H, _rate1h("job, outcome", f"{histogram}_count")),
        Recording(CONVERSION_PREDICTED_RATIO_1H, _mean("job", PREDICTION_SUM_RATE1H, PREDICTION_COUNT_RATE1H)),
        Recording(CONVERSION_ACTUAL_RATIO_1H, zero_safe_ratio(converted, f"sum by (job) ({PREDICTION_COUNT_RATE1H})")),
    )


def roi_recordings() -> tuple[Recording, ...]:
    return (
        Recording(REVENUE_RATE1H, _rate1h("job, currency", "ngx_revenue_total")),
        Recording(COST_RATE1H, _rate1h("job, currency", "ngx_cost_total")),
        Recording(REVENUE_PER_COST_1H, zero_safe_ratio(REVENUE_RATE1H, COST_RATE1H)),
    )


def duration_recordings() -> tuple[Recording, ...]:
    histogram = "ngx_conversation_duration_seconds"
    return (
        Recording(DURATION_SUM_RATE1H, _rate1h("job, tier", f"{histogram}_sum")),
        Recording(DURATION_COUNT_RATE1H, _rate1h("job, tier", f"{histogram}_count")),
        Recording(CONVERSATION_DURATION_MEAN_1H, _mean("job", DURATION_SUM_RATE1H, DURATION_COUNT_RATE1H)),
        Recording(CONVERSATION_DURATION_BY_TIER_MEAN_1H, _mean("job, tier", DURATION_SUM_RATE1H, DURATION_COUNT_RATE1H)),
    )


def pool_recordings() -> tuple[Recording, ...]:
    def total(by: str, series: str) -> str:
        return f"sum by ({by}) ({selector(series, JOB_API)})"

    return (
        Recording(DB_POOL_USAGE, total("job, pool_name, state", "db_client_connections_usage")),
        Recording(DB_POOL_SIZE, total("job, pool_name", "db_client_connections_idle_max")),
        Recording(DB_POOL_MAX, total("job, pool_name", "db_client_connections_max")),
        Recording(DB_POOL_PENDING, total("job, pool_name", "db_client_connections_pending_requests")),
        Recording(DB_POOL_TIMEOUTS_RATE5M, rate_by("job, pool_name", "db_client_connections_timeouts_total", JOB_API)),
    )


def groups() -> tuple[RuleGroup, ...]:
    drift = Recording(DRIFT_SCORE_MAX, f"max by (job, model_name, feature) ({selector('ngx_model_drift_score', JOB_API)})")
    rules = (*ab_recordings(), *prediction_recordings(), *roi_recordings(), *duration_recordings(), drift, *pool_recordings())
    return (RuleGroup("ngx-product.rules", rules),)
