"""The invariants of ngx-monitoring as pure checks over resources, one module per theme, and the
pack that lists them (here, in the order a preview reports them).

- storage.py: stateful storage protected;  images.py: images pinned;
- credentials.py: no credential in plain sight, Grafana never with admin/admin;
- isolation.py: only the entrypoint exposed, Ingresses route to it, workloads isolated by NetworkPolicies;
- hardening.py: Pod Security `restricted` (and its Docker twin), namespaces enforcing it, read-only non-root containers;
- base.py: resource types, the pack's configuration, Resource/Policy/Violation and readers over props.

Each resource check is `check(resource_type, props, options, config) -> [message, ...]` and each stack
check is `check(resources, config) -> [(resource or None, message), ...]`, over plain dicts in the
shape synth records them (wire names, camelCase). Nothing here imports Pulumi: `adapters.py` wraps
these for the policy engine (`pulumi preview --policy-pack policy`), `offline.py` runs them over
synth's output, and the tests call them directly. Imports inside the package are relative: the engine
imports it as `policies` from the pack's own directory, the program's tools as `policy.policies`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import CONFIG_SCHEMA, DEFAULT_CONFIG, ENFORCE_LABEL, EXCEPTION_ANNOTATION, UNKNOWN, Policy, Resource, Violation
from .credentials import check_grafana_credentials, check_no_plaintext_secrets
from .hardening import check_namespace_pod_security, check_read_only_non_root, check_restricted_security_context
from .images import check_images_pinned
from .isolation import check_ingress_routes_to_entrypoint, check_only_entrypoint_exposed, check_workloads_isolated
from .storage import check_stateful_storage_protected

# What adapters.py, __main__.py and offline.py take from the pack.
__all__ = ["CONFIG_SCHEMA", "DEFAULT_CONFIG", "POLICIES", "UNKNOWN", "Policy", "Resource", "Violation", "evaluate"]

POLICIES: tuple[Policy, ...] = (
    Policy(
        "stateful-storage-protected",
        "Data volumes and claims are protected and retained, so no change deletes the stack's data.",
        "Set protect=True and retain_on_delete=True on the volume or claim; keep StatefulSet claims on Retain.",
        "stack",
        check_stateful_storage_protected,
    ),
    Policy(
        "images-pinned",
        "Every image names a version tag or a digest, never a moving tag.",
        "Pin the image in settings `images.*` to a version tag or a digest.",
        "resource",
        check_images_pinned,
    ),
    Policy(
        "no-plaintext-secrets",
        "No credential in an environment variable, a command line or a ConfigMap; credentials reach containers as files from Secrets.",
        "Mount the credential from a Secret (or a Docker upload) and point the program at the file (`*__FILE`, `*_file`).",
        "resource",
        check_no_plaintext_secrets,
    ),
    Policy(
        "only-entrypoint-exposed",
        "Only the TLS proxy publishes ports on the host or is exposed by a Service outside the cluster.",
        "Reach the service through the proxy; remove published ports, hostPorts, NodePort/LoadBalancer types and externalIPs.",
        "resource",
        check_only_entrypoint_exposed,
    ),
    Policy(
        "ingress-routes-to-entrypoint",
        "Every Ingress backend is the proxy's Service.",
        "Route the Ingress to the proxy Service; the proxy routes to each UI.",
        "stack",
        check_ingress_routes_to_entrypoint,
    ),
    Policy(
        "restricted-security-context",
        "Kubernetes pods meet Pod Security `restricted` (the host-access namespace may only add read-only host paths); "
        "Docker containers run unprivileged, without capabilities, with no-new-privileges.",
        "Set allowPrivilegeEscalation: false, capabilities.drop [ALL], runAsNonRoot, seccompProfile RuntimeDefault; "
        "mount host paths read-only and only in the host-access namespace.",
        "resource",
        check_restricted_security_context,
    ),
    Policy(
        "namespace-pod-security",
        "Namespaces enforce Pod Security `restricted`, except the documented host-access namespace.",
        f"Label the namespace {ENFORCE_LABEL}: restricted, or annotate the host-access namespace with {EXCEPTION_ANNOTATION}.",
        "resource",
        check_namespace_pod_security,
    ),
    Policy(
        "workloads-isolated-by-network-policy",
        "Every Kubernetes workload is selected by NetworkPolicies for ingress and egress.",
        "Derive a NetworkPolicy for the workload from topology.py (and keep the namespace's default-deny).",
        "stack",
        check_workloads_isolated,
    ),
    Policy(
        "containers-read-only-non-root",
        "Every running container has a read-only root filesystem and a non-root user.",
        "Set readOnly / readOnlyRootFilesystem and the image's unprivileged UID; give writable paths a tmpfs, emptyDir or volume.",
        "resource",
        check_read_only_non_root,
    ),
    Policy(
        "grafana-no-default-credentials",
        "Grafana never runs with, and nothing logs in with, admin/admin.",
        "Give Grafana a generated admin password through GF_SECURITY_ADMIN_PASSWORD__FILE (settings grafana.adminPassword or generated).",
        "resource",
        check_grafana_credentials,
    ),
)


def evaluate(resources: Sequence[Resource], config: Mapping[str, str] = DEFAULT_CONFIG, policies: Sequence[Policy] = POLICIES) -> list[Violation]:
    """Every policy over every resource, as the engine would run them (used offline and in tests)."""
    merged = {**DEFAULT_CONFIG, **config}
    violations = []
    for policy in policies:
        if policy.scope == "resource":
            for resource in resources:
                for message in policy.check(resource.type, resource.props, resource.options, merged):
                    violations.append(Violation(policy.name, resource.type, resource.name, message))
        else:
            for resource, message in policy.check(resources, merged):
                violations.append(Violation(policy.name, resource.type if resource else None, resource.name if resource else None, message))
    return violations
