"""The manifests `synth` writes for prod pass the Kubernetes schema (strict) and checkov's hardening checks.

Both tools are required: a missing tool fails these tests (it never skips them), because a skipped
schema or policy check looks exactly like a passing one in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from synthesis.run import SynthResult, write
from topology import EGRESS

# The oldest Kubernetes minor the stack supports: persistentVolumeClaimRetentionPolicy is GA since
# 1.32, and the namespaces pin Pod Security `v1.33`. Validating against the oldest supported schema
# catches fields a newer schema would accept but the cluster would not.
KUBERNETES_VERSION = "1.33.0"
# The hardening checks of issue 5: probes, requests/limits, no privileged/host namespaces/escalation,
# no default namespace, read-only root, non-root, capabilities, security contexts, seccomp, secrets as
# files, token mounts and a NetworkPolicy for every pod.
CHECKS = (
    "CKV_K8S_8",
    "CKV_K8S_9",
    "CKV_K8S_10",
    "CKV_K8S_11",
    "CKV_K8S_12",
    "CKV_K8S_13",
    "CKV_K8S_16",
    "CKV_K8S_17",
    "CKV_K8S_18",
    "CKV_K8S_19",
    "CKV_K8S_20",
    "CKV_K8S_21",
    "CKV_K8S_22",
    "CKV_K8S_23",
    "CKV_K8S_25",
    "CKV_K8S_28",
    "CKV_K8S_29",
    "CKV_K8S_30",
    "CKV_K8S_31",
    "CKV_K8S_35",
    "CKV_K8S_37",
    "CKV_K8S_38",
    "CKV2_K8S_6",
    # RBAC (the Roles of the two API readers and Prometheus's ClusterRole for the node jobs): no
    # wildcards, no webhook control, no bind/escalate, no impersonation, no CSR approval.
    "CKV_K8S_49",
    "CKV_K8S_155",
    "CKV_K8S_156",
    "CKV_K8S_157",
    "CKV_K8S_158",
)
# The only skip allowed: the token check on the workloads that read the Kubernetes API (the reason is
# an annotation on the workload itself, see components/kubernetes/workload.py).
TOKEN_CHECK = "CKV_K8S_38"


def _tool(name: str) -> str:
    """The tool next to the interpreter (the project's venv), else on PATH; a missing tool fails."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `./venv/bin/pip install {name}` (see the pinned version in requirements)")
    return found


@pytest.fixture(scope="module")
def manifests(prod_stack: SynthResult, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("prod")
    write(prod_stack, out)
    files = sorted((out / "kubernetes").glob("*.yaml"))
    assert len(files) == len(prod_stack.manifests()), "every Kubernetes object must be written to its own file"
    return files


def test_manifests_pass_kubernetes_validate_strict(manifests):
    """--strict refuses unknown fields: a typo in a field name is an error, not a silently dropped setting."""
    completed = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", *map(str, manifests)], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ERROR" not in completed.stdout


def test_manifests_pass_checkov_hardening_checks(manifests, prod_stack):
    directory = manifests[0].parent
    # No network: checkov must not try to fetch Prisma Cloud mappings or policies.
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_SKIP_DOWNLOAD": "TRUE"}
    completed = subprocess.run(
        [
            _tool("checkov"),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--check",
            ",".join(CHECKS),
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert completed.stdout.strip(), completed.stderr
    reports = json.loads(completed.stdout)
    (report,) = [r for r in (reports if isinstance(reports, list) else [reports]) if r.get("check_type") == "kubernetes"]
    results = report["results"]
    assert report["summary"]["parsing_errors"] == 0
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results.get("failed_checks", [])]
    assert not failed, f"checkov failures: {failed}"
    assert completed.returncode == 0, completed.stderr

    # Every requested check really ran (an unknown id or a skipped framework would otherwise pass).
    ran = Counter(c["check_id"] for c in results.get("passed_checks", []) + results.get("skipped_checks", []))
    assert set(CHECKS) <= set(ran), f"checks that evaluated nothing: {sorted(set(CHECKS) - set(ran))}"

    # Skips: only the token check, only on the API readers, each with its reason.
    readers = {egress.source for egress in EGRESS if egress.to == "kube-api"}
    namespace = prod_stack.settings.kubernetes.namespace
    skipped = {(c["check_id"], c["resource"]) for c in results.get("skipped_checks", [])}
    kinds = {"prometheus": "StatefulSet", "kube-state-metrics": "Deployment", "alloy": "DaemonSet"}
    assert readers == set(kinds)
    namespaces = {reader: prod_stack.settings.kubernetes.host_namespace if reader == "alloy" else namespace for reader in readers}
    assert skipped == {(TOKEN_CHECK, f"{kinds[reader]}.{namespaces[reader]}.{reader}") for reader in readers}
    for check in results.get("skipped_checks", []):
        reason = check["check_result"].get("suppress_comment") or ""
        assert reason and reason != "No comment provided", check["resource"]
