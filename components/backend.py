"""The public shape both backends share: the same args in, the same outputs out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi

from components.specs import ServiceSpec
from settings import Settings

# Paths the proxy / Ingress serves each UI and API under.
ROUTES = {"grafana": "/grafana/", "prometheus": "/prometheus/", "alertmanager": "/alertmanager/", "loki": "/loki/"}


@dataclass(frozen=True)
class MonitoringArgs:
    settings: Settings
    specs: Mapping[str, ServiceSpec]
    ca_pem: pulumi.Output[str]  # CA that clients outside the stack trust for `domain`
    proxy_cert_pem: pulumi.Output[str]
    proxy_key_pem: pulumi.Output[str]  # secret


def public_urls(settings: Settings) -> dict[str, str]:
    """URLs users (and the Grafana provider) reach; `:port` only when it is not the default."""
    port = settings.proxy.https_port if settings.platform == "docker" else 443
    authority = settings.domain if port == 443 else f"{settings.domain}:{port}"
    return {service: f"https://{authority}{path}" for service, path in ROUTES.items()}
