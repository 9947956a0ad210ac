"""The clients of the public URL trust what a real cluster serves there, proven with real handshakes.

A real nginx stands in for the Ingress (or, on Docker, the published proxy) at the stack's public
URL, serving in each TLS mode the certificate a cluster would serve: one of a "public" CA that is
independent of the stack (cert-manager with Let's Encrypt, an existing Secret, a bought certificate),
one of a private CA given as tls.caCertificate, or one of the stack CA. Against it, TLS handshakes
are made with exactly the trust settings the synthesised program hands its clients, read from the
resources it registers, never re-typed:

- the admin-password resource: its own code (`components.grafana.admin.accepts`) with the `url`,
  `trust` and `ca_pem` inputs of the GrafanaAdminPassword resource, logging in through nginx's
  basic auth;
- the two Grafana providers: their `caCert` input, handed to a model of the engine's client.

The model of the engine (terraform-provider-grafana inside pulumiverse-grafana, which cannot run
here): its HTTP client's root pool is `x509.SystemCertPool()` plus `ca_cert` when it is set
(pkg/provider/configure_clients.go since v3.22.3; pulumiverse-grafana 2.x embeds v4), and on Linux
Go's system pool is the file SSL_CERT_FILE names when it is set (crypto/x509/root_unix.go). The
model is a Python client that loads OpenSSL's default verify paths (which also honour SSL_CERT_FILE)
and then adds `ca_cert`. The machine's system store is modelled the same way, for both clients:
SSL_CERT_FILE names a bundle holding only the public CA (SSL_CERT_DIR a directory that does not
exist), as on a real machine whose store holds Let's Encrypt's root but neither the stack's CA nor a
private one.

In the stack-ca mode synth's stack CA is a placeholder PEM; it is replaced by a real throwaway CA
wherever the program hands it out (matched by identity), the only substitution. The handshake a
real cluster would refuse is refused here too: trusting only the stack CA, as the admin-password
resource did before the trust model, against a certificate that is not the stack's; and the system
store alone against a private CA's certificate.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

import trust
from components.grafana import admin
from renderers import paths
from synthesis.run import unwrap
from tests.certs import ThrowawayCA
from tests.tls_modes import synth_variant, value
from topology import PROXY

pytestmark = pytest.mark.live

ADDRESS = "127.0.60.1"  # where the domain resolves to, inside the live tests' private network
USER = "ngx-admin"
PASSWORD = "correct horse battery staple"
ADMIN_TYPE = "pulumi-python:dynamic/ngx:GrafanaAdminPassword"

# id -> (platform, roles of the settings: which CA issues the certificate served, what the settings name)
MODES = {
    "k8s-stack-ca": ("kubernetes", trust.STACK_CA, {}),
    "k8s-issuer-public": ("kubernetes", trust.PUBLIC_CA, {"kubernetes": {"clusterIssuer": "letsencrypt-prod"}}),
    "k8s-issuer-private": ("kubernetes", trust.PRIVATE_CA, {"kubernetes": {"clusterIssuer": "internal-ca"}, "tls": {"caCertificate": None}}),
    "k8s-secret-public": ("kubernetes", trust.PUBLIC_CA, {"kubernetes": {"tlsSecretName": "monitoring-tls"}}),
    "k8s-provided-private": ("kubernetes", trust.PRIVATE_CA, {"tls": {"certificate": None, "privateKey": None, "caCertificate": None}}),
    "docker-provided-public": ("docker", trust.PUBLIC_CA, {"tls": {"certificate": None, "privateKey": None}}),
}


@pytest.fixture(scope="module")
def cas(tmp_path_factory) -> dict[str, ThrowawayCA]:
    root = tmp_path_factory.mktemp("cas")
    return {role: ThrowawayCA(root / role) for role in (trust.STACK_CA, trust.PUBLIC_CA, trust.PRIVATE_CA)}


@pytest.fixture
def system_store(cas, tmp_path, monkeypatch) -> None:
    """The machine's trust store: the public CA only (see the module docstring)."""
    bundle = tmp_path / "system-store.pem"
    bundle.write_text(cas[trust.PUBLIC_CA].ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-system-dir"))


@pytest.fixture
def domain_resolves_to_nginx(monkeypatch):
    """Name resolution of the stack's domain (the cluster's DNS for the Ingress) -> nginx."""
    real = socket.getaddrinfo
    names: set[str] = set()

    def getaddrinfo(host, *args, **kwargs):
        return real(ADDRESS if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def _settings_for(mode: str, cas: dict[str, ThrowawayCA], domain: str) -> tuple[dict, tuple[str, str] | None]:
    """The raw settings of `mode`, with real PEMs, and the provided (certificate, key) if any."""
    platform, issuer, raw = MODES[mode]
    raw = {key: dict(section) for key, section in raw.items()}
    provided = None
    if "certificate" in raw.get("tls", {}):
        leaf = cas[issuer].issue(f"provided-{mode}", [domain])
        provided = (leaf.cert, leaf.key)
        raw["tls"].update(certificate=leaf.cert, privateKey=leaf.key)
    if "caCertificate" in raw.get("tls", {}):
        raw["tls"]["caCertificate"] = cas[trust.PRIVATE_CA].ca_pem
    return raw, provided


def _start_nginx(workdir: Path, cert: str, key: str, port: int) -> subprocess.Popen:
    """nginx serving `cert` on ADDRESS:port; /grafana/api/user answers 200 to USER:PASSWORD, else 401."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tls.crt").write_text(cert)
    (workdir / "tls.key").write_text(key)
    (workdir / "htpasswd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (workdir / "user.json").write_text(json.dumps({"login": USER}))
    (workdir / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {workdir}; proxy_temp_path {workdir}; fastcgi_temp_path {workdir};
  uwsgi_temp_path {workdir}; scgi_temp_path {workdir};
  server {{
    listen {ADDRESS}:{port} ssl;
    ssl_certificate {workdir}/tls.crt;
    ssl_certificate_key {workdir}/tls.key;
    location = /grafana/api/user {{
      auth_basic grafana;
      auth_basic_user_file {workdir}/htpasswd;
      default_type application/json;
      alias {workdir}/user.json;
    }}
  }}
}}
""")
    process = subprocess.Popen(
        ["nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ADDRESS, port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"nginx did not start: {(workdir / 'error.log').read_text() if (workdir / 'error.log').exists() else ''}")


def _engine_get(url: str, ca_cert: str | None) -> int:
    """The model of the Grafana provider's client: system pool (SSL_CERT_FILE), plus ca_cert."""
    context = ssl.create_default_context()
    if ca_cert:
        context.load_verify_locations(cadata=ca_cert)
    request = urllib.request.Request(url + "api/user")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code  # the handshake succeeded; nginx wants credentials


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_public_url_clients_trust_what_the_ingress_serves(mode, live_network, cas, system_store, domain_resolves_to_nginx, tmp_path, monkeypatch):
    platform, issuer, _ = MODES[mode]
    domain = "monitoring.ngx.example.com" if platform == "kubernetes" else "monitoring.localhost"
    raw, provided = _settings_for(mode, cas, domain)
    result = synth_variant(tmp_path / "synth", platform, raw)
    settings = result.settings
    assert settings.domain == domain and trust.public_issuer(settings) == issuer, "the mode under test is not the one synthesised"
    fake_stack_ca = value(result.program["certificates"].internal_ca_pem)
    real = {fake_stack_ca: cas[trust.STACK_CA].ca_pem}  # the one substitution (module docstring)

    # What the Ingress (Docker: the proxy) serves, from the program where it comes from the program.
    if provided is not None:
        served = (
            value(result.program["specs"][PROXY].secret_files[paths.TLS_CERT])
            if platform == "docker"
            else next(
                unwrap(r.inputs)["stringData"]["tls.crt"]
                for r in result.of_type("kubernetes:core/v1:Secret")
                if unwrap(r.inputs)["metadata"]["name"] == "ingress-tls"
            )
        )
        assert served.strip() == provided[0].strip()
        cert, key = served + "\n", provided[1]
    else:  # cert-manager's, the operator's Secret, or (stack-ca) a real stand-in for the stack's
        leaf = cas[issuer].issue(f"served-{mode}", trust.proxy_tls_names(domain) if issuer == trust.STACK_CA else [domain])
        cert, key = leaf.cert, leaf.key

    [admin_inputs] = [unwrap(r.inputs) for r in result.of_type(ADMIN_TYPE)]
    url = admin_inputs["url"]
    port = urlparse(url).port or 443
    domain_resolves_to_nginx.add(domain)
    nginx = _start_nginx(tmp_path / "nginx", cert, key, port)
    try:
        props = {**admin_inputs, "ca_pem": real.get(admin_inputs["ca_pem"], admin_inputs["ca_pem"])}
        assert admin.accepts(props, PASSWORD) is True, "the admin-password resource must log in through the public URL"
        assert admin.accepts(props, "wrong password") is False

        providers = [unwrap(r.inputs) for r in result.of_type("pulumi:providers:grafana")]
        assert len(providers) == 2
        for provider in providers:
            assert provider["url"] == url
            ca_cert = provider.get("caCert")
            assert _engine_get(url, real.get(ca_cert, ca_cert)) == 401, "the provider's handshake must succeed"

        # What would fail on a real cluster fails here too. A `trust: system` client first waits for a
        # certificate it can verify (one being issued); this one never comes, so the wait is skipped.
        monkeypatch.setattr(admin, "CERTIFICATE_WAIT_SECONDS", 0)
        if issuer != trust.STACK_CA:
            old = {**props, "trust": admin.TRUST_CA, "ca_pem": cas[trust.STACK_CA].ca_pem}
            with pytest.raises(admin.AdminPasswordError, match="cannot verify"):
                admin.accepts(old, PASSWORD)
        if issuer == trust.PRIVATE_CA:
            with pytest.raises(admin.AdminPasswordError, match="cannot verify"):
                admin.accepts({**props, "ca_pem": ""}, PASSWORD)
            with pytest.raises(urllib.error.URLError):
                _engine_get(url, None)
        if issuer == trust.STACK_CA:
            with pytest.raises(admin.AdminPasswordError, match="cannot verify"):
                admin.accepts({**props, "trust": admin.TRUST_SYSTEM, "ca_pem": ""}, PASSWORD)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
