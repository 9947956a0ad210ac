"""The public shape both backends share: the same args in, the same outputs out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.service_spec import ServiceSpec
from settings import Settings


@dataclass(frozen=True)
class MonitoringArgs:
    settings: Settings
    specs: Mapping[str, ServiceSpec]
    # CA the Ingress controller verifies the proxy against (trust.py: the hop ingress-controller -> proxy).
    upstream_ca_pem: pulumi.Output[str]
    # The certificate for `domain` the Ingress serves in TLS modes stack-ca and provided (Certificates.public).
    public_cert_pem: pulumi.Output[str]
    public_key_pem: pulumi.Output[str]  # secret
