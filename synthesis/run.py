"""synth: run __main__.py under mocks with a stack's configuration and write what it would deploy."""

from __future__ import annotations

import asyncio
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from renderers import bundle
from renderers.yamltext import dump
from settings import PROJECT, Settings, SettingsError
from synthesis.recorder import SECRET_SIG, SECRET_SIG_KEY, DependencyMonitor, Read, Recorded, Recorder, is_secret
from synthesis.stack_config import ROOT, load_stack_config

SECRET_TEXT = "[secret]"


@dataclass
class SynthResult:
    stack: str
    settings: Settings
    resources: list[Recorded]
    # "<service>/<path>" -> text, as the service reads it (grafana/dashboards/*: as the provider uploads it)
    files: dict[str, str]
    outputs: dict[str, Any]  # stack outputs, secrets still marked
    # The objects __main__.py built (settings, credentials, specs, ...), for harnesses that run the
    # same service specs for real (tests/live); their Outputs are resolved by the time synth returns.
    program: dict[str, Any] = field(default_factory=dict, repr=False)
    placeholders: list[str] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)  # existing objects the program read, with the mocks' answers

    def of_type(self, type_token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_token]

    def waits_for(self, name: str) -> set[str]:
        """Every resource `name` waits for, directly or through what it waits for."""
        by_name = {r.name: r for r in self.resources}
        seen: set[str] = set()
        todo = [name]
        while todo:
            for dependency in by_name[todo.pop()].dependencies - seen:
                seen.add(dependency)
                if dependency in by_name:
                    todo.append(dependency)
        return seen

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as a manifest (secret values written as [secret])."""
        return [
            redact(r.inputs)
            for r in self.resources
            if r.type.startswith("kubernetes:") and r.custom and not r.type.startswith("kubernetes:helm") and r.type != "pulumi:providers:kubernetes"
        ]


def redact(value: Any) -> Any:
    """Secret values become [secret]; a secret map keeps its keys (file names in a Secret's
    stringData are not secret, and manifests stay schema-valid)."""
    if is_secret(value):
        inner = value["value"]
        return {key: SECRET_TEXT for key in inner} if isinstance(inner, dict) else SECRET_TEXT
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def unwrap(value: Any) -> Any:
    """Inputs with secret markers removed (for tests that need the values)."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def synth(
    stack: str,
    config: list[str] = (),
    secrets: list[str] = (),
    root: Path = ROOT,
    transformations: list = (),
    reads: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> SynthResult:
    """Run the program for `stack` under mocks. Raises SettingsError / pulumi.RunError on bad settings.
    `reads` answers the program's reads of existing objects, by (type, id); default recorder.READS."""
    stack_config = load_stack_config(stack, list(config), list(secrets), root)
    # After a failed run the runtime still tracks that run's failed Outputs (set_mocks does not reset the
    # set), and the next run of the same process would await them as its own and fail with their error.
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    recorder = Recorder(reads)
    monitor = DependencyMonitor(recorder)
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(stack_config.engine_config(), sorted(stack_config.secret_keys))
    pulumi.runtime.register_stack_transformation(recorder.transformation)
    for transformation in transformations:
        pulumi.runtime.register_stack_transformation(transformation)
    captured: dict[str, Any] = {}

    async def stack_outputs() -> dict[str, Any]:
        """The exports, with secrets marked as Pulumi marks them on the wire."""
        root = pulumi.runtime.settings.get_root_resource()
        result = {}
        for name, value in sorted(root.outputs.items()):
            output = pulumi.Output.from_input(value)
            resolved = await output.future()
            result[name] = {SECRET_SIG_KEY: SECRET_SIG, "value": resolved} if await output.is_secret() else resolved
        return result

    def program():
        # The program's modules come from the repository root, which is on the path of every entry
        # point (synth.py and synthdiff.py run from it, `python -m` and pytest's `pythonpath`).
        namespace = runpy.run_path(str(root / "__main__.py"), run_name="__ngx_synth__")
        captured["settings"] = namespace["settings"]
        captured["program"] = {key: value for key, value in namespace.items() if not key.startswith("__")}
        # The mounted files plus the dashboards the Grafana provider uploads (no service mounts those).
        files = {**namespace["files"], **bundle.render_uploaded_files(namespace["settings"])}
        done = namespace["auth_files"].apply(lambda auth: captured.update(files=dict(sorted({**files, **auth}.items()))))
        outputs = pulumi.Output.from_input(asyncio.ensure_future(stack_outputs())).apply(lambda o: captured.update(outputs=o))
        return pulumi.Output.all(done, outputs)

    _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(program()).future())))
    return SynthResult(
        stack,
        captured["settings"],
        monitor.attach(recorder.all()),
        captured["files"],
        captured["outputs"],
        placeholders=stack_config.placeholders,
        program=captured["program"],
        reads=[recorder.reads[key] for key in sorted(recorder.reads)],
    )


def write(result: SynthResult, out: Path) -> list[Path]:
    """resources.yaml, files/<service>/..., kubernetes/*.yaml for a Kubernetes stack, and reads.yaml
    (what the mocks answered for each existing object the program read) when it read any."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    resources = [{"type": r.type, "name": r.name, "parent": r.parent, "options": r.options, "inputs": redact(r.inputs)} for r in result.resources]
    written.append(_write(out / "resources.yaml", dump(resources)))
    if result.reads:
        reads = [{"type": r.type, "name": r.name, "id": r.id, "state": r.state} for r in result.reads]
        written.append(_write(out / "reads.yaml", dump(reads)))
    for key, text in result.files.items():
        written.append(_write(out / "files" / key, text))
    if result.settings.platform == "kubernetes":
        for index, manifest in enumerate(result.manifests()):
            kind = manifest.get("kind", "Object")
            name = manifest.get("metadata", {}).get("name", f"object-{index}")
            namespace = manifest.get("metadata", {}).get("namespace", "cluster")
            written.append(_write(out / "kubernetes" / f"{namespace}.{kind}.{name}.yaml".lower(), dump(manifest)))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def add_stack_arguments(parser) -> None:
    """--stack, --config and --secret, as synth.py and policy/offline.py take them."""
    parser.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument("--config", action="append", default=[], metavar="PATH=VALUE", help="set a config value (pulumi config set --path syntax)")
    parser.add_argument("--secret", action="append", default=[], metavar="PATH=VALUE", help="set a secret config value")


def synth_or_report(args) -> SynthResult | None:
    """Synthesise the stack the arguments name; on invalid settings print the one-line error and return None."""
    try:
        return synth(args.stack, args.config, args.secret)
    except (SettingsError, pulumi.RunError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
