"""How users reach the stack on Kubernetes: an Ingress for `domain` in front of the nginx proxy.

The default (and only) exposure keeps the proxy: it carries what the renderer builds once for both
backends (basic auth for Prometheus, Alertmanager and Loki, the admin-API deny, rate limits, the Loki
tenant header, security headers), so the Ingress is a plain TLS front door and no policy is
re-implemented in controller annotations. A LoadBalancer Service on the proxy would skip the
cluster's certificate management and put a cloud load balancer per stack on the bill.

TLS at the Ingress follows the TLS mode (trust.py; settings refuse two sources at once): cert-manager
(`kubernetes.clusterIssuer`), an existing Secret (`kubernetes.tlsSecretName`), the provided
`tls.certificate`, or a certificate of the stack CA (exported as `caCertificate`). From the
controller to the proxy the connection is HTTPS again and verified: the proxy presents a certificate
of the stack CA for `domain` whatever the mode, and the controller checks it against that CA, so the
hop inside the cluster is not a plaintext or unauthenticated one. The annotations are ingress-nginx's
(`kubernetes.ingressClass` defaults to `nginx`); another controller needs its own equivalent of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

import trust
from components import labels
from components.backend import MonitoringArgs
from settings import Settings
from topology import ENTRYPOINT

NGINX = "nginx.ingress.kubernetes.io"
CERT_MANAGER_ISSUER = "cert-manager.io/cluster-issuer"
INGRESS_TLS_SECRET = "ingress-tls"  # written by cert-manager, or created here (stack CA or tls.certificate)
UPSTREAM_CA_SECRET = "proxy-upstream-ca"
# Grafana Live and Loki's tail are websockets that stay open while a user watches; the controller's
# 60s default would cut them.
STREAM_TIMEOUT_SECONDS = "3600"


@dataclass(frozen=True)
class TlsSource:
    kind: str  # a trust.py TLS mode
    secret_name: str

    @property
    def created_here(self) -> bool:
        """The program writes the Secret (from Certificates.public) rather than cert-manager or the operator."""
        return self.kind in (trust.STACK, trust.PROVIDED)


def tls_source(settings: Settings) -> TlsSource:
    mode = trust.tls_mode(settings)
    return TlsSource(mode, settings.kubernetes.tls_secret_name if mode == trust.SECRET else INGRESS_TLS_SECRET)


def ingress_annotations(settings: Settings) -> dict[str, str]:
    annotations = {
        f"{NGINX}/backend-protocol": "HTTPS",
        f"{NGINX}/proxy-ssl-verify": "on",
        f"{NGINX}/proxy-ssl-secret": f"{settings.kubernetes.namespace}/{UPSTREAM_CA_SECRET}",
        f"{NGINX}/proxy-ssl-name": settings.domain,
        f"{NGINX}/proxy-ssl-server-name": "on",
        f"{NGINX}/proxy-read-timeout": STREAM_TIMEOUT_SECONDS,
        f"{NGINX}/proxy-send-timeout": STREAM_TIMEOUT_SECONDS,
    }
    if settings.kubernetes.cluster_issuer:
        annotations[CERT_MANAGER_ISSUER] = settings.kubernetes.cluster_issuer
    return annotations


def create_ingress(
    name: str, args: MonitoringArgs, namespace: pulumi.Input[str], proxy_service: k8s.core.v1.Service, parent: pulumi.Resource
) -> k8s.networking.v1.Ingress:
    settings = args.settings
    child = pulumi.ResourceOptions(parent=parent)
    meta_labels = labels.stack_labels("ingress", "exposure")
    # Only the CA (public): what the controller verifies the proxy's certificate against.
    upstream_ca = k8s.core.v1.Secret(
        f"{name}-proxy-upstream-ca",
        metadata={"name": UPSTREAM_CA_SECRET, "namespace": namespace, "labels": meta_labels},
        type="Opaque",
        string_data={"ca.crt": args.upstream_ca_pem},
        opts=child,
    )
    source = tls_source(settings)
    depends: list[pulumi.Resource] = [upstream_ca]
    if source.created_here:
        depends.append(
            k8s.core.v1.Secret(
                f"{name}-ingress-tls",
                metadata={"name": source.secret_name, "namespace": namespace, "labels": meta_labels},
                type="kubernetes.io/tls",
                string_data={"tls.crt": args.public_cert_pem, "tls.key": pulumi.Output.secret(args.public_key_pem)},
                opts=child,
            )
        )
    return k8s.networking.v1.Ingress(
        f"{name}-ingress",
        metadata={"name": ENTRYPOINT, "namespace": namespace, "labels": meta_labels, "annotations": ingress_annotations(settings)},
        spec={
            "ingress_class_name": settings.kubernetes.ingress_class,
            "tls": [{"hosts": [settings.domain], "secret_name": source.secret_name}],
            # Everything goes to the proxy, which decides what each path serves (and refuses the rest).
            "rules": [
                {
                    "host": settings.domain,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "path_type": "Prefix",
                                "backend": {"service": {"name": proxy_service.metadata.name, "port": {"name": "https"}}},
                            }
                        ]
                    },
                }
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends),
    )
