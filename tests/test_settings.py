"""Settings: the stack files are accepted, and each kind of bad value is refused with its key named.

Typos and bad units must fail at the boundary with a message a user can act on, not deploy a
Prometheus that ignores retention or an Alertmanager that pages nobody."""

from __future__ import annotations

import pytest
import yaml

from settings import PROJECT, SettingsError, parse, secret_paths
from settings.schema import Secret
from tests.conftest import ROOT


def stack_mapping(stack: str) -> dict:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items() if key.startswith(f"{PROJECT}:")}


def test_dev_stack_file_is_valid_and_keeps_seed_retention():
    settings = parse(stack_mapping("dev"), stack="dev")
    assert settings.platform == "docker"
    assert settings.prometheus.retention_time == "15d"  # seed guide (es): 15 días
    assert settings.proxy.bind_address == "127.0.0.1"
    assert settings.domain == "monitoring.localhost"


def test_prod_stack_file_is_valid_once_its_credentials_are_set():
    raw = stack_mapping("prod")
    raw["receivers"]["slack"]["webhookUrl"] = "https://hooks.slack.com/services/T/B/X"
    raw["receivers"]["pagerduty"]["routingKey"] = "pd-routing-7Q3"
    raw["receivers"]["heartbeat"]["url"] = "https://hb.example.com/x"
    settings = parse(raw, stack="prod", secret_keys=["receivers"])
    assert (settings.prometheus.retention_time, settings.prometheus.retention_size) == ("30d", "10GB")
    assert settings.prometheus.replicas == 2 and settings.alertmanager.replicas == 3
    assert isinstance(settings.receivers.pagerduty.routing_key, Secret)
    assert "pd-routing-7Q3" not in repr(settings)


def test_prod_stack_file_without_credentials_names_the_missing_one():
    with pytest.raises(SettingsError) as error:
        parse(stack_mapping("prod"), stack="prod")
    assert error.value.key.startswith("receivers.")
    assert "required" in str(error.value)


def test_partial_objects_take_defaults():
    settings = parse({"platform": "docker", "prometheus": {"scrapeInterval": "30s", "evaluationInterval": "1m"}}, stack="dev")
    assert settings.prometheus.scrape_interval == "30s"
    assert settings.prometheus.retention_time == "15d"
    assert settings.alerting.thresholds.error_rate == 0.01
    assert settings.environment == "dev"


def test_platform_defaults_differ_where_the_seed_guides_say():
    dev = parse({"platform": "docker"}, stack="dev")
    prod = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")
    assert dev.prometheus.retention_time == "15d" and prod.prometheus.retention_time == "30d"
    assert prod.prometheus.retention_size == "10GB"
    assert (dev.alertmanager.replicas, prod.alertmanager.replicas) == (1, 3)


BAD_VALUES = [
    ({"platform": "swarm"}, "platform", "one of"),
    ({"prometheus": {"retentionTime": "15 days"}}, "prometheus.retentionTime", "Prometheus duration"),
    ({"prometheus": {"retentionTime": "1.5h"}}, "prometheus.retentionTime", "Prometheus duration"),
    ({"prometheus": {"scrapeInterval": "0s"}}, "prometheus.scrapeInterval", "positive"),
    ({"prometheus": {"retentionSize": "10 gigs"}}, "prometheus.retentionSize", "Prometheus size"),
    ({"prometheus": {"storageSize": "20GB"}}, "prometheus.storageSize", "20Gi"),
    ({"prometheus": {"retentionSize": "10GB", "storageSize": "10Gi"}}, "prometheus.retentionSize", "headroom"),
    ({"prometheus": {"scrapeInterval": "30s", "evaluationInterval": "15s"}}, "prometheus.evaluationInterval", "at least 30s"),
    ({"prometheus": {"replicas": 0}}, "prometheus.replicas", "at least 1"),
    ({"prometheus": {"replicas": 2}}, "prometheus.replicas", "one replica"),
    ({"prometheus": {"retentionTim": "15d"}}, "prometheus.retentionTim", "not a known key"),
    ({"grafan": {}}, "grafan", "not a known key"),
    ({"alerting": {"slo": {"availability": 1}}}, "alerting.slo.availability", "between 0 and 1"),
    ({"alerting": {"slo": {"availability": 0}}}, "alerting.slo.availability", "between 0 and 1"),
    ({"alerting": {"thresholds": {"errorRate": 1.5}}}, "alerting.thresholds.errorRate", "from 0 to 1"),
    ({"alerting": {"thresholds": {"responseTimeP95": "fast"}}}, "alerting.thresholds.responseTimeP95", "number"),
    ({"alerting": {"businessHours": {"start": "9am"}}}, "alerting.businessHours.start", "HH:MM"),
    ({"images": {"grafana": "grafana/grafana:latest"}}, "images.grafana", "not pinned"),
    ({"images": {"loki": "grafana/loki"}}, "images.loki", "not pinned"),
    ({"app": {"targets": ["api.internal"]}}, "app.targets[0]", "host:port"),
    ({"app": {"targets": []}}, "app.targets", "non-empty"),
    ({"app": {"targets": ["a:1", "a:1"]}}, "app.targets", "more than once"),
    ({"app": {"scheme": "ftp"}}, "app.scheme", "one of"),
    ({"redis": {"address": "redis:99999"}}, "redis.address", "host:port"),
    ({"domain": "monitoring_example"}, "domain", "host name"),
    ({"proxy": {"bindAddress": "localhost"}}, "proxy.bindAddress", "not an IP address"),
    ({"proxy": {"httpsPort": 70000}}, "proxy.httpsPort", "TCP port"),
    ({"receivers": {"email": {"smarthost": "smtp:587", "from": "not-an-address", "to": "ops@example.com"}}}, "receivers.email.from", "e-mail"),
    ({"receivers": {"email": {"smarthost": "smtp:587", "from": "a@example.com", "to": ["ops@example"]}}}, "receivers.email.to", "e-mail"),
    ({"receivers": {"slack": {"webhookUrl": "http://hooks.slack.com/x"}}}, "receivers.slack.webhookUrl", "https://"),
    ({"receivers": {"heartbeat": {"url": "hb.example.com"}}}, "receivers.heartbeat.url", "URL"),
    ({"resources": {"prometheus": {"memory": "2GB"}}}, "resources.prometheus.memory", "quantity"),
    ({"resources": {"grafana": {"cpu": "half"}}}, "resources.grafana.cpu", "CPU quantity"),
    ({"resources": {"grafana": {"cpu": "0m"}}}, "resources.grafana.cpu", "CPU quantity"),
    ({"tls": {"certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"}}, "tls.privateKey", "both"),
    ({"tls": {"privateKey": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"}}, "tls.certificate", "both"),
    # TLS modes that cannot work, or that would leave which certificate users see to a precedence rule.
    ({"tls": {"caCertificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"}}, "tls.caCertificate", "stack's own CA"),
    (
        {
            "platform": "kubernetes",
            "tls": {"caCertificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"},
            "kubernetes": {"apiServerCidr": "10.96.0.1/32"},
        },
        "tls.caCertificate",
        "unset tls.caCertificate",
    ),
    (
        {"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32", "clusterIssuer": "letsencrypt", "tlsSecretName": "tls"}},
        "kubernetes.tlsSecretName",
        "unset one of them",
    ),
    (
        {
            "platform": "kubernetes",
            "kubernetes": {"apiServerCidr": "10.96.0.1/32", "clusterIssuer": "letsencrypt"},
            "tls": {
                "certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
                "privateKey": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
            },
        },
        "tls.certificate",
        "kubernetes.clusterIssuer are both set",
    ),
    (
        {
            "platform": "kubernetes",
            "kubernetes": {"apiServerCidr": "10.96.0.1/32", "tlsSecretName": "tls"},
            "tls": {
                "certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
                "privateKey": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
            },
        },
        "tls.certificate",
        "kubernetes.tlsSecretName are both set",
    ),
    ({"kubernetes": {"clusterIssuer": "letsencrypt"}}, "kubernetes.clusterIssuer", "only on platform kubernetes"),
    ({"kubernetes": {"tlsSecretName": "tls"}}, "kubernetes.tlsSecretName", "only on platform kubernetes"),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "0.0.0.0/0"}}, "kubernetes.apiServerCidr", "every address"),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1"}}, "kubernetes.apiServerCidr", "CIDR"),
    # Leading zeros: octal to inet_aton (010 = 8), decimal to others; the standard library refuses them.
    ({"proxy": {"bindAddress": "01.2.3.4"}}, "proxy.bindAddress", "without leading zeros"),
    ({"proxy": {"bindAddress": "127.0.0.256"}}, "proxy.bindAddress", "not an IP address"),
    ({"proxy": {"bindAddress": "fe80::1%eth0"}}, "proxy.bindAddress", "not an IP address"),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "010.96.0.1/32"}}, "kubernetes.apiServerCidr", "without leading zeros"),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/33"}}, "kubernetes.apiServerCidr", "not a CIDR"),
    (
        {"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/24"}},
        "kubernetes.apiServerCidr",
        "host bits set; write the network 10.96.0.0/24, or 10.96.0.1/32 for that one address",
    ),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "fd00::1/64"}}, "kubernetes.apiServerCidr", "write the network fd00::/64, or fd00::1/128"),
    ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "::/0"}}, "kubernetes.apiServerCidr", "every address"),
    ({"app": {"targets": ["01.2.3.4:8000"]}}, "app.targets[0]", "host:port"),
    ({"redis": {"address": "10.0.0.256:6379"}}, "redis.address", "host:port"),
    ({"capacity": {"logVolumePerDay": "50GB"}}, "loki.storageSize", "at least"),
    ({"prometheus": {"configReloadInterval": "1500ms"}}, "prometheus.configReloadInterval", "whole number of seconds"),
    ({"alertmanager": {"configReloadInterval": "0s"}}, "alertmanager.configReloadInterval", "positive"),
    ({"alerting": {"thresholds": {"sampleLimitHitFor": "5 min"}}}, "alerting.thresholds.sampleLimitHitFor", "Prometheus duration"),
    ({"alerting": {"slo": {"pageBurnFor": "0s"}}}, "alerting.slo.pageBurnFor", "positive"),
    ({"alerting": {"routes": {"oncallPager": {"groupWait": "soon"}}}}, "alerting.routes.oncallPager.groupWait", "0s or a positive"),
    ({"alerting": {"routes": {"oncallPager": {"groupInterval": "0s"}}}}, "alerting.routes.oncallPager.groupInterval", "positive"),
    ({"alerting": {"routes": {"opsEmail": {"repeatInterval": "10m"}}}}, "alerting.routes.opsEmail.repeatInterval", "at least that"),
    ({"alerting": {"routes": {"oncallPager": {"repeatInterval": "6d"}}}}, "alerting.routes.oncallPager.repeatInterval", "alertmanager.retention 120h"),
    ({"alerting": {"routes": {"tickets": {}}}}, "alerting.routes.tickets", "not a known key"),
    (
        {"receivers": {"heartbeat": {"url": "https://hb.example.com/x", "timeout": "6m"}}},
        "alerting.routes.heartbeat.repeatInterval",
        "receivers.heartbeat.timeout 6m",
    ),
]


@pytest.mark.parametrize("values,key,phrase", BAD_VALUES, ids=[case[1] for case in BAD_VALUES])
def test_bad_value_names_its_key_and_the_fix(values, key, phrase):
    raw = {"platform": "docker", **values}
    with pytest.raises(SettingsError) as error:
        parse(raw, stack="dev", secret_keys=list(values))
    assert error.value.key == key
    message = str(error.value)
    assert message.startswith(f"{PROJECT}:{key}: ")
    assert phrase in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "platform,values",
    [
        ("docker", {"tls": {"certificate": "C", "privateKey": "K"}}),
        ("docker", {"tls": {"certificate": "C", "privateKey": "K", "caCertificate": "A"}}),
        ("kubernetes", {"kubernetes": {"clusterIssuer": "letsencrypt"}}),
        ("kubernetes", {"kubernetes": {"clusterIssuer": "private-ca"}, "tls": {"caCertificate": "A"}}),
        ("kubernetes", {"kubernetes": {"tlsSecretName": "monitoring-tls"}, "tls": {"caCertificate": "A"}}),
        ("kubernetes", {"tls": {"certificate": "C", "privateKey": "K"}}),
    ],
)
def test_each_tls_mode_is_accepted(platform, values):
    """The modes of trust.py: a provided certificate needs tls.caCertificate only for a private CA."""
    pem = {
        "C": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
        "A": "-----BEGIN CERTIFICATE-----\na\n-----END CERTIFICATE-----",
        "K": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
    }
    tls = {key: pem[value] for key, value in values.get("tls", {}).items()}
    raw = {
        "platform": platform,
        **values,
        "tls": tls,
        "kubernetes": {**values.get("kubernetes", {}), **({"apiServerCidr": "10.96.0.1/32"} if platform == "kubernetes" else {})},
    }
    settings = parse(raw, stack="dev", secret_keys=["tls"])
    assert settings.tls.certificate == tls.get("certificate")


def test_kubernetes_namespaces_must_differ():
    with pytest.raises(SettingsError) as error:
        parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32", "namespace": "mon", "hostNamespace": "mon"}}, stack="prod")
    assert error.value.key == "kubernetes.hostNamespace"


@pytest.mark.parametrize("path", secret_paths())
def test_credentials_in_plain_text_are_refused(path):
    """A credential typed without --secret would sit in the stack file in clear text."""
    top, *rest = path.split(".")
    value: object = (
        "https://hooks.example.com/x"
        if "url" in path.lower()
        else "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"
        if "Key" in path and top == "tls"
        else "x"
    )
    for part in reversed(rest):
        # A list of objects (`remoteWrite[]`): the credential in its first item.
        value = {part.removesuffix("[]"): [value] if part.endswith("[]") else value}
    raw = {"platform": "docker", top: value}
    with pytest.raises(SettingsError) as error:
        parse(raw, stack="dev", secret_keys=[])
    assert "--secret" in str(error.value)
    assert error.value.key == path.replace("[]", "[0]")


def test_secret_values_are_wrapped_and_never_printed():
    settings = parse({"platform": "docker", "grafana": {"adminPassword": "hunter2-seeded"}}, stack="dev", secret_keys=["grafana"])
    assert isinstance(settings.grafana.admin_password, Secret)
    assert settings.grafana.admin_password.reveal() == "hunter2-seeded"
    assert "hunter2-seeded" not in repr(settings) and "hunter2-seeded" not in str(settings.grafana)


def test_settings_are_frozen():
    settings = parse({"platform": "docker"}, stack="dev")
    with pytest.raises(AttributeError):
        settings.prometheus.replicas = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "written,canonical", [("0.0.0.0", "0.0.0.0"), ("192.168.1.10", "192.168.1.10"), ("::1", "::1"), ("::", "::"), ("2001:DB8:0:0::1", "2001:db8::1")]
)
def test_the_proxy_binds_to_ipv4_or_ipv6_addresses_in_their_canonical_spelling(written, canonical):
    assert parse({"platform": "docker", "proxy": {"bindAddress": written}}, stack="dev").proxy.bind_address == canonical


@pytest.mark.parametrize(
    "written,canonical",
    [("10.96.0.1/32", "10.96.0.1/32"), ("10.96.0.0/12", "10.96.0.0/12"), ("fd00:10:96::1/128", "fd00:10:96::1/128"), ("FD00::/108", "fd00::/108")],
)
def test_the_api_server_cidr_may_be_ipv4_or_ipv6(written, canonical):
    settings = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": written}}, stack="prod")
    assert settings.kubernetes.api_server_cidr == canonical


def test_hosts_that_look_like_addresses_must_be_addresses():
    """A numeric last label is no DNS name, so 10.0.0.5 is an address and 010.0.0.5 is refused, not resolved."""
    settings = parse({"platform": "docker", "app": {"targets": ["10.0.0.5:8000", "api-1.internal:8000"]}}, stack="dev")
    assert settings.app.targets == ("10.0.0.5:8000", "api-1.internal:8000")
