"""ngx-monitoring: the monitoring stack of the NGX Voice Sales Agent.

Reads the settings, builds the shared pieces, hands them to the backend of the stack's platform
and exports what users need. Everything else lives in settings/, renderers/ and components/.
"""
import pulumi

import capacity
import settings as stack_settings
from alerting.routing import unrouted_receivers
from components.certificates import Certificates
from components.credentials import Credentials
from components.docker import DockerMonitoring
from components.kubernetes import KubernetesMonitoring
from components.backend import MonitoringArgs
from renderers.addresses import public_urls
from components.specs import build_specs, rendered_files

BACKENDS = {"docker": DockerMonitoring, "kubernetes": KubernetesMonitoring}

settings = stack_settings.load()
credentials = Credentials("ngx-credentials", settings)
certificates = Certificates("ngx-tls", settings)
files, auth_files = rendered_files(settings, credentials)
specs = build_specs(settings, credentials, certificates, files, auth_files)
monitoring = BACKENDS[settings.platform](
    "ngx",
    MonitoringArgs(settings, specs, certificates.ca_pem, certificates.proxy.cert_pem, certificates.proxy.key_pem),
)

estimate = capacity.estimate(settings)
for finding in estimate.findings:
    pulumi.log.warn(f"ngx-monitoring:{finding.key}: {finding.message}")
for receiver in unrouted_receivers(settings):
    pulumi.log.warn(f"ngx-monitoring:receivers: alerts routed to {receiver} notify nobody; configure one of its integrations under receivers")

pulumi.export("urls", public_urls(settings))
pulumi.export("caCertificate", certificates.ca_pem)
pulumi.export("grafanaAdminUser", settings.grafana.admin_user)
pulumi.export("grafanaAdminPassword", pulumi.Output.secret(credentials.grafana_admin_password))
pulumi.export("opsUser", settings.proxy.admin_user)
pulumi.export("opsPassword", pulumi.Output.secret(credentials.passwords[settings.proxy.admin_user]))
pulumi.export("capacity", estimate.as_output())
