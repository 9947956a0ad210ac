"""The live tests' own parts, checked without a stack: the simulator exposes exactly the catalog, its
modes do what the scenarios rely on, the sink reads each integration's notifications, and the
rendered timings are read from the files. A live test is only as good as these."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import urllib.request
from email.message import EmailMessage

import pytest
from prometheus_client.parser import text_string_to_metric_families

import catalog
from renderers.alertmanager import render_alertmanager_config
from renderers.prometheus import render_prometheus_config
from renderers.rules import render_rule_files
from settings import parse
from synthesis.stack_config import load_stack_config, settings_mapping
from tests.certs import ThrowawayCA
from tests.live.clients import Endpoint
from tests.live.deployment import LIVE_SECRETS, LIVE_STACK
from tests.live.simulator import FLOOD_METRIC, Simulator
from tests.live.sink import Sink
from tests.live.stack import LiveStack
from tests.live.timings import RenderedTimings, patience


@pytest.fixture
def simulator(tmp_path):
    with Simulator("127.0.0.1", 0, tmp_path / "api.log", rate=200) as sim:
        yield sim


def _families(sim: Simulator) -> dict:
    body = urllib.request.urlopen(f"http://127.0.0.1:{sim.bound_port}/metrics", timeout=10).read().decode()
    return {family.name: family for family in text_string_to_metric_families(body)}


def test_simulator_exposes_every_catalog_metric_with_exactly_its_labels(simulator):
    families = _families(simulator)
    for metric in catalog.APP_METRICS:
        name = metric.name[: -len("_total")] if metric.type == "counter" else metric.name
        assert name in families, f"{metric.name} is not exposed"
        family = families[name]
        assert family.type == metric.type, (metric.name, family.type)
        stored = {sample.name for sample in family.samples} - {f"{name}_created"}
        assert stored == set(metric.series_names()), (metric.name, stored)
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = set(sample.labels) - ({"le"} if sample.name.endswith("_bucket") else set())
            assert labels == set(metric.labels), (sample.name, sample.labels)


def _requests(sim: Simulator) -> dict[str, float]:
    totals: dict[str, float] = {}
    for sample in _families(sim)["ngx_api_requests"].samples:
        if sample.name == "ngx_api_requests_total":
            kind = "5xx" if sample.labels["status"].startswith("5") else "ok"
            totals[kind] = totals.get(kind, 0.0) + sample.value
    return totals


def test_simulator_error_burst_fails_about_half_the_requests(simulator):
    before = _requests(simulator)
    assert before.get("5xx", 0.0) == 0.0, "healthy traffic has no 5xx"
    simulator.set_mode("error_burst")
    simulator.advance(simulator._last + 10)  # ten simulated seconds: about 2000 requests
    after = _requests(simulator)
    errors, ok = after["5xx"] - before.get("5xx", 0.0), after["ok"] - before["ok"]
    assert 0.4 < errors / (errors + ok) < 0.6


def test_simulator_flood_exceeds_the_default_sample_limit_and_stopped_refuses(simulator, tmp_path):
    simulator.set_mode("flood")
    families = _families(simulator)
    assert len(families[FLOOD_METRIC].samples) == simulator.flood_series > 20_000
    port = simulator.bound_port
    simulator.set_mode("stopped")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_simulator_writes_structured_json_logs(simulator):
    simulator.advance(simulator._last + 5)
    lines = [json.loads(line) for line in simulator.log_file.read_text().splitlines()]
    assert lines, "no log lines"
    for line in lines:
        assert {"timestamp", "level", "event", "conversation_id", "request_id", "tier"} <= set(line)
    assert {"conversation_started", "ml_prediction"} <= {line["event"] for line in lines}


@pytest.fixture
def sink(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    leaf = ca.issue("sink", ["hooks.slack.com", "events.pagerduty.com"], ips=["127.0.0.1"])
    (tmp_path / "tls.crt").write_text(leaf.cert)
    (tmp_path / "tls.key").write_text(leaf.key)
    with Sink("127.0.0.1", str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"), https_port=0, smtp_port=0) as running:
        running.ca_file = str(ca.dir / "ca.crt")
        yield running


def test_sink_reads_slack_and_pagerduty_notifications(sink):
    for host, body in (
        ("hooks.slack.com", {"channel": "#x", "attachments": [{"title": "[FIRING:2] APIDown (ngx-api)"}]}),
        ("events.pagerduty.com", {"event_action": "resolve", "dedup_key": "k", "payload": {"summary": "[RESOLVED] APIDown (ngx-api)"}}),
    ):
        reply = Endpoint("127.0.0.1", sink.https_port, name=host, ca_file=sink.ca_file).post("/x", json.dumps(body).encode())
        assert reply.status in (200, 202)
    slack = sink.wait_for(5, integration="slack")
    page = sink.wait_for(5, integration="pagerduty")
    assert (slack.status, slack.alertname) == ("firing", "APIDown")
    assert (page.status, page.alertname) == ("resolved", "APIDown")


def test_sink_takes_mail_only_over_starttls_and_records_the_login(sink):
    message = EmailMessage()
    message["Subject"] = "[FIRING:1] GrafanaDown (grafana)"
    message["From"], message["To"] = "a@example.com", "b@example.com"
    message.set_content("body")
    context = ssl.create_default_context(cafile=sink.ca_file)
    with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as client:
        client.ehlo("test")
        assert not client.has_extn("auth"), "AUTH must not be offered before STARTTLS"
        client.starttls(context=context)
        client.ehlo("test")
        client.login("user", "secret")
        client.send_message(message)
    mail = sink.wait_for(5, integration="email")
    assert (mail.status, mail.alertname) == ("firing", "GrafanaDown")
    assert mail.meta["auth"] == ("user", "secret") and mail.meta["tls"]
    assert mail.meta["from"] == "a@example.com" and mail.meta["to"] == ["b@example.com"]


def test_rendered_timings_follow_the_routes_of_the_rendered_alertmanager_config(dev_stack):
    timings = RenderedTimings(dev_stack.files)
    page = timings.route({"alertname": "APIDown", "severity": "critical", "job": "ngx-api"})
    mail = timings.route({"alertname": "TargetDown", "severity": "warning", "job": "node"})
    assert page.receiver == "oncall-pager" and mail.receiver == "ops-email"
    assert page.group_wait < mail.group_wait, "pages go out before batched mail"
    assert timings.for_("APIDown") == 120.0  # dev default apiDownFor 2m
    assert timings.first_notification_bound("APIDown", {"severity": "critical"}) == 15 + 2 * 15 + 120 + page.group_wait


def _livetest_timings() -> RenderedTimings:
    """The livetest stack's rendered prometheus.yml, alertmanager.yml and rules (no synth needed)."""
    config = load_stack_config(LIVE_STACK, [], [f"{key}={value}" for key, value in LIVE_SECRETS.items()])
    raw, secret_keys = settings_mapping(config)
    settings = parse(raw, stack=LIVE_STACK, secret_keys=secret_keys)
    files = {"prometheus/prometheus.yml": render_prometheus_config(settings), "alertmanager/alertmanager.yml": render_alertmanager_config(settings)}
    files.update({f"prometheus/rules/{name}": text for name, text in render_rule_files(settings).items()})
    return RenderedTimings(files)


# The live scenarios wait for these notifications (labels, severity of the rule).
WAITED_FOR = (
    ({"alertname": "APIDown", "severity": "critical", "job": "ngx-api"}, None),
    ({"alertname": "HighErrorRate", "severity": "critical", "job": "ngx-api"}, None),
    ({"alertname": "SLOErrorBudgetBurn", "severity": "critical", "job": "ngx-api"}, "critical"),
    ({"alertname": "GrafanaDown", "severity": "warning", "job": "grafana"}, None),
    ({"alertname": "PrometheusScrapeSampleLimitHit", "severity": "warning", "job": "prometheus"}, None),
)


def test_livetest_timings_keep_every_live_wait_within_a_minute_and_a_half():
    """The live suite lasts as long as its longest derived wait: every notification it waits for, and
    the resolve at the next page group_interval tick, comes within 90 s even with the patience given to
    a loaded machine. Without the livetest stack's shortened settings this is minutes (dev's defaults)."""
    live = _livetest_timings()
    for labels, severity in WAITED_FOR:
        assert patience(live.first_notification_bound(labels["alertname"], labels, severity)) <= 90, labels
    page = live.route(WAITED_FOR[0][0])
    assert page.group_interval + 30 <= 90, "the resolve waits for the next group_interval tick"
    assert page.group_wait < live.route(WAITED_FOR[3][0]).group_wait, "pages go out before batched mail, here too"


def test_nginx_listen_directives_are_bound_to_the_service_address():
    text = "http {\n    server {\n        listen 8443 ssl http2 default_server;\n    }\n    server {\n        listen 8081;\n    }\n}\n"
    bound = LiveStack._bind_nginx(text, "127.0.9.9")
    assert "listen 127.0.9.9:8443 ssl http2 default_server;" in bound and "listen 127.0.9.9:8081;" in bound
    with pytest.raises(AssertionError):
        LiveStack._bind_nginx("listen [::]:8443 ssl;\n", "127.0.9.9")
