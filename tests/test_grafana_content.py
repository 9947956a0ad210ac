"""GrafanaContent under mocks, with each stack's settings: the providers wait for Grafana and trust only
the stack's CA, content is managed with the service-account token, secrets stay secret, and Grafana
routes alerts exactly as alertmanager.yml does (both derive from alerting.routing; one test proves the
two renderings agree, minute by minute for the working-hours window).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_random as random
import pytest
import yaml
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

import addresses
import trust
from alerting.routing import receiver_integrations
from components.certificates import Certificates, CertificatesArgs
from components.credentials import Credentials, CredentialsArgs
from components.grafana import GrafanaContent, GrafanaContentArgs, alerting as derived
from components.grafana.content import ANNOTATION_ACCOUNT, ANNOTATION_ROLE, AUTOMATION_ACCOUNT, AUTOMATION_ROLE, ROTATION_DAYS, TOKEN_TTL_SECONDS
from dashboards import DASHBOARDS, FOLDERS, render_dashboards
from dashboards.datasources import ALERTMANAGER, DATASOURCES, LOKI, PROMETHEUS
from renderers.alertmanager import render_alertmanager_config
from settings import PROJECT, Settings, parse
from synthesis.recorder import DependencyMonitor, Recorded, Recorder, is_secret
from synthesis.run import unwrap
from synthesis.stack_config import load_stack_config, settings_mapping
from tests.conftest import SEEDED_CONFIG, SEEDED_SECRETS
from topology import ALERTMANAGER as ALERTMANAGER_SERVICE, LOKI as LOKI_SERVICE, PROMETHEUS as PROMETHEUS_SERVICE

NAME = "ngx-grafana-content"
ROTATED_AT = "2026-01-01"  # the recorder's fixed time.Rotating date
ROTATING = "time:index/rotating:Rotating"
PROVIDER = "pulumi:providers:grafana"
CONTACT_POINT = "grafana:alerting/contactPoint:ContactPoint"
POLICY = "grafana:alerting/notificationPolicy:NotificationPolicy"
MUTE_TIMING = "grafana:alerting/muteTiming:MuteTiming"
DATASOURCE = "grafana:oss/dataSource:DataSource"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
FOLDER = "grafana:oss/folder:Folder"
SERVICE_ACCOUNT = "grafana:oss/serviceAccount:ServiceAccount"
TOKEN = "grafana:oss/serviceAccountToken:ServiceAccountToken"
ADMIN_PASSWORD = "pulumi-python:dynamic/ngx:GrafanaAdminPassword"
TOKEN_KEY = "glsa_synth_token_key"
# alertmanager.yml integration keys -> ContactPoint list fields
AM_INTEGRATIONS = {"email_configs": "emails", "slack_configs": "slacks", "pagerduty_configs": "pagerduties", "webhook_configs": "webhooks"}
MINUTES_PER_WEEK = 7 * 24 * 60


class _Mocks(Recorder):
    """The synth recorder, plus what the Grafana provider would compute for a token."""

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        if args.typ == TOKEN:
            outputs = {**outputs, "key": TOKEN_KEY}
        return resource_id, outputs


@dataclass
class Run:
    settings: Settings
    resources: list[Recorded]
    dependencies: dict[str, set[str]]
    captured: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Recorded:
        [resource] = [r for r in self.resources if r.name == name]
        return resource

    def depends_on(self, name: str) -> set[str]:
        """Every resource `name` waits for, directly or through the resources it waits for."""
        seen, todo = set(), [name]
        while todo:
            for dep in self.dependencies.get(todo.pop(), set()) - seen:
                seen.add(dep)
                todo.append(dep)
        return seen


# Route timings other than the defaults in the seeded stacks: Grafana's policies follow the settings.
ROUTE_TIMINGS = {"oncallPager": ("7s", "4m", "2h"), "opsEmail": ("90s", "20m", "10h"), "heartbeat": ("5s", "2m", "6m")}
SEEDED_TIMINGS = [
    f"alerting.routes.{route}.{key}={value}"
    for route, values in ROUTE_TIMINGS.items()
    for key, value in zip(("groupWait", "groupInterval", "repeatInterval"), values, strict=False)
]


def stack_settings(stack: str, seeded: bool) -> Settings:
    config = load_stack_config(
        stack, SEEDED_CONFIG + SEEDED_TIMINGS if seeded else [], [f"{path}={value}" for path, value in SEEDED_SECRETS.items()] if seeded else []
    )
    raw, secret = settings_mapping(config)
    return parse(raw, stack=stack, secret_keys=secret)


def run_content(stack: str, seeded: bool = True) -> Run:
    settings = stack_settings(stack, seeded)
    mocks = _Mocks()
    monitor = DependencyMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.register_stack_transformation(mocks.transformation)
    captured: dict[str, Any] = {}

    def program():
        credentials = Credentials("ngx-credentials", CredentialsArgs(settings.proxy.admin_user, settings.grafana.admin_password))
        certificates = Certificates(
            "ngx-tls",
            CertificatesArgs(
                settings.environment, settings.domain, addresses.internal_tls_names(settings), settings.tls, trust.proxy_presents_public(settings)
            ),
        )
        # Stands in for the backend's grafana_ready: an output of the resources Grafana runs in.
        health = random.RandomId("grafana-health", byte_length=4)
        roots = trust.public_trust(settings)
        content = GrafanaContent(
            NAME,
            GrafanaContentArgs(
                settings=settings,
                url=addresses.public_url(settings, "grafana"),
                public_trust=roots,
                ca_pem=certificates.ca_bundle(roots),
                admin_user=settings.grafana.admin_user,
                admin_password=credentials.grafana_admin_password,
                grafana_password=credentials.passwords["grafana"],
                internal_ca_pem=certificates.ca_bundle(trust.INTERNAL),
                ready=health.hex,
            ),
        )
        return pulumi.Output.all(credentials.passwords["grafana"], certificates.internal_ca_pem, certificates.ca_bundle(roots), content.dashboard_urls).apply(
            lambda values: captured.update(grafana_password=values[0], internal_ca=values[1], ca=values[2], urls=values[3])
        )

    _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(program()).future())))
    return Run(settings, mocks.all(), monitor.dependencies, captured)


@pytest.fixture(scope="module", params=["dev", "prod"])
def seeded(request) -> Run:
    """A stack with every receiver configured (SEEDED_CONFIG / SEEDED_SECRETS)."""
    return run_content(request.param, seeded=True)


@pytest.fixture(scope="module")
def prod_as_committed() -> Run:
    """prod with its stack file only: every receiver is configured there (credentials as placeholders)."""
    return run_content("prod", seeded=False)


# ---- providers --------------------------------------------------------------------------------------------


def test_providers_wait_for_grafana_and_trust_the_roots_of_the_public_url(seeded):
    """A provider that talks to Grafana before it answers fails the first deploy; one that skips TLS
    verification would hand the admin password to anyone in the middle. (Every TLS mode: test_trust.py.)"""
    providers = {r.name: r for r in seeded.of_type(PROVIDER)}
    assert set(providers) == {f"{NAME}-bootstrap", f"{NAME}-provider"}
    for name, provider in providers.items():
        assert "grafana-health" in seeded.depends_on(name), f"{name} does not wait for Grafana's readiness"
        assert provider.inputs["url"] == addresses.public_url(seeded.settings, "grafana")
        assert provider.inputs["url"].startswith("https://")
        assert provider.inputs.get("caCert") == seeded.captured["ca"], f"{name} is not given the public URL's roots"
        assert not provider.inputs.get("insecureSkipVerify"), f"{name} skips TLS verification"
        assert is_secret(provider.inputs["auth"]), f"{name}'s credentials are not secret"
    assert "grafana-health" in seeded.depends_on(f"{NAME}-admin-password")


def test_bootstrap_uses_the_admin_and_content_uses_a_rotating_service_account_token(seeded):
    bootstrap, content = seeded.named(f"{NAME}-bootstrap"), seeded.named(f"{NAME}-provider")
    assert unwrap(bootstrap.inputs["auth"]).startswith(f"{seeded.settings.grafana.admin_user}:")
    assert f"{NAME}-admin-password" in seeded.depends_on(f"{NAME}-bootstrap"), "bootstrap logs in before the password is synced"
    assert unwrap(content.inputs["auth"]) == TOKEN_KEY
    accounts = {r.inputs["name"]: r for r in seeded.of_type(SERVICE_ACCOUNT)}
    assert accounts[AUTOMATION_ACCOUNT].inputs["role"] == AUTOMATION_ROLE == "Admin"
    assert accounts[ANNOTATION_ACCOUNT].inputs["role"] == ANNOTATION_ROLE == "Editor", "deploy annotations need no more than Editor"
    assert set(accounts) == {AUTOMATION_ACCOUNT, ANNOTATION_ACCOUNT}
    tokens = seeded.of_type(TOKEN)
    assert len(tokens) == 2
    for resource in [*accounts.values(), *tokens]:
        assert resource.options["provider"] == f"{NAME}-bootstrap"
        assert resource.inputs.get("isDisabled", False) is False
    for token in tokens:
        assert token.inputs["name"] == f"pulumi-{ROTATED_AT}" and token.inputs["secondsToLive"] == TOKEN_TTL_SECONDS
    managed = [r for r in seeded.resources if r.type.startswith("grafana:") and r.type not in (SERVICE_ACCOUNT, TOKEN)]
    assert managed and all(r.options["provider"] == f"{NAME}-provider" for r in managed)
    admin = seeded.named(f"{NAME}-admin-password")
    assert is_secret(admin.inputs["password"]) and admin.inputs["user"] == seeded.settings.grafana.admin_user


def test_the_docs_say_what_the_deploy_annotation_token_can_do_with_the_role_the_code_gives_it(seeded):
    """The deploy-annotation token's role is more than annotations (Editor may change contact points and
    notification policies); docs/grafana-content.md and ops/annotate_deploy.py must say so, and name the
    role the program really gives the account, so a change of role cannot leave them behind."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    accounts = {r.inputs["name"]: r for r in seeded.of_type(SERVICE_ACCOUNT)}
    role = accounts[ANNOTATION_ACCOUNT].inputs["role"]
    page = (root / "docs" / "grafana-content.md").read_text()
    section = page.split("## The deploy-annotation token", 1)[1].split("\n## ", 1)[0]
    assert f"`{ANNOTATION_ACCOUNT}`, with role `{role}`" in section
    assert "**contact points, notification policies**" in section and "cannot read or change datasources" in section
    program = (root / "ops" / "annotate_deploy.py").read_text().split('"""', 2)[1]
    assert f"basic role {role}" in program and "cannot change" not in program


def test_tokens_rotate_from_state_and_outlive_a_missed_rotation(seeded):
    """The rotation date lives in a time.Rotating resource, so runs between rotations change nothing
    (no clock in the program); a token outlives one missed rotation."""
    [rotation] = seeded.of_type(ROTATING)
    assert rotation.inputs["rotationDays"] == ROTATION_DAYS
    assert TOKEN_TTL_SECONDS >= 2 * ROTATION_DAYS * 24 * 3600
    for token in seeded.of_type(TOKEN):
        assert rotation.name in seeded.depends_on(token.name), "the token name must come from the rotation"


def test_every_child_is_parented_and_named_after_the_component(seeded):
    children = [r for r in seeded.resources if r.parent == NAME]
    assert len(children) > 20
    assert all(r.name.startswith(f"{NAME}-") for r in children)
    grafana_resources = [r for r in seeded.resources if r.type.startswith(("grafana:", PROVIDER, "pulumi-python:dynamic"))]
    assert all(r.parent == NAME for r in grafana_resources)


def test_args_refuse_an_insecure_url():
    settings = stack_settings("dev", seeded=False)
    with pytest.raises(ValueError, match="url"):
        GrafanaContentArgs(settings, "http://monitoring.localhost/grafana/", trust.INTERNAL, "ca", "admin", "pw", "pw", "ca", True)


# ---- folders, datasources, dashboards ---------------------------------------------------------------------


def test_datasources_have_fixed_uids_internal_urls_and_verified_tls(seeded):
    datasources = {r.inputs["uid"]: r for r in seeded.of_type(DATASOURCE)}
    assert set(datasources) == set(DATASOURCES)
    # Prometheus and Alertmanager serve under their route prefix; Loki's API paths carry /loki/ themselves.
    urls = {
        PROMETHEUS.uid: addresses.url(seeded.settings, PROMETHEUS_SERVICE) + "/prometheus",
        LOKI.uid: addresses.url(seeded.settings, LOKI_SERVICE),
        ALERTMANAGER.uid: addresses.url(seeded.settings, ALERTMANAGER_SERVICE) + "/alertmanager",
    }
    for uid, resource in datasources.items():
        assert resource.inputs["url"] == urls[uid]
        assert resource.inputs["type"] == DATASOURCES[uid].type and resource.inputs["name"] == DATASOURCES[uid].name
        assert is_secret(resource.inputs["secureJsonDataEncoded"])
        json_data = json.loads(resource.inputs["jsonDataEncoded"])
        assert not json_data.get("tlsSkipVerify")
    assert [uid for uid, r in datasources.items() if r.inputs["isDefault"]] == [PROMETHEUS.uid]
    for uid in (PROMETHEUS.uid, ALERTMANAGER.uid):
        resource = datasources[uid]
        secure = json.loads(unwrap(resource.inputs["secureJsonDataEncoded"]))
        assert resource.inputs["basicAuthEnabled"] is True and resource.inputs["basicAuthUsername"] == "grafana"
        assert secure == {"basicAuthPassword": seeded.captured["grafana_password"], "tlsCACert": seeded.captured["internal_ca"]}
        assert json.loads(resource.inputs["jsonDataEncoded"])["tlsAuthWithCACert"] is True
        assert seeded.captured["grafana_password"] not in json.dumps({k: v for k, v in resource.inputs.items() if k != "secureJsonDataEncoded"}), (
            "password outside the secure JSON"
        )
    assert json.loads(datasources[ALERTMANAGER.uid].inputs["jsonDataEncoded"])["implementation"] == "prometheus"
    loki = json.loads(datasources[LOKI.uid].inputs["jsonDataEncoded"])
    assert loki["httpHeaderName1"] == "X-Scope-OrgID"
    assert json.loads(unwrap(datasources[LOKI.uid].inputs["secureJsonDataEncoded"])) == {"httpHeaderValue1": seeded.settings.loki.tenant}
    assert {f["name"] for f in loki["derivedFields"]} == {"request_id", "trace_id"}
    for derived_field in loki["derivedFields"]:
        assert derived_field["datasourceUid"] == LOKI.uid
        assert re.search(derived_field["matcherRegex"], f'{{"level": "info", "{derived_field["name"]}": "abc-123"}}').group(1) == "abc-123"


def test_each_dashboard_is_uploaded_as_rendered_into_its_folder(seeded):
    rendered = render_dashboards(seeded.settings)
    dashboards = {json.loads(r.inputs["configJson"])["uid"]: r for r in seeded.of_type(DASHBOARD)}
    assert set(dashboards) == {spec.uid for spec in DASHBOARDS}
    for spec in DASHBOARDS:
        resource = dashboards[spec.uid]
        assert resource.inputs["configJson"] == rendered[f"{spec.uid}.json"]
        assert resource.inputs["folder"] == spec.folder
        assert {f"{NAME}-datasource-{ds.type}" for ds in DATASOURCES.values()} <= set(resource.options["dependsOn"])
    assert {r.inputs["uid"] for r in seeded.of_type(FOLDER)} == set(FOLDERS)
    assert seeded.captured["urls"]["ngx-overview"] == addresses.public_url(seeded.settings, "grafana") + "d/ngx-overview"


# ---- alerting -------------------------------------------------------------------------------------------


def test_exactly_one_notification_policy(seeded, prod_as_committed):
    assert len(seeded.of_type(POLICY)) == 1
    assert len(prod_as_committed.of_type(POLICY)) == 1


def test_unconfigured_receivers_leave_grafanas_default_policy_alone():
    """dev as committed configures no receiver: Grafana cannot hold a contact point without an
    integration, so it gets none and no policy (the program warns)."""
    run = run_content("dev", seeded=False)
    assert not any(receiver_integrations(run.settings).values())
    assert run.of_type(POLICY) == [] and run.of_type(CONTACT_POINT) == []
    assert len(run.of_type(DASHBOARD)) == len(DASHBOARDS), "dashboards do not depend on receivers"


def _walk_plain(value: Any, path: str = ""):
    """(path, value) of every leaf outside a secret."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_plain(item, f"{path}[{index}]")
    else:
        yield path, value


def test_contact_point_secrets_are_secret(seeded):
    contact_points = seeded.of_type(CONTACT_POINT)
    assert contact_points
    found = set()
    for resource in contact_points:
        for key, value in resource.inputs.items():
            if key in AM_INTEGRATIONS.values():
                assert is_secret(value), f"{resource.name}.{key} is not secret"
                found.add(json.dumps(unwrap(value)))
        for path, leaf in _walk_plain(resource.inputs):
            for secret in SEEDED_SECRETS.values():
                assert secret not in str(leaf), f"{resource.name}{path} holds a credential in plain text"
    everything = " ".join(found)
    for path in ("receivers.slack.webhookUrl", "receivers.pagerduty.routingKey", "receivers.heartbeat.url"):
        assert SEEDED_SECRETS[path] in everything, f"{path} does not reach its contact point"


def test_contact_point_settings_cannot_cause_a_perpetual_diff(seeded):
    """pulumiverse/pulumi-grafana#379: the catch-all `settings` map is always sent empty and never
    diffed, and every integration carries a fixed uid instead of a computed one."""
    for resource in seeded.of_type(CONTACT_POINT):
        fields = [key for key in resource.inputs if key in AM_INTEGRATIONS.values()]
        assert resource.options["ignoreChanges"] == sorted(f"{key}[*].settings" for key in fields)
        for key in fields:
            for integration in unwrap(resource.inputs[key]):
                assert integration["settings"] == {} and integration["uid"].startswith(resource.inputs["name"])
                assert "disableResolveMessage" in integration


def _am_matcher(text: str) -> tuple[str, str, str]:
    label, op, value = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', text).groups()
    return label, op, value.replace('\\"', '"').replace("\\\\", "\\")


def _minutes(intervals: list[dict[str, Any]], weekdays_key: str, times_key: str, start_key: str, end_key: str) -> frozenset[int]:
    """Minutes of the week (sunday 00:00 = 0) an interval list covers, in its own location."""
    covered = set()
    for interval in intervals:
        days = derived.day_numbers(tuple(interval.get(weekdays_key) or derived.WEEKDAYS[:1])) if interval.get(weekdays_key) else set(range(7))
        spans = [(t[start_key], t[end_key]) for t in interval.get(times_key) or []] or [("00:00", "24:00")]
        for day in days:
            for start, end in spans:
                (sh, sm), (eh, em) = (map(int, start.split(":")), map(int, end.split(":")))
                covered.update(range(day * 1440 + sh * 60 + sm, day * 1440 + eh * 60 + em))
    return frozenset(covered)


def _am_tree(settings: Settings) -> tuple[dict[str, Any], dict[str, set[str]]]:
    config = yaml.safe_load(render_alertmanager_config(settings))
    intervals = {entry["name"]: entry["time_intervals"] for entry in config.get("time_intervals", [])}
    locations = {entry["name"]: {i.get("location", "UTC") for i in entry["time_intervals"]} for entry in config.get("time_intervals", [])}

    def active(route: dict[str, Any]) -> tuple[frozenset[int] | None, set[str]]:
        names = route.get("active_time_intervals", [])
        muted = route.get("mute_time_intervals", [])
        if not names and not muted:
            return None, set()
        minutes = frozenset(range(MINUTES_PER_WEEK))
        if names:
            minutes = frozenset().union(*(_minutes(intervals[n], "weekdays", "times", "start_time", "end_time") for n in names))
        for name in muted:
            minutes -= _minutes(intervals[name], "weekdays", "times", "start_time", "end_time")
        return minutes, set().union(*(locations[n] for n in names + muted))

    def node(route: dict[str, Any]) -> dict[str, Any]:
        minutes, where = active(route)
        return {
            "receiver": route["receiver"],
            "matchers": sorted(_am_matcher(m) for m in route.get("matchers", [])),
            "group_by": route.get("group_by"),
            "timings": [route.get(k) for k in ("group_wait", "group_interval", "repeat_interval")],
            "continue": route.get("continue", False),
            "active_minutes": minutes,
            "locations": where,
            "routes": [node(child) for child in route.get("routes", [])],
        }

    receivers = {r["name"]: {AM_INTEGRATIONS[key] for key in r if key.endswith("_configs")} for r in config["receivers"]}
    return node(config["route"]), receivers


def _grafana_tree(run: Run) -> tuple[dict[str, Any], dict[str, set[str]]]:
    [policy] = run.of_type(POLICY)
    mutes = {r.inputs["name"]: r.inputs["intervals"] for r in run.of_type(MUTE_TIMING)}

    def node(p: dict[str, Any]) -> dict[str, Any]:
        names = p.get("muteTimings", []) + p.get("activeTimings", [])
        minutes, where = None, set()
        if names:
            minutes = frozenset(range(MINUTES_PER_WEEK))
            for name in p.get("activeTimings", []):
                minutes &= _minutes(mutes[name], "weekdays", "times", "start", "end")
            for name in p.get("muteTimings", []):
                minutes -= _minutes(mutes[name], "weekdays", "times", "start", "end")
            where = {i.get("location", "UTC") for name in names for i in mutes[name]}
        return {
            "receiver": p["contactPoint"],
            "matchers": sorted((m["label"], m["match"], m["value"]) for m in p.get("matchers", [])),
            "group_by": p.get("groupBies"),
            "timings": [p.get(k) for k in ("groupWait", "groupInterval", "repeatInterval")],
            "continue": p.get("continue", False),
            "active_minutes": minutes,
            "locations": where,
            "routes": [node(child) for child in p.get("policies", [])],
        }

    contact_points = {r.inputs["name"]: {k for k in r.inputs if k in AM_INTEGRATIONS.values()} for r in run.of_type(CONTACT_POINT)}
    return node(policy.inputs), contact_points


def test_grafana_routing_equals_alertmanager_routing(seeded, prod_as_committed):
    """Receivers, matchers, grouping, timings and the minutes at which each route may notify are the
    same in Grafana's policy tree as in alertmanager.yml."""
    for run in (seeded, prod_as_committed):
        am_tree, am_receivers = _am_tree(run.settings)
        grafana_tree, contact_points = _grafana_tree(run)
        assert grafana_tree == am_tree
        assert contact_points == {name: kinds for name, kinds in am_receivers.items() if kinds}
        business = [route for route in am_tree["routes"] if route["active_minutes"] is not None]
        assert business, "the business route has working hours in alertmanager.yml"
        assert all(0 < len(route["active_minutes"]) < MINUTES_PER_WEEK for route in business)
    # The seeded stack's timings are the settings', not the defaults.
    timings = {route["receiver"]: route["timings"] for route in _grafana_tree(seeded)[0]["routes"]}
    assert {name: tuple(timings[name]) for name in ("oncall-pager", "ops-email", "heartbeat")} == {
        "oncall-pager": ROUTE_TIMINGS["oncallPager"],
        "ops-email": ROUTE_TIMINGS["opsEmail"],
        "heartbeat": ROUTE_TIMINGS["heartbeat"],
    }


@pytest.mark.parametrize(
    "weekdays,start,end",
    [
        (("monday:friday",), "09:00", "18:00"),
        (("monday", "wednesday:thursday", "saturday"), "00:00", "12:30"),
        (("sunday:saturday",), "08:00", "24:00"),
        (("tuesday",), "00:00", "24:00"),
    ],
)
def test_mute_timing_is_the_exact_complement_of_working_hours(weekdays, start, end):
    from alerting.routing import TimeInterval

    interval = TimeInterval("business-hours", weekdays, start, end, "Europe/Madrid")
    working = _minutes([{"weekdays": list(weekdays), "times": [{"start": start, "end": end}]}], "weekdays", "times", "start", "end")
    mutes = derived.outside(interval)
    muted = _minutes(
        [{"weekdays": list(m.weekdays), "times": [{"start": a, "end": b} for a, b in m.times]} for m in mutes], "weekdays", "times", "start", "end"
    )
    assert working.isdisjoint(muted) and working | muted == frozenset(range(MINUTES_PER_WEEK))
    assert all(m.location == "Europe/Madrid" for m in mutes)


def test_message_templates_are_alertmanagers(seeded):
    from renderers.alertmanager import render_alertmanager_templates

    templates = {r.inputs["name"]: r.inputs["template"] for r in seeded.of_type("grafana:alerting/messageTemplate:MessageTemplate")}
    assert templates == {name.removesuffix(".tmpl"): text for name, text in render_alertmanager_templates().items()}
    used = set()
    for resource in seeded.of_type(CONTACT_POINT):
        for key in AM_INTEGRATIONS.values():
            for integration in unwrap(resource.inputs.get(key, [])):
                for text in integration.values():
                    used |= set(re.findall(r'template "([\w.]+)"', str(text)))
    defined = set(re.findall(r'define "([\w.]+)"', "".join(templates.values())))
    assert used and used <= defined, f"contact points use undefined templates {sorted(used - defined)}"
