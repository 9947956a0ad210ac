"""ngx-monitoring: the monitoring stack of the NGX Voice Sales Agent.

Reads the settings, builds the shared pieces, hands them to the backend of the stack's platform
and exports what users need. Everything else lives in settings/, renderers/ and components/.
"""

import pulumi

import settings as stack_settings
import trust
from addresses import internal_tls_names, public_url, public_urls
from alerting.inhibition_order import late_inhibitors
from alerting.routing import unrouted_receivers
from components.backend import MonitoringArgs
from components.certificates import Certificates, CertificatesArgs
from components.credentials import Credentials, CredentialsArgs
from components.docker import DockerMonitoring
from components.grafana import GrafanaContent, GrafanaContentArgs
from components.kubernetes import KubernetesMonitoring
from components.kubernetes.provider import kubernetes_providers
from components.specs import build_specs, rendered_files
from renderers.auth import GRAFANA_USER
from settings import capacity
from settings.capacity_remote_write import remote_write_output

BACKENDS = {"docker": DockerMonitoring, "kubernetes": KubernetesMonitoring}
# Explicit providers of each backend, inherited by every resource of its component (Docker: the default).
PROVIDERS = {"docker": lambda: [], "kubernetes": lambda: kubernetes_providers("ngx-kubernetes")}

settings = stack_settings.load()
credentials = Credentials(
    "ngx-credentials",
    CredentialsArgs(admin_user=settings.proxy.admin_user, grafana_admin_password=settings.grafana.admin_password),
)
certificates = Certificates(
    "ngx-tls",
    CertificatesArgs(
        environment=settings.environment,
        domain=settings.domain,
        internal_names=internal_tls_names(settings),
        provided=settings.tls,
        proxy_presents_public=trust.proxy_presents_public(settings),
    ),
)
# Which roots each client is handed comes from trust.py, never from the component that hands them.
public_trust = trust.public_trust(settings)
public_ca_pem = certificates.ca_bundle(public_trust)
files, auth_files = rendered_files(settings, credentials)
specs = build_specs(settings, credentials, certificates, files, auth_files)
monitoring = BACKENDS[settings.platform](
    "ngx",
    MonitoringArgs(
        settings,
        specs,
        upstream_ca_pem=certificates.ca_bundle(trust.trust_of(settings, trust.INGRESS_HOP)),
        public_cert_pem=certificates.public.cert_pem,
        public_key_pem=certificates.public.key_pem,
    ),
    opts=pulumi.ResourceOptions(providers=PROVIDERS[settings.platform]()),
)

grafana_content = GrafanaContent(
    "ngx-grafana-content",
    GrafanaContentArgs(
        settings=settings,
        url=public_url(settings, "grafana"),
        public_trust=public_trust,
        ca_pem=public_ca_pem,
        admin_user=settings.grafana.admin_user,
        admin_password=credentials.grafana_admin_password,
        grafana_password=credentials.passwords[GRAFANA_USER],
        internal_ca_pem=certificates.ca_bundle(trust.INTERNAL),
        ready=monitoring.grafana_ready,
    ),
)

estimate = capacity.estimate(settings)
for finding in estimate.findings:
    pulumi.log.warn(f"ngx-monitoring:{finding.key}: {finding.message}")
for receiver in unrouted_receivers(settings):
    pulumi.log.warn(f"ngx-monitoring:receivers: alerts routed to {receiver} notify nobody; configure one of its integrations under receivers")

for line in late_inhibitors(settings):
    pulumi.log.warn(f"ngx-monitoring:alerting.routes.oncallPager.groupWait: {line}")

pulumi.export("urls", public_urls(settings))
# What clients of the public URL must trust beyond their system store (None: nothing, a public CA issued it).
pulumi.export("caCertificate", public_ca_pem)
pulumi.export("grafanaAdminUser", settings.grafana.admin_user)
pulumi.export("grafanaAdminPassword", pulumi.Output.secret(credentials.grafana_admin_password))
pulumi.export("opsUser", settings.proxy.admin_user)
pulumi.export("opsPassword", pulumi.Output.secret(credentials.passwords[settings.proxy.admin_user]))
pulumi.export("dashboards", grafana_content.dashboard_urls)
# Without it the backups cannot be read: docs/operations.md, "Restore".
pulumi.export("backupRepositoryPassword", pulumi.Output.secret(credentials.restic_password))
pulumi.export("deployAnnotationToken", grafana_content.annotation_token)
pulumi.export("capacity", {**estimate.as_output(), **remote_write_output(settings)})
