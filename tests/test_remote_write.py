"""prometheus.remoteWrite and grafana.longTermStore, from settings to what both backends deploy.

What would break without these: a credential written into prometheus.yml or kept in plain Pulumi
state; a config Prometheus refuses at load (checked by Debian's promtool 2.42 at the in-container
paths); egress wider than the stores' ports, or none on one backend; a stack without the setting that
deploys anything different; a datasource or SLO panel that reads a store the stack does not have.
(The alerts are in tests/test_rules.py and tests/rules/remote-write/, the live path in
tests/live/test_remote_write.py.)
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml

from components.docker.networks import EGRESS_NETWORK, network_plan, networks_of
from components.grafana.datasources import long_term_store_config
from components.kubernetes.network_policies import PUBLIC_IPV4, network_policy_plan, policy_manifest
from dashboards import slo
from dashboards.datasources import LONG_TERM, PROMETHEUS
from policy import offline
from renderers import auth, paths
from renderers.prometheus import render_prometheus_config
from renderers.remote_write import AWS_CREDENTIALS, AWS_CREDENTIALS_ENV, remote_write_config_files, remote_write_env, remote_write_secrets, secret_file_text
from renderers.rules import render_rule_files
from settings import SettingsError, parse
from settings.capacity import estimate
from settings.capacity_remote_write import REMOTE_WRITE_BYTES_PER_SAMPLE, remote_write_bytes_per_second, remote_write_output
from synthesis.recorder import is_secret
from synthesis.run import synth, unwrap
from tests.certs import ThrowawayCA
from tests.sandbox import Sandbox
from topology import GRAFANA, PROMETHEUS as PROMETHEUS_SERVICE, REMOTE_WRITE, ways_out

PASSWORD = "rw-basic-secret-41c7"
TOKEN = "rw-bearer-secret-9e02"
CLIENT_SECRET = "rw-oauth2-secret-5d13"
AWS_SECRET = "rw-aws-secret-77aa"
STORE_PASSWORD = "rw-grafana-secret-03be"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _settings(endpoints: list[dict], platform: str = "docker", **raw) -> object:
    extra = {"kubernetes": {"apiServerCidr": "10.96.0.1/32"}} if platform == "kubernetes" else {}
    return parse({"platform": platform, "prometheus": {"remoteWrite": endpoints}, **extra, **raw}, stack="dev", secret_keys=["prometheus", "grafana"])


EVERY_KIND = [
    {
        "name": "mimir",
        "url": "https://mimir.example.com/api/v1/push",
        "username": "ngx",
        "password": PASSWORD,
        "headers": {"X-Scope-OrgID": "ngx"},
        "keepMetrics": ["ngx_.*", "up"],
        "dropMetrics": ["ngx_debug_.*"],
        "caCertificate": CA_PEM,
    },
    {"name": "thanos", "url": "https://10.20.30.40:10908/api/v1/receive", "bearerToken": TOKEN},
    {
        "name": "cloud",
        "url": "https://prometheus.grafana.net/api/prom/push",
        "oauth2": {"clientId": "ngx", "clientSecret": CLIENT_SECRET, "tokenUrl": "https://auth.example.com/token", "scopes": ["write"]},
    },
    {
        "name": "amp",
        "url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
        "sigv4": {"region": "eu-west-1", "accessKey": "AKIA1", "secretKey": AWS_SECRET},
    },
]
SECRETS = (PASSWORD, TOKEN, CLIENT_SECRET, AWS_SECRET)


# --- settings -------------------------------------------------------------------------------------

BAD = [
    ({"name": "a", "url": "ftp://store.example.com/push"}, "prometheus.remoteWrite[0].url", "http"),
    (
        {"name": "a", "url": "https://s.example.com/push", "username": "u", "password": "p", "bearerToken": "t"},
        "prometheus.remoteWrite[0].bearerToken",
        "one way",
    ),
    ({"name": "a", "url": "http://s.example.com/push", "username": "u", "password": "p"}, "prometheus.remoteWrite[0].url", "allowPlaintextCredentials"),
    ({"name": "a", "url": "https://s.example.com/push", "username": "u"}, "prometheus.remoteWrite[0].password", "--secret"),
    (
        {"name": "a", "url": "https://s.example.com/push", "headers": {"Authorization": "Bearer x"}},
        "prometheus.remoteWrite[0].headers.Authorization",
        "bearerToken",
    ),
    ({"name": "a", "url": "https://s.example.com/push", "keepMetrics": ["ngx_(.*"]}, "prometheus.remoteWrite[0].keepMetrics", "regular expression"),
    ({"name": "Mimir_1", "url": "https://s.example.com/push"}, "prometheus.remoteWrite[0].name", "lower-case"),
    (
        {"name": "a", "url": "https://s.example.com/push", "sigv4": {"region": "eu-west-1", "accessKey": "AKIA"}},
        "prometheus.remoteWrite[0].sigv4.secretKey",
        "is required",
    ),
    ({"name": "a", "url": "https://s.example.com:99999/push"}, "prometheus.remoteWrite[0].url", "invalid port"),
    ({"name": "a", "url": "https://s.example.com/push", "headers": {"X-Amz-Date": "x"}}, "prometheus.remoteWrite[0].headers.X-Amz-Date", "bearerToken"),
    ({"name": "a", "url": "https://s.example.com/push", "queue": {"minShards": 20}}, "prometheus.remoteWrite[0].queue.minShards", "maxShards"),
    ({"name": "a", "url": "https://s.example.com/push", "queue": {"capacity": 100}}, "prometheus.remoteWrite[0].queue.capacity", "maxSamplesPerSend"),
    ({"name": "a", "url": "https://s.example.com/push", "shards": 3}, "prometheus.remoteWrite[0].shards", "not a known key"),
]


@pytest.mark.parametrize("endpoint,key,fix", BAD, ids=[key.rsplit(".", 1)[-1] + ":" + fix for _, key, fix in BAD])
def test_a_bad_endpoint_is_one_line_naming_its_key_and_the_fix(endpoint, key, fix):
    with pytest.raises(SettingsError) as error:
        _settings([endpoint])
    assert error.value.key == key
    assert fix in str(error.value) and "\n" not in str(error.value)


def test_duplicate_names_and_a_non_list_are_refused():
    with pytest.raises(SettingsError) as error:
        _settings([{"name": "a", "url": "https://a.example.com/push"}, {"name": "a", "url": "https://b.example.com/push"}])
    assert error.value.key == "prometheus.remoteWrite[1].name"
    with pytest.raises(SettingsError) as error:
        parse({"platform": "docker", "prometheus": {"remoteWrite": {"name": "a"}}}, stack="dev")
    assert error.value.key == "prometheus.remoteWrite" and "list" in str(error.value)


def test_plaintext_credentials_need_the_explicit_opt_out():
    endpoint = {"name": "a", "url": "http://10.0.0.5:9009/api/v1/push", "username": "u", "password": "p", "allowPlaintextCredentials": True}
    assert _settings([endpoint]).prometheus.remote_write[0].allow_plaintext_credentials is True
    # Without credentials plain http is a store's own business (no secret on the wire).
    assert _settings([{"name": "a", "url": "http://mimir:8080/api/v1/push"}]).prometheus.remote_write[0].url.startswith("http://")


def test_the_long_term_store_refuses_a_password_over_http():
    with pytest.raises(SettingsError) as error:
        parse(
            {"platform": "docker", "grafana": {"longTermStore": {"url": "http://m.example.com/prometheus", "username": "u", "password": "p"}}},
            stack="dev",
            secret_keys=["grafana"],
        )
    assert error.value.key == "grafana.longTermStore.url"


# --- prometheus.yml and the credential files ---------------------------------------------------------


def test_every_kind_of_endpoint_passes_promtool_with_its_files_and_no_credential_inline(tmp_path):
    settings = _settings(EVERY_KIND)
    text = render_prometheus_config(settings)
    assert not [secret for secret in SECRETS if secret in text]
    box = Sandbox(tmp_path / "sandbox")
    box.put(paths.config_path("prometheus", "prometheus.yml"), text)
    for name, rule_text in render_rule_files(settings).items():
        box.put(paths.config_path("prometheus", f"rules/{name}"), rule_text)
    ca = ThrowawayCA(tmp_path / "ca")
    box.put(paths.TLS_CA, ca.ca_pem)
    for user in auth.SERVICE_USERS:
        box.put(paths.password_file(user), "test-password\n", 0o600)
    for key, _ in remote_write_config_files(settings).items():
        box.put(paths.config_path("prometheus", key.split("/", 1)[1]), ca.ca_pem)  # a real PEM where the file is named
    for name, secrets in remote_write_secrets(settings).items():
        box.put(paths.secret_file(name), secret_file_text(settings, name, [s.reveal() for s in secrets]), 0o600)
    result = box.run(["promtool", "check", "config", paths.config_path("prometheus", "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_endpoint_reads_its_credential_from_a_file_and_keeps_or_drops_names():
    blocks = {block["name"]: block for block in yaml.safe_load(render_prometheus_config(_settings(EVERY_KIND)))["remote_write"]}
    assert blocks["mimir"]["basic_auth"] == {"username": "ngx", "password_file": paths.secret_file("remote-write-mimir-password")}
    assert blocks["mimir"]["headers"] == {"X-Scope-OrgID": "ngx"}
    assert blocks["mimir"]["tls_config"] == {"ca_file": paths.config_path("prometheus", "remote-write-mimir-ca.crt")}
    assert blocks["mimir"]["write_relabel_configs"] == [
        {"source_labels": ["__name__"], "regex": "(?:ngx_.*)|(?:up)", "action": "keep"},
        {"source_labels": ["__name__"], "regex": "(?:ngx_debug_.*)", "action": "drop"},
    ]
    assert blocks["thanos"]["authorization"] == {"type": "Bearer", "credentials_file": paths.secret_file("remote-write-thanos-bearer-token")}
    assert blocks["cloud"]["oauth2"]["client_secret_file"] == paths.secret_file("remote-write-cloud-oauth2-client-secret")
    assert blocks["amp"]["sigv4"] == {"region": "eu-west-1", "profile": "remote-write-amp"}
    assert blocks["amp"]["queue_config"] == {
        "capacity": 10000,
        "max_shards": 10,
        "min_shards": 1,
        "max_samples_per_send": 2000,
        "batch_send_deadline": "5s",
        "min_backoff": "30ms",
        "max_backoff": "30s",
    }


def test_sigv4_keys_are_one_shared_credentials_file_named_by_a_path_in_the_environment():
    settings = _settings(EVERY_KIND)
    secrets = remote_write_secrets(settings)
    text = secret_file_text(settings, AWS_CREDENTIALS, [s.reveal() for s in secrets[AWS_CREDENTIALS]])
    assert text == f"[remote-write-amp]\naws_access_key_id = AKIA1\naws_secret_access_key = {AWS_SECRET}\n"
    assert remote_write_env(settings) == {AWS_CREDENTIALS_ENV: paths.secret_file(AWS_CREDENTIALS)}
    # No keys: refused, since Prometheus has no cloud identity here (nor a way to the metadata endpoint).
    with pytest.raises(SettingsError, match=r"remoteWrite\[0\]\.sigv4\.accessKey.*no workload identity"):
        _settings([{"name": "amp", "url": "https://aps.example.com/push", "sigv4": {"region": "eu-west-1", "roleArn": "arn:aws:iam::1:role/w"}}])


def test_without_endpoints_nothing_is_rendered():
    settings = parse({"platform": "docker"}, stack="dev")
    assert "remote_write" not in yaml.safe_load(render_prometheus_config(settings))
    assert remote_write_secrets(settings) == {} and remote_write_env(settings) == {} and remote_write_config_files(settings) == {}
    assert "remote-write.yml" not in render_rule_files(settings)
    assert remote_write_bytes_per_second(settings) is None and remote_write_output(settings) == {}


# --- topology: Kubernetes policies and Docker networks -----------------------------------------------


def _store_rules(settings) -> list[dict]:
    """The egress rules of the `prometheus` NetworkPolicy that go to an address block without exceptions
    (the notification rules exclude the private ranges; the stores' do not)."""
    policy = next(p for p in network_policy_plan(settings) if p.name == PROMETHEUS_SERVICE)
    rules = [rule for rule in policy.egress if rule.peer.cidr is not None and not rule.peer.excluded]
    return [policy_manifest(replace(policy, egress=(rule,)))["egress"][0] for rule in rules]


def test_prometheus_may_leave_only_to_the_stores_ports_on_kubernetes():
    settings = _settings(EVERY_KIND[:2], platform="kubernetes")
    rules = _store_rules(settings)
    # mimir by host name: its port on any address; thanos by IP: that address only.
    assert {(rule["to"][0]["ipBlock"]["cidr"], tuple(p["port"] for p in rule["ports"])) for rule in rules} == {
        (PUBLIC_IPV4, (443,)),
        ("10.20.30.40/32", (10908,)),
    }
    assert _store_rules(parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")) == []


def test_an_oauth2_store_may_also_reach_its_token_endpoint():
    settings = _settings([EVERY_KIND[2]], platform="kubernetes")
    assert {(e.source, e.ports, e.why.split(" ")[0]) for e in ways_out(settings) if e.to == REMOTE_WRITE} == {
        (PROMETHEUS_SERVICE, (443,), "remote"),
        (PROMETHEUS_SERVICE, (443,), "OAuth2"),
    }
    by_ip = {**EVERY_KIND[2], "oauth2": {**EVERY_KIND[2]["oauth2"], "tokenUrl": "https://10.1.2.3:8443/token"}}
    rules = _store_rules(_settings([by_ip], platform="kubernetes"))
    assert ("10.1.2.3/32", (8443,)) in {(rule["to"][0]["ipBlock"]["cidr"], tuple(p["port"] for p in rule["ports"])) for rule in rules}


def test_grafana_may_reach_the_long_term_store_port_only_when_it_is_set():
    store = {"url": "https://mimir.example.com:8443/prometheus", "tenant": "ngx"}
    settings = parse({"platform": "docker", "grafana": {"longTermStore": store}}, stack="dev")
    assert [(e.source, e.ports) for e in ways_out(settings) if e.to == REMOTE_WRITE] == [(GRAFANA, (8443,))]


def test_docker_gives_prometheus_a_way_out_only_with_remote_write():
    """With the application on a Docker network, Prometheus needs no route off the host until it writes remotely."""
    on_network = {"app": {"dockerNetwork": "ngx_default"}}
    without = parse({"platform": "docker", **on_network}, stack="dev")
    with_store = _settings([{"name": "a", "url": "https://a.example.com/push"}], **on_network)
    assert not any(key.startswith(EGRESS_NETWORK) for key in networks_of(network_plan(without), PROMETHEUS_SERVICE))
    assert any(key.startswith(EGRESS_NETWORK) for key in networks_of(network_plan(with_store), PROMETHEUS_SERVICE))


# --- what the program deploys -------------------------------------------------------------------------

RW_CONFIG = [
    "prometheus.remoteWrite[0].name=mimir",
    "prometheus.remoteWrite[0].url=https://mimir.example.com/api/v1/push",
    "prometheus.remoteWrite[0].username=ngx",
]
RW_SECRETS = [f"prometheus.remoteWrite[0].password={PASSWORD}", f"grafana.longTermStore.password={STORE_PASSWORD}"]
STORE_CONFIG = ["grafana.longTermStore.url=https://mimir.example.com/prometheus", "grafana.longTermStore.username=ngx", "grafana.longTermStore.tenant=ngx"]


@pytest.fixture(scope="module", params=["dev", "prod"])
def deployed(request):
    return synth(request.param, RW_CONFIG + STORE_CONFIG, RW_SECRETS)


def test_credentials_stay_secret_through_every_resource_and_file(deployed):
    assert not [key for key, text in deployed.files.items() if PASSWORD in text or STORE_PASSWORD in text]
    for resource in deployed.resources:
        plain = json.dumps(unwrap(_without_secrets(resource.inputs)), default=str)
        assert PASSWORD not in plain and STORE_PASSWORD not in plain, resource.name
    assert not [o for o in json.dumps(deployed.outputs, default=str).split() if PASSWORD in o]


def _without_secrets(value):
    """Inputs with every secret-marked value removed: what would be stored in plain text."""
    if is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def test_prometheus_gets_the_password_file_and_grafana_the_store_datasource(deployed):
    spec = deployed.program["specs"]["prometheus"]
    assert paths.secret_file("remote-write-mimir-password") in spec.secret_files
    sources = {unwrap(r.inputs)["uid"]: r for r in deployed.of_type("grafana:oss/dataSource:DataSource")}
    store = sources[LONG_TERM.uid]
    assert unwrap(store.inputs)["url"] == "https://mimir.example.com/prometheus"
    assert is_secret(store.inputs["secureJsonDataEncoded"])
    assert json.loads(unwrap(store.inputs["secureJsonDataEncoded"])) == {"basicAuthPassword": STORE_PASSWORD, "httpHeaderValue1": "ngx"}
    assert unwrap(store.inputs)["basicAuthUsername"] == "ngx"


def test_the_capacity_output_adds_the_bandwidth(deployed):
    settings = deployed.settings
    expected = estimate(settings).samples_per_second * settings.prometheus.replicas * REMOTE_WRITE_BYTES_PER_SAMPLE / 1024
    assert unwrap(deployed.outputs["capacity"])["remoteWriteKiBPerSecondPerStore"] == round(expected, 1)


# --- Grafana: the long-term datasource and the SLO dashboard ------------------------------------------


def test_the_slo_dashboard_reads_the_store_variable_only_with_a_long_term_store():
    plain = slo.build(parse({"platform": "docker"}, stack="dev"))
    assert [v["name"] for v in plain["templating"]["list"]] == ["env"]
    settings = parse({"platform": "docker", "grafana": {"longTermStore": {"url": "https://m.example.com/prometheus"}}}, stack="dev")
    model = slo.build(settings)
    variable = next(v for v in model["templating"]["list"] if v["name"] == slo.STORE_VARIABLE)
    assert variable["type"] == "datasource" and variable["current"]["value"] == LONG_TERM.uid
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert panels and all(p["datasource"]["uid"] == "${store}" for p in panels)
    assert all(t["datasource"]["uid"] == "${store}" for p in panels for t in p["targets"])
    assert f"Availability ({slo.QUARTER})" in [p["title"] for p in panels]
    assert long_term_store_config(settings).json_data["prometheusType"] == "Prometheus"
    assert PROMETHEUS.uid not in json.dumps(model["panels"])


def test_the_policy_pack_passes_with_a_store(deployed):
    """The password file, the egress rule and the datasource break none of the stack's own policies."""
    assert offline.check_stack(deployed) == []
