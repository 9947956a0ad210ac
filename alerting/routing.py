"""Who is notified of what, and when, as data with no Alertmanager syntax.

renderers.alertmanager turns this into alertmanager.yml; Grafana's notification policy tree can be
derived from the same routes, so both tools route an alert the same way. Receiver names are fixed
across stacks; which integrations each receiver gets depends on the stack's `receivers` settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from alerting.promql import duration
from settings import Settings
from settings.alerting import RouteTiming

ONCALL_PAGER = "oncall-pager"
OPS_EMAIL = "ops-email"
BUSINESS_DAILY = "business-daily"
HEARTBEAT = "heartbeat"
RECEIVERS = (ONCALL_PAGER, OPS_EMAIL, BUSINESS_DAILY, HEARTBEAT)
ROOT_RECEIVER = OPS_EMAIL  # whatever no route claims is mailed, never dropped
# Receivers that also say when an alert is over. Digests and the heartbeat do not: a resolved business
# alert is old news by the next day, and Watchdog never resolves. Alertmanager and Grafana both read it.
SEND_RESOLVED = {ONCALL_PAGER: True, OPS_EMAIL: True, BUSINESS_DAILY: False, HEARTBEAT: False}

BUSINESS_HOURS = "business-hours"  # the one time interval: settings.alerting.businessHours

# (label, operator, value); operators are =, !=, =~ and !~ with anchored RE2 regexes.
Matcher = tuple[str, str, str]


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None  # None: inherit from the parent route
    group_wait: str | None = None  # wait before the first notification of a new group
    group_interval: str | None = None  # wait before notifying about changes to a notified group
    repeat_interval: str | None = None  # wait before repeating an unchanged, still-firing group
    continue_: bool = False
    active_time_intervals: tuple[str, ...] = ()  # notify only inside these intervals
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class TimeInterval:
    name: str
    weekdays: tuple[str, ...]  # "monday:friday" ranges or single days
    start: str  # HH:MM, inclusive
    end: str  # HH:MM, exclusive
    location: str  # IANA time zone


@dataclass(frozen=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]  # labels whose values must match between source and target
    why: str


def timing(route: RouteTiming) -> dict[str, str]:
    """Route keyword arguments of one receiver's timing settings (alerting.routes.<receiver>)."""
    return dict(group_wait=route.group_wait, group_interval=route.group_interval, repeat_interval=route.repeat_interval)


def _minutes(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


def working_day_minutes(settings: Settings) -> int:
    hours = settings.alerting.business_hours
    return _minutes(hours.end) - _minutes(hours.start)


def business_timing(settings: Settings) -> dict[str, str]:
    """One digest per working day.

    Notifications are muted outside the interval, and Alertmanager only retries a muted group at its
    next group_interval tick. A group_interval as long as the working day puts exactly one tick inside
    every working day, so the digest goes out once a day, inside working hours, whatever time the first
    alert arrived. The next day's tick comes at least 24h - group_interval later, so a repeat_interval
    equal to group_interval re-sends a still-firing digest every working day (up to 12h days).
    """
    working_day = duration(working_day_minutes(settings) * 60)
    group_wait = settings.alerting.routes.business_daily.group_wait
    return dict(group_wait=group_wait, group_interval=working_day, repeat_interval=working_day)


def routing_tree(settings: Settings) -> Route:
    """The root route and its children, matched in order; the first match wins (no `continue`)."""
    routes = settings.alerting.routes
    return Route(
        receiver=ROOT_RECEIVER,
        group_by=("alertname", "job"),
        **timing(routes.ops_email),  # the root receiver's timing
        routes=(
            # First, so the always-firing Watchdog never reaches a human receiver.
            Route(HEARTBEAT, (("alertname", "=", "Watchdog"),), group_by=("alertname",), **timing(routes.heartbeat)),
            # Before business: a critical alert pages whatever its category.
            Route(ONCALL_PAGER, (("severity", "=", "critical"),), **timing(routes.oncall_pager)),
            Route(
                BUSINESS_DAILY, (("category", "=", "business"),), group_by=("category",), active_time_intervals=(BUSINESS_HOURS,), **business_timing(settings)
            ),
            Route(OPS_EMAIL, (("severity", "=", "warning"),), **timing(routes.ops_email)),
        ),
    )


def time_intervals(settings: Settings) -> tuple[TimeInterval, ...]:
    hours = settings.alerting.business_hours
    return (TimeInterval(BUSINESS_HOURS, tuple(hours.weekdays.split(",")), hours.start, hours.end, hours.timezone),)


# Labels that tell apart several objects behind one scrape target: the kubelet job's instance is a
# node with many volumes, node-exporter's has many filesystems. A page for one of them must not
# silence a warning about another; alerts without these labels compare empty to empty, as before.
OBJECT_LABELS = ("namespace", "persistentvolumeclaim", "mountpoint")
# Workload alerts on the API's own pods that are the same outage as APIDown (alerting.kubernetes).
API_DOWN_SYMPTOMS = ("KubePodCrashLooping", "KubeContainerWaiting", "KubePodNotReady", "KubeDeploymentReplicasMismatch")


def inhibit_rules(settings: Settings) -> tuple[InhibitRule, ...]:
    return (
        InhibitRule(
            (("severity", "=", "critical"),),
            (("severity", "=", "warning"),),
            ("job", "instance", *OBJECT_LABELS),
            "a page for a target already covers its warnings (same job and instance, and the same volume or filesystem)",
        ),
        InhibitRule(
            (("alertname", "=", "APIDown"),),
            (("alertname", "=~", "|".join(API_DOWN_SYMPTOMS)), ("namespace", "=", settings.app.namespace)),
            (),
            "while APIDown pages, the API's crash-looping, waiting or unready pods are its cause on the same "
            "page (its runbook and the Overview's pod row show them), not a second notification",
        ),
        InhibitRule(
            (("alertname", "=", "APIDown"),),
            (("alertname", "=~", "HighErrorRate|HighResponseTime|SLOErrorBudgetBurn"),),
            ("job",),
            "when the API is down its error-rate and latency alerts are symptoms, not news",
        ),
        InhibitRule(
            (("alertname", "=", "RedisDown"),),
            (("alertname", "=", "LowCacheHitRate"),),
            (),
            "without Redis every lookup misses the cache",
        ),
    )


def receiver_integrations(settings: Settings) -> dict[str, list[str]]:
    """Integrations ("pagerduty", "slack", "email", "webhook") each receiver gets from `receivers`."""
    r = settings.receivers
    pager = [name for name, configured in (("pagerduty", r.pagerduty), ("slack", r.slack)) if configured]
    if not pager and r.email:
        pager = ["email"]  # no pager configured: critical alerts are mailed rather than lost
    return {
        ONCALL_PAGER: pager,
        OPS_EMAIL: ["email"] if r.email else [],
        BUSINESS_DAILY: [name for name, configured in (("email", r.email), ("slack", r.slack)) if configured],
        HEARTBEAT: ["webhook"] if r.heartbeat else [],
    }


def unrouted_receivers(settings: Settings) -> list[str]:
    """Receivers with no integration: their alerts are accepted and notify nobody (warn about these)."""
    return [name for name, integrations in receiver_integrations(settings).items() if not integrations]


def matches(matcher: Matcher, labels: Mapping[str, str]) -> bool:
    label, op, value = matcher
    actual = labels.get(label, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    if op in ("=~", "!~"):
        return bool(re.fullmatch(value, actual)) == (op == "=~")
    raise ValueError(f"unknown matcher operator {op!r}")


def receivers_for(labels: Mapping[str, str], route: Route) -> tuple[str, ...]:
    """Receivers an alert with `labels` reaches from `route` (Alertmanager's depth-first matching)."""
    found: list[str] = []
    for child in route.routes:
        if all(matches(m, labels) for m in child.matchers):
            found.extend(receivers_for(labels, child))
            if not child.continue_:
                break
    return tuple(found) or (route.receiver,)
