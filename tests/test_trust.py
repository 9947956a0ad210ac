"""The TLS trust model (trust.py), checked with real certificates and real TLS handshakes.

For every TLS mode of each platform and every hop the model lists, the test makes one real CA per CA
role (stack, public, private, cluster), has the server's issuer sign a certificate for the names the
program gives that server (addresses.tls_names, trust.proxy_tls_names, or `domain` for the public
one), hands the client exactly the roots the model says (the system store modelled as a bundle with
the public CA) and completes a TLS handshake in memory, checking the names the client addresses. A
client that would not trust its server on a cluster fails here: the old public-URL clients, which
trusted only the stack CA, are shown to fail against a cert-manager certificate.

Then the synthesised program in each mode: the Grafana providers, the admin-password resource, the
Ingress and the services' `ca.crt` are given what the model says, and the providers and the
admin-password resource would trust the certificate the synthesised Ingress (or proxy) serves.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import yaml

import addresses
import catalog
import trust
from components.grafana.admin import TRUST_CA, TRUST_SYSTEM
from renderers import paths
from renderers.prometheus import SERVICE_ACCOUNT_DIR
from settings import Settings, parse
from synthesis.run import unwrap
from tests.certs import ThrowawayCA
from tests.tls_modes import synth_variant, value
from topology import PROXY, SERVICES

PEM_CERT = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"
PEM_CA = "-----BEGIN CERTIFICATE-----\nprivate-ca\n-----END CERTIFICATE-----"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"
K8S = {"apiServerCidr": "10.96.0.1/32"}

# (id, platform, raw settings besides `platform`): every TLS mode, with and without a private CA.
VARIANTS = [
    ("docker-stack-ca", "docker", {}),
    ("docker-provided-public", "docker", {"tls": {"certificate": PEM_CERT, "privateKey": PEM_KEY}}),
    ("docker-provided-private", "docker", {"tls": {"certificate": PEM_CERT, "privateKey": PEM_KEY, "caCertificate": PEM_CA}}),
    ("k8s-stack-ca", "kubernetes", {"kubernetes": K8S}),
    ("k8s-issuer-public", "kubernetes", {"kubernetes": {**K8S, "clusterIssuer": "letsencrypt-prod"}}),
    ("k8s-issuer-private", "kubernetes", {"kubernetes": {**K8S, "clusterIssuer": "internal-ca"}, "tls": {"caCertificate": PEM_CA}}),
    ("k8s-secret-public", "kubernetes", {"kubernetes": {**K8S, "tlsSecretName": "monitoring-tls"}}),
    ("k8s-secret-private", "kubernetes", {"kubernetes": {**K8S, "tlsSecretName": "monitoring-tls"}, "tls": {"caCertificate": PEM_CA}}),
    ("k8s-provided-public", "kubernetes", {"kubernetes": K8S, "tls": {"certificate": PEM_CERT, "privateKey": PEM_KEY}}),
    ("k8s-provided-private", "kubernetes", {"kubernetes": K8S, "tls": {"certificate": PEM_CERT, "privateKey": PEM_KEY, "caCertificate": PEM_CA}}),
]
EXTERNAL_NAME = "server.example.net"  # servers outside the stack: named by their own settings


def settings_of(platform: str, raw: dict) -> Settings:
    return parse({"platform": platform, "domain": "monitoring.example.com", **raw}, stack="test", secret_keys=["tls"])


class Pki:
    """One real CA per role, and leaves cached by (issuer, names)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cas = {role: ThrowawayCA(root / role) for role in (trust.STACK_CA, trust.PUBLIC_CA, trust.PRIVATE_CA, trust.CLUSTER_CA)}
        self._servers: dict[tuple[str, tuple[str, ...]], ssl.SSLContext] = {}

    def server(self, issuer: str, names: list[str]) -> ssl.SSLContext:
        key = (issuer, tuple(names))
        if key not in self._servers:
            ca = self.cas[issuer]
            leaf = ca.issue(f"leaf{len(self._servers)}", names)
            cert, private = self.root / f"leaf{len(self._servers)}.crt", self.root / f"leaf{len(self._servers)}.key"
            cert.write_text(leaf.cert)
            private.write_text(leaf.key)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, private)
            self._servers[key] = context
        return self._servers[key]

    def client(self, roots: trust.Trust) -> ssl.SSLContext:
        """A verifying client given exactly `roots`; its "system store" holds the public CA alone."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for role in ((trust.PUBLIC_CA,) if roots.system else ()) + roots.cas:
            context.load_verify_locations(cadata=self.cas[role].ca_pem)
        return context


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, name: str) -> None:
    """A full TLS handshake in memory; raises ssl.SSLCertVerificationError when the client refuses."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(c_in, c_out, server_hostname=name)
    tls_server = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, end in (("client", tls_client), ("server", tls_server)):
            if not done[side]:
                try:
                    end.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    if side == "client":
                        raise
                    done[side] = True  # the client's alert; the client raises its own reason
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def server_certificate_names(settings: Settings, server: str) -> list[str]:
    """What the program's certificate for `server` covers (not what the client asks for)."""
    if server == trust.PUBLIC:
        return trust.proxy_tls_names(settings.domain) if trust.tls_mode(settings) == trust.STACK else [settings.domain]
    if server == PROXY:
        return (
            trust.proxy_tls_names(settings.domain)
            if not trust.proxy_presents_public(settings) or trust.tls_mode(settings) == trust.STACK
            else [settings.domain]
        )
    if server in SERVICES:
        return addresses.internal_tls_names(settings)[server]
    return [EXTERNAL_NAME]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("platform,raw", [(v[1], v[2]) for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_every_client_trusts_its_server_in_every_mode(pki, platform, raw):
    settings = settings_of(platform, raw)
    hops = trust.hops(settings)
    assert {hop.client for hop in hops} >= set(trust.PUBLIC_CLIENTS) | {"proxy", "grafana", "prometheus", "backup", trust.PROBE}
    for hop in hops:
        issuer = trust.presented_by(settings, hop.server)
        server = pki.server(issuer, server_certificate_names(settings, hop.server))
        roots = trust.trust_of(settings, hop)
        assert roots.trusts(issuer), f"{hop}: the model's own check says {roots} does not trust {issuer}"
        for name in trust.server_names(settings, hop) or [EXTERNAL_NAME]:
            try:
                handshake(pki.client(roots), server, name)
            except ssl.SSLError as err:
                pytest.fail(f"{hop.client} -> {hop.server} ({trust.tls_mode(settings)}): {name}: {err}")


def test_internal_hops_are_the_topology_edges_to_tls_ports():
    """A new https edge in topology.py joins the model without anyone remembering to add it."""
    internal = {(hop.client, hop.server) for hop in trust.HOPS if hop.server in SERVICES and hop.client in SERVICES}
    assert internal == {
        ("proxy", "prometheus"),
        ("proxy", "alertmanager"),
        ("grafana", "prometheus"),
        ("grafana", "alertmanager"),
        ("prometheus", "prometheus"),
        ("prometheus", "alertmanager"),
        ("backup", "prometheus"),
    }


def test_internal_clients_are_configured_with_the_ca_file(dev_stack, prod_stack):
    """Every internal hop's client reads `ca.crt` (which the specs fill with the model's INTERNAL
    roots, checked per mode below), where the model says it is configured."""
    for result in (dev_stack, prod_stack):
        files = result.files
        prometheus = yaml.safe_load(files["prometheus/prometheus.yml"])
        assert [am["tls_config"]["ca_file"] for am in prometheus["alerting"]["alertmanagers"]] == [paths.TLS_CA]
        https_jobs = [job for job in prometheus["scrape_configs"] if job.get("scheme") == "https" and job["job_name"] != "ngx-api"]
        # The kubelet and cAdvisor jobs go to the API server (its node proxy): the cluster CA, the model's
        # roots for the kube-api hop; every other https job is internal.
        to_api_server = [job for job in https_jobs if job["job_name"] in (catalog.JOB_KUBELET, catalog.JOB_CADVISOR)]
        internal = [job for job in https_jobs if job not in to_api_server]
        assert len(internal) == 2 and all(job["tls_config"]["ca_file"] == paths.TLS_CA for job in internal)
        api_hops = [hop for hop in trust.hops(result.settings) if hop.server == trust.KUBE_API]
        assert all(trust.trust_of(result.settings, hop).cas == (trust.CLUSTER_CA,) for hop in api_hops)
        assert {hop.client for hop in api_hops} == ({"prometheus", "kube-state-metrics", "alloy"} if result.settings.platform == "kubernetes" else set())
        assert all(job["tls_config"]["ca_file"] == f"{SERVICE_ACCOUNT_DIR}/ca.crt" for job in to_api_server)
        assert len(to_api_server) == (2 if result.settings.platform == "kubernetes" else 0)
        nginx = files["proxy/nginx.conf"]
        assert nginx.count(f"proxy_ssl_trusted_certificate {paths.TLS_CA};") == nginx.count("proxy_ssl_verify on;") >= 2
        for service in ("prometheus", "alertmanager"):
            assert yaml.safe_load(files[f"{service}/probe-client.yml"])["tls_config"]["ca_file"] == paths.TLS_CA
        backup = result.program["specs"]["backup"]
        stages = [step.args for run in backup.runs for step in run.steps if any(arg.startswith("--url=https://") for arg in step.args)]
        assert stages and all(f"--ca-file={paths.TLS_CA}" in args for args in stages)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if "stack-ca" not in v[0]], ids=lambda v: v[0])
def test_the_old_public_url_trust_fails_against_a_certificate_not_of_the_stack(pki, variant):
    """Before the model, the providers and the admin-password resource trusted only the stack CA: in
    these modes that handshake fails, and the model's succeeds."""
    settings = settings_of(variant[1], variant[2])
    server = pki.server(trust.public_issuer(settings), [settings.domain])
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki.client(trust.INTERNAL), server, settings.domain)
    handshake(pki.client(trust.public_trust(settings)), server, settings.domain)


def test_a_client_is_refused_by_the_wrong_name_or_an_unrelated_ca(pki):
    """The handshake really checks: another name, or a CA the client was not given, fails."""
    server = pki.server(trust.STACK_CA, ["prometheus"])
    handshake(pki.client(trust.INTERNAL), server, "prometheus")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki.client(trust.INTERNAL), server, "alertmanager")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki.client(trust.SYSTEM), server, "prometheus")


def test_public_trust_follows_the_rule():
    """Only the stack CA when the public certificate is the stack's; otherwise the system store, plus
    tls.caCertificate when set. Internal hops keep the stack CA in every mode."""
    for _, platform, raw in VARIANTS:
        settings = settings_of(platform, raw)
        roots = trust.public_trust(settings)
        if trust.tls_mode(settings) == trust.STACK:
            assert roots == trust.Trust(system=False, cas=(trust.STACK_CA,))
        else:
            assert roots.system and roots.cas == ((trust.PRIVATE_CA,) if settings.tls.ca_certificate else ())
        internal = [hop for hop in trust.hops(settings) if hop.server in SERVICES]
        assert internal and all(trust.trust_of(settings, hop) == trust.INTERNAL for hop in internal)


# --- the synthesised program reads the model -------------------------------------------------------------

SYNTH_VARIANTS = [v for v in VARIANTS if v[1] == "kubernetes"] + [v for v in VARIANTS if v[0].startswith("docker-provided")]


@pytest.mark.parametrize("variant", SYNTH_VARIANTS, ids=lambda v: v[0])
def test_synth_hands_the_public_url_clients_roots_that_trust_what_is_served(variant, tmp_path):
    """Whether the public certificate is the stack's is read from the synthesised objects (the Ingress's
    annotation and TLS Secret, the proxy's certificate on Docker), not from the model."""
    _, platform, raw = variant
    result = synth_variant(tmp_path, platform, raw)
    settings = result.settings
    certificates, specs = result.program["certificates"], result.program["specs"]
    stack_ca = value(certificates.internal_ca_pem)
    secrets = {unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs) for r in result.of_type("kubernetes:core/v1:Secret")}

    if platform == "kubernetes":
        [ingress] = [unwrap(r.inputs) for r in result.of_type("kubernetes:networking.k8s.io/v1:Ingress")]
        secret_name = ingress["spec"]["tls"][0]["secretName"]
        if "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"] or secret_name not in secrets:
            served_by_stack = False  # cert-manager's Secret, or the operator's
        else:
            served_by_stack = secrets[secret_name]["stringData"]["tls.crt"] != settings.tls.certificate
    else:
        served_by_stack = value(specs[PROXY].secret_files[paths.TLS_CERT]) != settings.tls.certificate
    assert served_by_stack == (trust.tls_mode(settings) == trust.STACK)
    private_ca = settings.tls.ca_certificate

    providers = result.of_type("pulumi:providers:grafana")
    assert len(providers) == 2
    for provider in providers:
        ca_cert = unwrap(provider.inputs).get("caCert")
        # The provider always starts from the system roots and adds ca_cert (components/grafana/content.py).
        if served_by_stack:
            assert ca_cert == stack_ca, f"{provider.name} does not trust the stack CA that serves the public URL"
        elif private_ca:
            assert ca_cert is not None and private_ca in ca_cert, f"{provider.name} lacks tls.caCertificate"
        else:
            assert ca_cert is None, f"{provider.name} gets a CA where the system store is meant"
    [admin] = [unwrap(r.inputs) for r in result.of_type("pulumi-python:dynamic/ngx:GrafanaAdminPassword")]
    if served_by_stack:
        assert (admin["trust"], admin["ca_pem"]) == (TRUST_CA, stack_ca)
    else:
        assert admin["trust"] == TRUST_SYSTEM and admin["ca_pem"] == (private_ca or "")
        if not private_ca:
            assert result.outputs["caCertificate"] is None, "nothing to import when a public CA issued the certificate"

    for service, spec in specs.items():
        if paths.TLS_CA in spec.secret_files:
            assert value(spec.secret_files[paths.TLS_CA]) == stack_ca, f"{service}'s ca.crt is not the stack CA"
    if platform == "kubernetes":
        assert secrets["proxy-upstream-ca"]["stringData"]["ca.crt"] == stack_ca, "the Ingress must verify the proxy with the stack CA"
        proxy_cert = value(specs[PROXY].secret_files[paths.TLS_CERT])
        assert proxy_cert != settings.tls.certificate, "behind the Ingress the proxy presents a stack-CA certificate"
