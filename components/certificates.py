"""The stack's TLS: a private CA, internal certificates for the HTTPS services, and the proxy's
certificate for `domain` (issued by that CA unless one is provided in settings)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_tls as tls

from components import TYPE_PREFIX
from settings.model import TlsSettings

CA_VALIDITY_HOURS = 10 * 365 * 24
LEAF_VALIDITY_HOURS = 365 * 24
# `pulumi up` replaces a leaf certificate in its last 30 days, so a monthly deploy never lets one lapse.
LEAF_EARLY_RENEWAL_HOURS = 30 * 24
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]


@dataclass(frozen=True)
class KeyPair:
    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]  # secret


@dataclass(frozen=True)
class CertificatesArgs:
    environment: str  # names the stack CA
    domain: str  # the proxy's certificate covers it and its subdomains (unless one is provided)
    # Service -> DNS names of its internal certificate (addresses.internal_tls_names): one per service.
    internal_names: Mapping[str, Sequence[str]]
    provided: TlsSettings  # a certificate for `domain` and its CA, used instead of issuing one when set

    def __post_init__(self) -> None:
        if not self.domain:
            raise ValueError("CertificatesArgs.domain: must name the host the proxy serves (domain)")
        for service, names in self.internal_names.items():
            if not names:
                raise ValueError(f"CertificatesArgs.internal_names: {service} has no DNS name to issue a certificate for")
        if (self.provided.certificate is None) != (self.provided.private_key is None):
            raise ValueError("CertificatesArgs.provided: a provided certificate needs its private key, and a key its certificate")


class Certificates(pulumi.ComponentResource):
    def __init__(self, name: str, args: CertificatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:Certificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"ngx-monitoring {args.environment} CA", organization="ngx-monitoring"),
            opts=child,
        )
        self._ca_key = ca_key
        self._ca = ca
        self._name = name
        self._child = child
        provided = args.provided
        self.ca_pem: pulumi.Output[str] = pulumi.Output.from_input(provided.ca_certificate) if provided.ca_certificate else ca.cert_pem
        # Internal CA: what services use to verify each other, even when the public cert is provided.
        self.internal_ca_pem: pulumi.Output[str] = ca.cert_pem
        self.internal: dict[str, KeyPair] = {
            service: self._issue(service, list(args.internal_names[service])) for service in sorted(args.internal_names)
        }
        if provided.certificate is not None:
            self.proxy = KeyPair(pulumi.Output.from_input(provided.certificate), pulumi.Output.secret(provided.private_key.reveal()))
        else:
            self.proxy = self._issue("proxy", [args.domain, f"*.{args.domain}", "proxy", "localhost"])
        self.register_outputs({"ca_pem": self.ca_pem})

    def _issue(self, service: str, dns_names: list[str]) -> KeyPair:
        key = tls.PrivateKey(f"{self._name}-{service}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=self._child)
        request = tls.CertRequest(
            f"{self._name}-{service}-csr",
            private_key_pem=key.private_key_pem,
            dns_names=dns_names,
            subject=tls.CertRequestSubjectArgs(common_name=dns_names[0], organization="ngx-monitoring"),
            opts=self._child,
        )
        cert = tls.LocallySignedCert(
            f"{self._name}-{service}-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self._ca_key.private_key_pem,
            ca_cert_pem=self._ca.cert_pem,
            validity_period_hours=LEAF_VALIDITY_HOURS,
            early_renewal_hours=LEAF_EARLY_RENEWAL_HOURS,
            allowed_uses=SERVER_USES,
            opts=self._child,
        )
        return KeyPair(cert.cert_pem, pulumi.Output.secret(key.private_key_pem))
