"""What the program would deploy for a stack, per service: command, environment and every file.

`deploy` runs the whole program under synth's mocks (synthesis.run.synth) and takes the service specs
__main__.py hands to the backend (`SynthResult.program["specs"]`), with every secret file resolved. The live
harness starts processes from these specs, so it runs the same arguments and the same files a
container would get, not a list of its own.

Secrets under mocks: generated passwords are stable fake strings (their bcrypt hashes in web.yml and
htpasswd are real), certificates are fake PEM text (the harness issues real ones from a throwaway CA
for the same DNS names, which it reads from the program's certificate requests), and receiver
credentials are whatever `--secret` gives (LIVE_SECRETS for the livetest stack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi.runtime.sync_await import _sync_await

from components.service_spec import ServiceSpec
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
# The remote-write scenario's stack: livetest plus one store, the harness's receiver
# (tests/live/remote_receiver.py), over TLS with basic auth. Sends at least every second and retries
# at least every second, so what the store has trails the stack by seconds and catches up at once; the
# lag alert's threshold and `for` come from the livetest stack file.
REMOTE_WRITE_CONFIG = (
    "prometheus.remoteWrite[0].name=receiver",
    "prometheus.remoteWrite[0].url=https://remote-write.livetest.invalid:9090/api/v1/write",
    "prometheus.remoteWrite[0].username=livetest",
    "prometheus.remoteWrite[0].queue.batchSendDeadline=1s",
    "prometheus.remoteWrite[0].queue.maxBackoff=1s",
)
REMOTE_WRITE_SECRETS = {**LIVE_SECRETS, "prometheus.remoteWrite[0].password": "livetest-remote-write-password"}
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


def _resolve(outputs: Mapping[str, pulumi.Output]) -> dict[str, str]:
    """Values of Outputs whose resources the mocks have already registered."""
    keys = list(outputs)
    values = _sync_await(pulumi.Output.all(*(outputs[key] for key in keys)).future())
    return dict(zip(keys, values, strict=False))


def deploy(stack: str = LIVE_STACK, config: list[str] = (), secrets: Mapping[str, str] | None = None) -> Deployment:
    secrets = LIVE_SECRETS if secrets is None and stack == LIVE_STACK else (secrets or {})
    result = synth(stack, list(config), [f"{key}={value}" for key, value in secrets.items()])
    services = {}
    for name, spec in result.program["specs"].items():
        secret_files = _resolve(spec.secret_files)
        services[name] = DeployedService(spec, {**spec.config_files, **secret_files}, frozenset(secret_files))
    passwords = _resolve(result.program["credentials"].passwords)
    names = {}
    for resource in result.of_type(_CSR_TYPE):
        # Certificates names each request "<component>-<service>-csr" (components/certificates.py).
        service = resource.name.rsplit("-csr", 1)[0].split("-", 2)[-1]
        names[service] = tuple(unwrap(resource.inputs)["dnsNames"])
    return Deployment(stack, result, services, passwords, names)
