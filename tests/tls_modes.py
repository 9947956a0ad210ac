"""The program synthesised in one TLS mode (tests/test_trust.py, tests/live/test_public_trust.py):
the platform's stack file with its TLS settings replaced, and Outputs of the result resolved."""

from __future__ import annotations

from pathlib import Path

import pulumi
import yaml
from pulumi.runtime.sync_await import _sync_await

from synthesis.run import SynthResult, synth
from synthesis.stack_config import ROOT


def value(output) -> object:
    """An Output of a resource the mocks have registered, resolved."""
    return _sync_await(pulumi.Output.from_input(output).future())


def synth_variant(tmp_path: Path, platform: str, raw: dict) -> SynthResult:
    """Stack prod (kubernetes) or dev (docker) with `raw`'s `kubernetes` TLS keys (clusterIssuer,
    tlsSecretName) and `tls` section instead of the stack file's; `raw["tls"]["privateKey"]` is set
    as a secret."""
    stack = "prod" if platform == "kubernetes" else "dev"
    tmp_path.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name not in {f"Pulumi.{stack}.yaml", "venv", ".git"}:
            (tmp_path / entry.name).symlink_to(entry)
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    config = document["config"]
    if platform == "kubernetes":
        k8s = {key: item for key, item in config["ngx-monitoring:kubernetes"].items() if key not in ("clusterIssuer", "tlsSecretName")}
        config["ngx-monitoring:kubernetes"] = {**k8s, **{k: v for k, v in raw.get("kubernetes", {}).items() if k != "apiServerCidr"}}
    tls = {key: item for key, item in raw.get("tls", {}).items() if key != "privateKey"}
    if tls:
        config["ngx-monitoring:tls"] = tls
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    secrets = [f"tls.privateKey={raw['tls']['privateKey']}"] if "privateKey" in raw.get("tls", {}) else []
    return synth(stack, [], secrets, root=tmp_path)
