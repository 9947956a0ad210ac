"""alertmanager.yml and its message templates, from the routing data in alerting.routing.

No credential is ever written here: every secret is a *_file field naming a file under
paths.SECRETS_DIR (the names live in alerting.receiver_files). Syntax is what both the pinned
Alertmanager 0.28 and Debian's amtool 0.25 accept, with one exception noted at `_webhook`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alerting import receiver_files as files
from alerting.routing import (
    RECEIVERS,
    SEND_RESOLVED,
    InhibitRule,
    Matcher,
    Route,
    TimeInterval,
    inhibit_rules,
    receiver_integrations,
    routing_tree,
    time_intervals,
)
from renderers import paths
from renderers.yamltext import GENERATED, dump
from settings import Settings

TEMPLATES_GLOB = paths.config_path("alertmanager", "templates/*.tmpl")
_TEMPLATE_SOURCES = Path(__file__).resolve().parent.parent / "alerting" / "templates"

# Prometheus re-sends firing alerts every minute with an end time; this only covers clients that don't.
RESOLVE_TIMEOUT = "5m"


def _matcher(matcher: Matcher) -> str:
    label, op, value = matcher
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{label}{op}"{escaped}"'


def _route(route: Route) -> dict[str, Any]:
    document: dict[str, Any] = {"receiver": route.receiver}
    if route.matchers:
        document["matchers"] = [_matcher(m) for m in route.matchers]
    for key in ("group_by", "group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value is not None:
            document[key] = list(value) if key == "group_by" else value
    if route.continue_:
        document["continue"] = True
    if route.active_time_intervals:
        document["active_time_intervals"] = list(route.active_time_intervals)
    if route.routes:
        document["routes"] = [_route(child) for child in route.routes]
    return document


def _time_interval(interval: TimeInterval) -> dict[str, Any]:
    return {
        "name": interval.name,
        "time_intervals": [
            {
                "weekdays": list(interval.weekdays),
                "times": [{"start_time": interval.start, "end_time": interval.end}],
                "location": interval.location,
            }
        ],
    }


def _inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source_matchers": [_matcher(m) for m in rule.source_matchers],
        "target_matchers": [_matcher(m) for m in rule.target_matchers],
    }
    if rule.equal:
        document["equal"] = list(rule.equal)
    return document


def _email(settings: Settings, send_resolved: bool) -> dict[str, Any]:
    email = settings.receivers.email
    config: dict[str, Any] = {
        "send_resolved": send_resolved,
        "to": ", ".join(email.to),
        "from": email.sender,
        "smarthost": email.smarthost,
        "require_tls": email.require_tls,
    }
    if email.username is not None:
        config["auth_username"] = email.username
    if email.password is not None:
        config["auth_password_file"] = paths.secret_file(files.SMTP_PASSWORD)
    config["headers"] = {"Subject": '{{ template "ngx.email.subject" . }}'}
    config["html"] = '{{ template "ngx.email.html" . }}'
    config["text"] = '{{ template "ngx.text" . }}'
    return config


def _slack(settings: Settings, send_resolved: bool) -> dict[str, Any]:
    return {
        "send_resolved": send_resolved,
        "api_url_file": paths.secret_file(files.SLACK_WEBHOOK_URL),
        "channel": settings.receivers.slack.channel,
        "title": '{{ template "ngx.title" . }}',
        "title_link": '{{ template "ngx.dashboard_url" . }}',
        "text": '{{ template "ngx.text" . }}',
    }


def _pagerduty(settings: Settings, send_resolved: bool) -> dict[str, Any]:
    return {
        "send_resolved": send_resolved,
        "routing_key_file": paths.secret_file(files.PAGERDUTY_ROUTING_KEY),
        "description": '{{ template "ngx.title" . }}',
        "severity": '{{ template "ngx.pagerduty.severity" . }}',
        "client": "NGX monitoring",
        "client_url": '{{ template "ngx.dashboard_url" . }}',
        "links": [
            {"href": '{{ template "ngx.runbook_url" . }}', "text": "Runbook"},
            {"href": '{{ template "ngx.dashboard_url" . }}', "text": "Dashboard"},
        ],
    }


def _webhook(settings: Settings, send_resolved: bool) -> dict[str, Any]:
    # url_file needs Alertmanager >= 0.26 (the image pins 0.28). Debian's amtool 0.25 refuses the field;
    # tests/test_alertmanager.py asserts exactly that, so the difference is known, not papered over.
    # Writing `url:` instead would put the dead man's switch token into this file.
    return {"send_resolved": send_resolved, "url_file": paths.secret_file(files.HEARTBEAT_URL)}


_INTEGRATIONS: dict[str, tuple[str, Callable[[Settings, bool], dict[str, Any]]]] = {
    "email": ("email_configs", _email),
    "slack": ("slack_configs", _slack),
    "pagerduty": ("pagerduty_configs", _pagerduty),
    "webhook": ("webhook_configs", _webhook),
}


def _receiver(settings: Settings, name: str, integrations: list[str]) -> dict[str, Any]:
    document: dict[str, Any] = {"name": name}
    for integration in integrations:
        key, build = _INTEGRATIONS[integration]
        document[key] = [build(settings, SEND_RESOLVED[name])]
    return document


def render_alertmanager_config(settings: Settings) -> str:
    integrations = receiver_integrations(settings)
    document = {
        "global": {"resolve_timeout": RESOLVE_TIMEOUT},
        "templates": [TEMPLATES_GLOB],
        "route": _route(routing_tree(settings)),
        "inhibit_rules": [_inhibit_rule(rule) for rule in inhibit_rules(settings)],
        "time_intervals": [_time_interval(interval) for interval in time_intervals(settings)],
        # Every receiver exists even with no integration, so routes stay valid; the program warns
        # about those with alerting.routing.unrouted_receivers.
        "receivers": [_receiver(settings, name, integrations[name]) for name in RECEIVERS],
    }
    return dump(document, GENERATED)


def render_alertmanager_templates() -> dict[str, str]:
    """Template file name -> text, placed in the directory TEMPLATES_GLOB reads."""
    return {path.name: path.read_text() for path in sorted(_TEMPLATE_SOURCES.glob("*.tmpl"))}
