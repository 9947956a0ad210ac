"""Mocks that record every resource the program registers, with its options, and answer with
deterministic outputs so the same settings always synthesise the same bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.mocks import MockMonitor

# How Pulumi marks a secret value on the wire (the mocks receive inputs in this form).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

_FAKE_PEM = {
    "CERTIFICATE": "-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n",
    "PRIVATE KEY": "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n",
    "CERTIFICATE REQUEST": "-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n",
}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def integral(value: Any) -> Any:
    """Inputs with whole-number floats as ints (3.0 -> 3, 0.5 stays 0.5), secret markers kept.

    Pulumi carries every number as a protobuf double, so the mocks see `replicas: 3.0` and
    `port: 9090.0` where the program wrote ints; written as floats they read as a change of type in
    manifests and diffs, and Kubernetes declares these fields int32. A float with no fraction means
    the same number as the int, so nothing the program wrote as a float changes meaning."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def _stable(name: str, length: int = 32) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def _pem(kind: str, name: str) -> str:
    return _FAKE_PEM[kind].format(body=_stable(f"{kind}:{name}", 64))


# Computed outputs by resource type: what the real provider would return, made up but stable.
_COMPUTED = {
    "random:index/randomPassword:RandomPassword": lambda name, inputs: {
        "result": f"synth-{_stable(name, max(8, int(inputs.get('length', 32)) - 6))}",
    },
    "tls:index/privateKey:PrivateKey": lambda name, inputs: {
        "privateKeyPem": _pem("PRIVATE KEY", name),
        "publicKeyPem": f"public-key-{_stable(name, 16)}",
    },
    "tls:index/selfSignedCert:SelfSignedCert": lambda name, inputs: {"certPem": _pem("CERTIFICATE", name)},
    "tls:index/certRequest:CertRequest": lambda name, inputs: {"certRequestPem": _pem("CERTIFICATE REQUEST", name)},
    "tls:index/locallySignedCert:LocallySignedCert": lambda name, inputs: {"certPem": _pem("CERTIFICATE", name)},
    # A fixed rotation date: the real one lives in state and changes only when the rotation is due.
    "time:index/rotating:Rotating": lambda name, inputs: {"rfc3339": "2026-01-01T00:00:00Z", "unix": 1767225600},
    "docker:index/remoteImage:RemoteImage": lambda name, inputs: {
        "imageId": f"sha256:{_stable(str(inputs.get('name')), 64)}",
        "repoDigest": f"{inputs.get('name')}@sha256:{_stable(str(inputs.get('name')), 64)}",
    },
}


# What the cluster answers when the program reads an existing object, by (type, id): a kubeadm-style
# cluster with two control-plane nodes whose API servers listen on 6443. Tests pass other answers to
# synth(reads=...). A read the mocks cannot answer is an error, never an empty object.
ENDPOINT_SLICE = "kubernetes:discovery.k8s.io/v1:EndpointSlice"
API_SERVER_SLICE: dict[str, Any] = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.11"], "conditions": {"ready": True}}, {"addresses": ["10.0.0.12"], "conditions": {"ready": True}}],
    "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
}
READS: dict[tuple[str, str], dict[str, Any]] = {(ENDPOINT_SLICE, "default/kubernetes"): API_SERVER_SLICE}


@dataclass(frozen=True)
class Read:
    """An existing object the program reads (`Resource.get`): never created, changed or deleted."""

    type: str
    name: str
    id: str
    state: dict[str, Any]  # what the mocks answered


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None = None
    custom: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    # Names of the resources it waits for: depends_on and every resource an input came from.
    dependencies: frozenset[str] = frozenset()


class Recorder(Mocks):
    def __init__(self, reads: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.answers = READS if reads is None else reads
        self.reads: dict[tuple[str, str], Read] = {}
        self.resources: dict[tuple[str, str], Recorded] = {}
        self._options: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {}
        self.order: list[tuple[str, str]] = []

    # Called by the stack transformation, which sees options the mock monitor does not.
    def transformation(self, args: pulumi.ResourceTransformationArgs):
        opts = args.opts or pulumi.ResourceOptions()
        parent = getattr(opts.parent, "_name", None) if opts.parent is not None else None
        options = {
            "protect": bool(opts.protect),
            "retainOnDelete": bool(opts.retain_on_delete),
            "dependsOn": sorted(getattr(r, "_name", "?") for r in _as_list(opts.depends_on)),
            "ignoreChanges": sorted(opts.ignore_changes or []),
            "deleteBeforeReplace": bool(opts.delete_before_replace),
            "provider": getattr(opts.provider, "_name", None) if opts.provider is not None else None,
        }
        self._options[(args.type_, args.name)] = (parent, options)
        return None

    def new_resource(self, args: MockResourceArgs):
        key = (args.typ, args.name)
        # Only a read leaves `custom` unset (the mock monitor's ReadResource); an import sets both.
        if args.custom is None and args.resource_id:
            return self._read(args)
        parent, options = self._options.get(key, (None, {}))
        inputs = integral(dict(args.inputs))
        self.resources[key] = Recorded(args.typ, args.name, inputs, parent, bool(args.custom), options)
        self.order.append(key)
        computed = _COMPUTED.get(args.typ, lambda name, inputs: {})(args.name, inputs)
        return f"{args.name}_id", {**inputs, **computed}

    def _read(self, args: MockResourceArgs):
        answer = self.answers.get((args.typ, args.resource_id))
        if answer is None:
            raise KeyError(f"synth has no answer for reading {args.typ} {args.resource_id!r}; add one to synthesis.recorder.READS")
        self.reads[(args.typ, args.name)] = Read(args.typ, args.name, args.resource_id, answer)
        return args.resource_id, dict(answer)

    def call(self, args: MockCallArgs):
        return {}, None

    def all(self) -> list[Recorded]:
        """Every resource, components included, in a stable order (type, then name)."""
        for key, (parent, options) in self._options.items():
            if key not in self.resources and key not in self.reads:  # component resources never reach new_resource
                self.resources[key] = Recorded(key[0], key[1], {}, parent, False, options)
        return [self.resources[key] for key in sorted(self.resources)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class DependencyMonitor(MockMonitor):
    """The mock monitor, also keeping each resource's dependencies (explicit and through its inputs),
    which the mocks alone never see."""

    def __init__(self, mocks: Recorder) -> None:
        super().__init__(mocks)
        self.dependencies: dict[str, frozenset[str]] = {}

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        urns = set(request.dependencies)
        for deps in request.propertyDependencies.values():
            urns |= set(deps.urns)
        self.dependencies[request.name] = frozenset(urn.rsplit("::", 1)[-1] for urn in urns)
        return super().RegisterResource(request)

    def attach(self, resources: list[Recorded]) -> list[Recorded]:
        for resource in resources:
            resource.dependencies = self.dependencies.get(resource.name, frozenset())
        return resources
