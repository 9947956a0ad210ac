"""Who trusts whom over TLS: for every TLS client the program configures, which certificate its server
presents and which roots the client is given, in each TLS mode. Pure data and functions of settings.

Components read this model instead of choosing a CA themselves (the Grafana providers, the
admin-password resource, the Ingress's upstream CA, the `ca.crt` every service gets), and
tests/test_trust.py walks every (client, server, mode) with real certificates and fails when a client
would not trust its server.

TLS modes (`tls_mode`): the certificate users see at `https://<domain>` is
- `stack-ca`: issued by the stack's own CA (the default; clients import the `caCertificate` output);
- `cluster-issuer`: issued by cert-manager through `kubernetes.clusterIssuer` (Kubernetes);
- `secret`: read by the Ingress from the existing Secret `kubernetes.tlsSecretName` (Kubernetes);
- `provided`: `tls.certificate` with its `tls.privateKey` (both backends).
In the last three the public certificate is not the stack's: its CA is in the system trust store
(a public CA such as Let's Encrypt), or it is the private CA given as `tls.caCertificate`.

The rule: clients of the public URL use the system trust store, plus `tls.caCertificate` when it is
set, whenever the public certificate is not the stack's, and only the stack CA when it is. Every hop
inside the stack (the Ingress controller to the proxy included) keeps the stack CA whatever the mode:
on Kubernetes the proxy always presents a certificate of the stack CA, so a public certificate never
has to be verifiable from inside the cluster.

Not hops: Grafana, Loki, Alloy, the exporters and the Pushgateway speak plain HTTP inside the stack
(Alloy -> Loki, Grafana -> Loki, Prometheus -> exporters), isolated by the topology's policies; and
clients the program does not configure (browsers, ops/annotate_deploy.py in CI/CD) get what they
need beyond their system store from the `caCertificate` output (`public_trust`'s CA, if any).
"""

from __future__ import annotations

from dataclasses import dataclass

import addresses
from settings import Settings
from topology import EDGES, EGRESS, PROXY, SERVICES

# Certificate authorities, by the role they play (a test makes one real CA per role).
STACK_CA = "stack-ca"  # the stack's own CA (components/certificates.py): every internal certificate
PUBLIC_CA = "public-ca"  # any CA in the client's system trust store (Let's Encrypt, a commercial CA)
PRIVATE_CA = "private-ca"  # tls.caCertificate: the CA of the public certificate when it is not in the system store
CLUSTER_CA = "cluster-ca"  # the Kubernetes cluster's CA, mounted beside every service-account token

STACK, CLUSTER_ISSUER, SECRET, PROVIDED = "stack-ca", "cluster-issuer", "secret", "provided"
MODES = (STACK, CLUSTER_ISSUER, SECRET, PROVIDED)

# Servers that are not topology services.
PUBLIC = "public"  # https://<domain>: the Ingress on Kubernetes, the proxy's published port on Docker
KUBE_API = "kube-api"
APP = "app"  # the NGX API's metrics endpoint when app.scheme is https
INTERNET = "internet"  # notification endpoints, SMTP relays, the S3 endpoint


@dataclass(frozen=True)
class Trust:
    """The roots one client is given."""

    system: bool  # the client's system trust store (which holds the public CAs)
    cas: tuple[str, ...] = ()  # CA certificates handed to the client, by role

    def trusts(self, issuer: str) -> bool:
        return issuer in self.cas or (self.system and issuer == PUBLIC_CA)


INTERNAL = Trust(system=False, cas=(STACK_CA,))
SYSTEM = Trust(system=True)


@dataclass(frozen=True)
class Hop:
    client: str
    server: str  # a topology service, PUBLIC, KUBE_API, APP or INTERNET
    configured_in: str  # where the program hands the client its roots
    kubernetes_only: bool = False


# The program's own clients of the public URL (components/grafana): they run where `pulumi up` runs.
PUBLIC_CLIENTS = ("grafana-bootstrap-provider", "grafana-content-provider", "grafana-admin-password")
INGRESS_CONTROLLER = "ingress-controller"
PROBE = "probe"  # promtool/amtool health checks inside the Prometheus and Alertmanager containers


def _tls_port(service: str, port: str) -> bool:
    """Only the main port of an https service speaks TLS (the proxy's status port, Alertmanager's mesh do not)."""
    spec = SERVICES[service]
    return spec.scheme == "https" and port == ("https" if service == PROXY else spec.metrics_port)


def _internal_hops() -> tuple[Hop, ...]:
    """Every topology edge that lands on a TLS port: its client verifies the server with `ca.crt`."""
    where = {
        "proxy": "nginx.conf proxy_ssl_trusted_certificate",
        "grafana": "datasource secureJsonData.tlsCACert",
        "prometheus": "prometheus.yml tls_config.ca_file",
        "backup": "backup.py --ca-file",
    }
    return tuple(Hop(edge.source, edge.target, where[edge.source]) for edge in EDGES if _tls_port(edge.target, edge.port))


INGRESS_HOP = Hop(INGRESS_CONTROLLER, PROXY, "Ingress proxy-ssl-secret", kubernetes_only=True)

HOPS: tuple[Hop, ...] = (
    *(Hop(client, PUBLIC, "components/grafana (provider ca_cert, admin-password trust)") for client in PUBLIC_CLIENTS),
    INGRESS_HOP,
    *_internal_hops(),
    *(Hop(PROBE, service, "probe-client.yml tls_config.ca_file") for service in sorted(SERVICES) if SERVICES[service].scheme == "https" and service != PROXY),
    # Every client of the API server (topology.EGRESS): discovery, the kubelet/cAdvisor node proxy,
    # kube-state-metrics' watches; all verify it with the service-account CA beside their token.
    *(Hop(egress.source, KUBE_API, "in-cluster service-account ca.crt", kubernetes_only=True) for egress in EGRESS if egress.to == KUBE_API),
    Hop("prometheus", APP, "prometheus.yml job ngx-api (scheme app.scheme, no ca_file)"),
    Hop("alertmanager", INTERNET, "receivers (webhooks, SMTP STARTTLS)"),
    Hop("grafana", INTERNET, "contact points, [smtp]"),
    Hop("backup", INTERNET, "restic's S3 repository"),
)


def tls_mode(settings: Settings) -> str:
    """Settings refuse combinations that name two sources (settings._check_tls), so the order here is
    never a tie-break."""
    if settings.tls.certificate is not None:
        return PROVIDED
    if settings.platform == "kubernetes" and settings.kubernetes.cluster_issuer:
        return CLUSTER_ISSUER
    if settings.platform == "kubernetes" and settings.kubernetes.tls_secret_name:
        return SECRET
    return STACK


def public_issuer(settings: Settings) -> str:
    """The CA of the certificate at https://<domain>."""
    if tls_mode(settings) == STACK:
        return STACK_CA
    return PRIVATE_CA if settings.tls.ca_certificate else PUBLIC_CA


def presented_by(settings: Settings, server: str) -> str:
    """The CA that issued the certificate `server` presents."""
    if server == PUBLIC:
        return public_issuer(settings)
    if server == PROXY and settings.platform == "docker":
        return public_issuer(settings)  # the proxy is the public endpoint itself
    if server == KUBE_API:
        return CLUSTER_CA
    if server in (APP, INTERNET):
        return PUBLIC_CA  # no setting names another CA for them: they must chain to the system store
    return STACK_CA


def public_trust(settings: Settings) -> Trust:
    """What the clients of the public URL (the Grafana providers, the admin-password resource) are given."""
    issuer = public_issuer(settings)
    if issuer == STACK_CA:
        return INTERNAL
    return Trust(system=True, cas=(PRIVATE_CA,) if issuer == PRIVATE_CA else ())


def trust_of(settings: Settings, hop: Hop) -> Trust:
    if hop.server == PUBLIC:
        return public_trust(settings)
    if hop.server == KUBE_API:
        return Trust(system=False, cas=(CLUSTER_CA,))
    if hop.server in (APP, INTERNET):
        return SYSTEM
    return INTERNAL


def proxy_presents_public(settings: Settings) -> bool:
    """Docker publishes the proxy itself; on Kubernetes the Ingress presents the public certificate
    and the proxy one of the stack CA, which the controller verifies."""
    return settings.platform == "docker"


def hops(settings: Settings) -> list[Hop]:
    """The hops of this stack's platform."""
    return [hop for hop in HOPS if settings.platform == "kubernetes" or not hop.kubernetes_only]


def server_names(settings: Settings, hop: Hop) -> list[str]:
    """The names the client checks the server's certificate against (every replica it addresses)."""
    if hop.server == PUBLIC or (hop.client == INGRESS_CONTROLLER):
        return [settings.domain]  # the Ingress's proxy-ssl-name is `domain` too
    if hop.client == PROBE:
        return ["localhost"]
    if hop.client == PROXY:
        return [hop.server]  # nginx proxy_ssl_name
    if hop.client in ("prometheus", "backup") and hop.server in SERVICES:
        return addresses.replica_hosts(settings, hop.server)
    if hop.server in SERVICES:
        return [addresses.host(settings, hop.server)]
    return []  # outside the stack: the name comes from the receiver, app or bucket settings


def proxy_tls_names(domain: str) -> list[str]:
    """DNS names of the certificate the stack CA issues for the proxy (and, in mode stack-ca, for users)."""
    return [domain, f"*.{domain}", PROXY, "localhost"]
