"""The narrow Args of Credentials and Certificates, and the one place that says which internal
certificates the stack issues (addresses.internal_tls_names).

The components see these values only, never the whole Settings: a wrong value here is wrong in every
certificate or credential of the stack, so each Args refuses what it cannot use, naming the field.
"""

from __future__ import annotations

import pytest

import addresses
from components.certificates import CertificatesArgs
from components.credentials import CredentialsArgs
from settings.model import TlsSettings
from settings.schema import Secret
from tests.alerting_helpers import dev_settings, kubernetes_settings
from topology import PROXY, SERVICES


@pytest.mark.parametrize("make", [dev_settings, kubernetes_settings])
def test_every_https_service_but_the_proxy_gets_an_internal_certificate_for_its_names(make):
    """The proxy's certificate is the public one for `domain`; every other HTTPS service is verified
    by its peers under the names they use for it."""
    settings = make()
    names = addresses.internal_tls_names(settings)
    assert set(names) == {s for s in SERVICES if SERVICES[s].scheme == "https"} - {PROXY}
    for service, dns_names in names.items():
        assert addresses.host(settings, service) in dns_names, service


def test_certificates_args_refuse_half_a_provided_certificate():
    with pytest.raises(ValueError, match="CertificatesArgs.provided"):
        CertificatesArgs("dev", "monitoring.example.com", {}, TlsSettings(certificate="PEM", private_key=None, ca_certificate=None))
    with pytest.raises(ValueError, match="CertificatesArgs.provided"):
        CertificatesArgs("dev", "monitoring.example.com", {}, TlsSettings(certificate=None, private_key=Secret("KEY"), ca_certificate=None))


def test_certificates_args_refuse_a_certificate_without_names():
    with pytest.raises(ValueError, match="CertificatesArgs.internal_names: prometheus has no DNS name"):
        CertificatesArgs("dev", "monitoring.example.com", {"prometheus": []}, TlsSettings(None, None, None))
    with pytest.raises(ValueError, match="CertificatesArgs.domain"):
        CertificatesArgs("dev", "", {}, TlsSettings(None, None, None))


def test_credentials_args_need_the_ops_user():
    with pytest.raises(ValueError, match="CredentialsArgs.admin_user"):
        CredentialsArgs("")
    assert CredentialsArgs("ngx-ops").grafana_admin_password is None  # generated unless given
