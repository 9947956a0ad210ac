"""Grafana's alerting content derived from alerting.routing, the definition alertmanager.yml is
rendered from: the notification policy tree, the contact points' integrations and the mute timings.

Nothing about who is notified, when, or grouped how is written here; this module only translates.

Alertmanager routes business digests with `active_time_intervals: [business-hours]`. Grafana gets the
equivalent mute timing, `outside-business-hours`: the complement of the interval within the week
(working days before the start and after the end, and every other day whole). Muted outside or
active inside notify at exactly the same minutes; tests/test_grafana_content.py checks every minute
of a week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alerting.routing import SEND_RESOLVED, Matcher, Route, TimeInterval, receiver_integrations, routing_tree, time_intervals
from settings import Secret, Settings

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
DAY_START, DAY_END = "00:00", "24:00"

# The same message templates alertmanager.yml uses (alerting/templates/*.tmpl, uploaded to Grafana).
TITLE = '{{ template "ngx.title" . }}'
TEXT = '{{ template "ngx.text" . }}'
EMAIL_SUBJECT = '{{ template "ngx.email.subject" . }}'
DASHBOARD_URL = '{{ template "ngx.dashboard_url" . }}'


def mute_timing_name(interval: str) -> str:
    return f"outside-{interval}"


# ---- policy tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """One Grafana notification policy, as data (the root has no matchers)."""

    contact_point: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None  # None: inherited
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    continue_: bool = False
    mute_timings: tuple[str, ...] = ()
    policies: tuple[Policy, ...] = ()


def policy(route: Route) -> Policy:
    return Policy(
        contact_point=route.receiver,
        matchers=route.matchers,
        group_by=route.group_by,
        group_wait=route.group_wait,
        group_interval=route.group_interval,
        repeat_interval=route.repeat_interval,
        continue_=route.continue_,
        mute_timings=tuple(mute_timing_name(name) for name in route.active_time_intervals),
        policies=tuple(policy(child) for child in route.routes),
    )


def policy_tree(settings: Settings) -> Policy:
    return policy(routing_tree(settings))


def contact_points_of(tree: Policy) -> set[str]:
    return {tree.contact_point} | {name for child in tree.policies for name in contact_points_of(child)}


def policy_kwargs(node: Policy, *, root: bool = False) -> dict[str, Any]:
    """Keyword arguments of NotificationPolicy (root) or of one nested policy Args; unset = inherited."""
    kwargs: dict[str, Any] = {"contact_point": node.contact_point}
    if node.matchers:
        kwargs["matchers"] = [{"label": label, "match": op, "value": value} for label, op, value in node.matchers]
    if node.group_by is not None:
        kwargs["group_bies"] = list(node.group_by)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if getattr(node, key) is not None:
            kwargs[key] = getattr(node, key)
    if node.continue_:
        kwargs["continue_"] = True
    if node.mute_timings:
        kwargs["mute_timings"] = list(node.mute_timings)
    if root and (node.matchers or node.continue_ or node.mute_timings):
        raise ValueError("the root notification policy takes no matchers, continue or mute timings")
    return kwargs


# ---- mute timings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MuteInterval:
    weekdays: tuple[str, ...]  # Alertmanager/Grafana syntax: "monday:friday" or "sunday"
    times: tuple[tuple[str, str], ...]  # (start, end) HH:MM, end exclusive; empty = the whole day
    location: str


def day_numbers(weekdays: tuple[str, ...]) -> set[int]:
    """{0..6} (sunday = 0) of weekday specs such as "monday:friday" or "saturday"."""
    days: set[int] = set()
    for spec in weekdays:
        first, _, last = spec.strip().lower().partition(":")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"weekday range {spec!r} runs backwards")
        days.update(range(start, end + 1))
    return days


def weekday_specs(days: set[int]) -> tuple[str, ...]:
    """Shortest list of ranges for a set of day numbers, in week order."""
    specs, ordered = [], sorted(days)
    while ordered:
        start = end = ordered.pop(0)
        while ordered and ordered[0] == end + 1:
            end = ordered.pop(0)
        specs.append(WEEKDAYS[start] if start == end else f"{WEEKDAYS[start]}:{WEEKDAYS[end]}")
    return tuple(specs)


def outside(interval: TimeInterval) -> tuple[MuteInterval, ...]:
    """The complement of a working-hours interval within the week."""
    working = day_numbers(interval.weekdays)
    times = tuple(span for span in ((DAY_START, interval.start), (interval.end, DAY_END)) if span[0] != span[1])
    result = []
    if working and times:
        result.append(MuteInterval(weekday_specs(working), times, interval.location))
    if rest := set(range(7)) - working:
        result.append(MuteInterval(weekday_specs(rest), (), interval.location))
    return tuple(result)


def mute_timings(settings: Settings) -> dict[str, tuple[MuteInterval, ...]]:
    """Mute timing name -> its intervals, one per time interval the routes use as active."""
    return {mute_timing_name(interval.name): outside(interval) for interval in time_intervals(settings)}


# ---- contact points --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """One integration of a contact point: its ContactPoint list field and Args keyword arguments.
    `secrets` are revealed only by the component, into Output.secret."""

    field: str  # ContactPoint argument: emails, slacks, pagerduties, webhooks
    kwargs: dict[str, Any]
    secrets: dict[str, Secret] = field(default_factory=dict)


def _common(receiver: str, kind: str) -> dict[str, Any]:
    # A fixed UID per integration keeps the provider from computing a new one, and `settings` (the
    # catch-all map, sensitive in the provider's schema) stays empty so it never differs from state.
    return {"uid": f"{receiver}-{kind}", "disable_resolve_message": not SEND_RESOLVED[receiver], "settings": {}}


def _email(settings: Settings, receiver: str) -> Integration:
    # Grafana sends through its own [smtp] settings (grafana.ini); only the addresses are per contact point.
    return Integration(
        "emails",
        {**_common(receiver, "email"), "addresses": list(settings.receivers.email.to), "single_email": True, "subject": EMAIL_SUBJECT, "message": TEXT},
    )


def _slack(settings: Settings, receiver: str) -> Integration:
    slack = settings.receivers.slack
    return Integration("slacks", {**_common(receiver, "slack"), "recipient": slack.channel, "title": TITLE, "text": TEXT}, {"url": slack.webhook_url})


def _pagerduty(settings: Settings, receiver: str) -> Integration:
    return Integration(
        "pagerduties",
        {**_common(receiver, "pagerduty"), "summary": TITLE, "client": "NGX monitoring", "client_url": DASHBOARD_URL},
        {"integration_key": settings.receivers.pagerduty.routing_key},
    )


def _webhook(settings: Settings, receiver: str) -> Integration:
    return Integration("webhooks", {**_common(receiver, "webhook"), "http_method": "POST"}, {"url": settings.receivers.heartbeat.url})


_BUILDERS: dict[str, Callable[[Settings, str], Integration]] = {
    "email": _email,
    "slack": _slack,
    "pagerduty": _pagerduty,
    "webhook": _webhook,
}


def contact_point_integrations(settings: Settings) -> dict[str, tuple[Integration, ...]]:
    """Receiver -> its integrations, the same ones alertmanager.yml gives it."""
    return {receiver: tuple(_BUILDERS[kind](settings, receiver) for kind in kinds) for receiver, kinds in receiver_integrations(settings).items()}
