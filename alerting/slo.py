"""The API availability SLO: error ratios per window, availability, budget left, and burn-rate alerts.

Multi-window, multi-burn-rate alerting as in the Google SRE workbook ("Alerting on SLOs"): each alert
needs a long window (is the budget really burning?) and a short one, 1/12 of it (is it still burning?),
so a page starts within minutes of a fast burn and stops soon after the burn does.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerting.model import Alert, Recording, RuleGroup
from alerting.promql import number
from settings import Settings
from settings.validators import duration_seconds

# Both rates are recorded by the API group (alerting.recording.api_traffic), from one read of the request
# counter, and the ratios below follow them in that group: every ratio divides sums of the two over the
# same evaluations. Recorded by different groups, each window would see one sample more of one of them
# (groups run at their own offsets), a bias of up to 1/N on an N-sample window.
API_REQUESTS_RATE5M = "job:ngx_api_requests:rate5m"
API_ERRORS_RATE5M = "job:ngx_api_requests_errors:rate5m"
AVAILABILITY = "slo:availability"  # name given by the seed guide; the one exception to level:metric:operations
ERROR_BUDGET_REMAINING = "job:ngx_api_error_budget:remaining"
# Every window a burn-rate alert reads.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Reading a whole SLO window (30d) of even one series is not free: every 5m is fresh enough for a budget.
BUDGET_INTERVAL = "5m"


def error_ratio(window: str) -> str:
    return f"job:ngx_api_requests_errors:ratio_rate{window}"


@dataclass(frozen=True)
class BurnWindow:
    long: str
    short: str
    budget_share: float  # share of the whole SLO window's budget spent over `long` at this burn rate
    severity: str


# The workbook's recommendation: page on 2% of the budget in 1h or 5% in 6h, ticket on 10% in 1d or 3d.
# For a 30d SLO window these are burn rates 14.4, 6, 3 and 1.
BURN_WINDOWS = (
    BurnWindow("1h", "5m", 0.02, "critical"),
    BurnWindow("6h", "30m", 0.05, "critical"),
    BurnWindow("1d", "2h", 0.10, "warning"),
    BurnWindow("3d", "6h", 0.10, "warning"),
)


def error_budget(settings: Settings) -> float:
    """Share of requests allowed to fail: 1 - objective (0.01 for 99%)."""
    return round(1 - settings.alerting.slo.availability, 10)


def burn_rate(settings: Settings, window: BurnWindow) -> float:
    """How many times faster than "exactly on budget" the errors must arrive to spend `budget_share`."""
    slo_window = duration_seconds(settings.alerting.slo.window)
    return round(window.budget_share * slo_window / duration_seconds(window.long), 4)


def _ratio(window: str) -> str:
    # Longer windows are built from the recorded 5m rates: the mean of a rate over W is the rate over W,
    # and one recorded series is far cheaper to read for 3 days than every raw API series.
    if window == "5m":
        return f"{API_ERRORS_RATE5M} / ({API_REQUESTS_RATE5M} > 0)"
    return f"sum_over_time({API_ERRORS_RATE5M}[{window}]) / (sum_over_time({API_REQUESTS_RATE5M}[{window}]) > 0)"


def recordings() -> tuple[Recording, ...]:
    """The error ratio over every window the burn-rate alerts read, and availability; they read the two
    5m rates, so they follow those in the API group (alerting.recording.api_group)."""
    return (
        *(Recording(error_ratio(window), _ratio(window)) for window in WINDOWS),
        Recording(AVAILABILITY, f"1 - {error_ratio('5m')}"),
    )


def budget_group(settings: Settings) -> RuleGroup:
    slo = settings.alerting.slo
    spent = f"sum_over_time({API_ERRORS_RATE5M}[{slo.window}]) / (sum_over_time({API_REQUESTS_RATE5M}[{slo.window}]) > 0)"
    labels = (("objective", number(slo.availability)), ("slo_window", slo.window))
    return RuleGroup(
        "ngx-slo-budget.rules",
        (
            # 1 = untouched, 0 = spent, below 0 = the SLO is broken for this window.
            Recording(ERROR_BUDGET_REMAINING, f"1 - ({spent}) / {number(error_budget(settings))}", labels),
        ),
        interval=BUDGET_INTERVAL,
    )


def _burn_condition(settings: Settings, window: BurnWindow) -> str:
    threshold = f"({number(burn_rate(settings, window))} * {number(error_budget(settings))})"
    return f"({error_ratio(window.long)} > {threshold} and {error_ratio(window.short)} > {threshold})"


def burn_alerts(settings: Settings) -> tuple[Alert, ...]:
    slo = settings.alerting.slo
    burn_for = {"critical": slo.page_burn_for, "warning": slo.ticket_burn_for}
    texts = {
        "critical": ("The API is spending its error budget fast enough to exhaust it within days.", "page"),
        "warning": ("The API is spending its error budget faster than the SLO allows.", "ticket"),
    }
    alerts = []
    for severity, (summary, kind) in texts.items():
        windows = [w for w in BURN_WINDOWS if w.severity == severity]
        rates = " or ".join(f"{number(burn_rate(settings, w))}x over {w.long}" for w in windows)
        alerts.append(
            Alert(
                name="SLOErrorBudgetBurn",
                expr="\nor\n".join(_burn_condition(settings, w) for w in windows),
                for_=burn_for[severity],
                severity=severity,
                category="slo",
                summary=summary,
                description=(
                    f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.job }}}} requests failed over the long window "
                    f"({kind} burn: {rates}); the {slo.window} objective of {number(slo.availability)} allows "
                    f"{number(error_budget(settings))}."
                ),
            )
        )
    return tuple(alerts)


def groups(settings: Settings) -> tuple[RuleGroup, ...]:
    # The ratios and the burn alerts are evaluated in the API group (alerting.recording, alerting.placement):
    # rules of a group run in order, so each evaluation compares the ratios it has just recorded. The
    # budget reads 30 days and needs no fresher value than every 5m: a group of its own.
    return (budget_group(settings),)
