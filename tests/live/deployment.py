"""What the program would deploy for a stack, per service: command, environment and every file.

`deploy` runs the whole program under synth's mocks (synthesis.run.synth) and keeps the service specs
that `components.specs.build_specs` hands to the backend, with every secret file resolved. The live
harness starts processes from these specs, so it runs the same arguments and the same files a
container would get, not a list of its own.

Secrets under mocks: generated passwords are stable fake strings (their bcrypt hashes in web.yml and
htpasswd are real), certificates are fake PEM text (the harness issues real ones from a throwaway CA
for the same DNS names, which it reads from the program's certificate requests), and receiver
credentials are whatever `--secret` gives (LIVE_SECRETS for the livetest stack).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

import pulumi
from pulumi.runtime.sync_await import _sync_await

import components.specs as specs_module
from components.specs import ServiceSpec
from renderers import paths
from settings import Settings
from synthesis.run import SynthResult, synth, unwrap

LIVE_STACK = "livetest"
# Receiver credentials of the livetest stack. The URLs name the real services on purpose: the live
# harness maps those names to its sink in the processes' private /etc/hosts, so the rendered
# receivers are used unchanged and nothing can leave the machine.
LIVE_SECRETS = {
    "receivers.slack.webhookUrl": "https://hooks.slack.com/services/TLIVE/BLIVE/livetest-slack-token",
    "receivers.pagerduty.routingKey": "livetest-pagerduty-routing-key",
    "receivers.email.password": "livetest-smtp-password",
}
TLS_FILES = (paths.TLS_CERT, paths.TLS_KEY, paths.TLS_CA)
_CSR_TYPE = "tls:index/certRequest:CertRequest"


@dataclass(frozen=True)
class DeployedService:
    spec: ServiceSpec
    files: Mapping[str, str]  # every file the container gets (config and secret), in-container path -> text
    secret_paths: frozenset[str]  # which of `files` are credentials


@dataclass(frozen=True)
class Deployment:
    stack: str
    result: SynthResult
    services: Mapping[str, DeployedService]
    passwords: Mapping[str, str]  # basic-auth user -> password
    certificate_names: Mapping[str, tuple[str, ...]]  # service -> DNS names its certificate is requested for

    @property
    def settings(self) -> Settings:
        return self.result.settings


@contextmanager
def _capturing_specs() -> Iterator[dict]:
    """Keep what build_specs returns (and the credentials it was given) while the program runs."""
    captured: dict = {}
    original = specs_module.build_specs

    def build_specs(settings, creds, certs, files, auth_files):
        specs = original(settings, creds, certs, files, auth_files)
        captured.update(specs=specs, credentials=creds)
        return specs

    specs_module.build_specs = build_specs
    try:
        yield captured
    finally:
        specs_module.build_specs = original


def _resolve(outputs: Mapping[str, pulumi.Output]) -> dict[str, str]:
    """Values of Outputs whose resources the mocks have already registered."""
    keys = list(outputs)
    values = _sync_await(pulumi.Output.all(*(outputs[key] for key in keys)).future())
    return dict(zip(keys, values))


def deploy(stack: str = LIVE_STACK, config: list[str] = (), secrets: Mapping[str, str] | None = None) -> Deployment:
    secrets = LIVE_SECRETS if secrets is None and stack == LIVE_STACK else (secrets or {})
    with _capturing_specs() as captured:
        result = synth(stack, list(config), [f"{key}={value}" for key, value in secrets.items()])
    if "specs" not in captured:
        raise RuntimeError("the program did not call components.specs.build_specs; the live harness needs its specs")
    services = {}
    for name, spec in captured["specs"].items():
        secret_files = _resolve(spec.secret_files)
        services[name] = DeployedService(spec, {**spec.config_files, **secret_files}, frozenset(secret_files))
    passwords = _resolve(captured["credentials"].passwords)
    names = {}
    for resource in result.of_type(_CSR_TYPE):
        # Certificates names each request "<component>-<service>-csr" (components/certificates.py).
        service = resource.name.rsplit("-csr", 1)[0].split("-", 2)[-1]
        names[service] = tuple(unwrap(resource.inputs)["dnsNames"])
    return Deployment(stack, result, services, passwords, names)
