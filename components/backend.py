"""The public shape both backends share: the same args in, the same outputs out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi

from components.specs import ServiceSpec
from settings import Settings



@dataclass(frozen=True)
class MonitoringArgs:
    settings: Settings
    specs: Mapping[str, ServiceSpec]
    ca_pem: pulumi.Output[str]  # CA that clients outside the stack trust for `domain`
    proxy_cert_pem: pulumi.Output[str]
    proxy_key_pem: pulumi.Output[str]  # secret
