"""The stack's TLS: a private CA, internal certificates for the HTTPS services, the proxy's
certificate, and the public certificate for `domain` (issued by that CA unless one is provided in
settings). Which CA a client is handed is trust.py's decision; `ca_bundle` turns it into PEM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

import trust
from components import TYPE_PREFIX
from settings.docs import spelled_duration
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
    # The proxy presents the public certificate (Docker) or one of the stack CA (Kubernetes, behind
    # the Ingress): trust.proxy_presents_public.
    proxy_presents_public: bool = True

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
        # Internal CA: what services use to verify each other, whatever certificate users see.
        self.internal_ca_pem: pulumi.Output[str] = ca.cert_pem
        self._pems = {trust.STACK_CA: ca.cert_pem}
        if provided.ca_certificate:
            self._pems[trust.PRIVATE_CA] = pulumi.Output.from_input(provided.ca_certificate)
        self.internal: dict[str, KeyPair] = {service: self._issue(service, list(args.internal_names[service])) for service in sorted(args.internal_names)}
        stack_proxy = None
        if provided.certificate is None or not args.proxy_presents_public:
            stack_proxy = self._issue("proxy", trust.proxy_tls_names(args.domain))
        # The certificate for `domain` users see: the Ingress's in mode stack-ca or provided, the
        # proxy's on Docker.
        self.public: KeyPair = (
            KeyPair(pulumi.Output.from_input(provided.certificate), pulumi.Output.secret(provided.private_key.reveal()))
            if provided.certificate is not None
            else stack_proxy
        )
        self.proxy: KeyPair = self.public if args.proxy_presents_public else stack_proxy
        self.register_outputs({"internal_ca_pem": self.internal_ca_pem})

    def ca_bundle(self, roots: trust.Trust) -> pulumi.Output[str] | None:
        """The PEM of the CAs `roots` hands a client, one after the other; None when it is given none
        (it relies on its system trust store alone)."""
        missing = [role for role in roots.cas if role not in self._pems]
        if missing:
            raise ValueError(f"Certificates.ca_bundle: no certificate for {missing} (is tls.caCertificate set?)")
        if not roots.cas:
            return None
        if len(roots.cas) == 1:
            return self._pems[roots.cas[0]]
        return pulumi.Output.all(*[self._pems[role] for role in roots.cas]).apply(
            lambda pems: "".join(pem if pem.endswith("\n") else pem + "\n" for pem in pems)
        )

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


def certificate_validity_markdown() -> str:
    """How long the stack's certificates are valid and when `pulumi up` renews a leaf (docs/operations.md)."""
    hour = 3600
    return (
        f"`pulumi up` renews a leaf certificate in its last {spelled_duration(LEAF_EARLY_RENEWAL_HOURS * hour)} "
        f"(valid {spelled_duration(LEAF_VALIDITY_HOURS * hour)}); the stack CA is valid {spelled_duration(CA_VALIDITY_HOURS * hour)}"
    )
