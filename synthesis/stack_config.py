"""A stack's configuration as the program would see it: the stack file, `--config`/`--secret`
overrides in `pulumi config set --path` syntax, and placeholders for credentials synth cannot read."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from settings import PROJECT, Settings, SettingsError, validators as v
from settings.schema import REQUIRED, walk

ROOT = Path(__file__).resolve().parent.parent
_PATH_TOKEN = re.compile(r'\["([^"]+)"\]|\[(\d+)\]|([^.\[\]]+)')


@dataclass
class StackConfig:
    values: dict[str, Any]  # full config key ("ngx-monitoring:prometheus") -> decoded value
    secret_keys: set[str]
    placeholders: list[str] = field(default_factory=list)  # key paths that got a placeholder

    def engine_config(self) -> dict[str, str]:
        """What `pulumi.runtime.set_all_config` takes: strings, objects as JSON."""
        return {key: value if isinstance(value, str) else json.dumps(value) for key, value in sorted(self.values.items())}


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"], as `pulumi config set --path` reads it."""
    parts: list[str | int] = []
    position = 0
    for match in _PATH_TOKEN.finditer(path):
        quoted, index, plain = match.groups()
        parts.append(int(index) if index is not None else (quoted if quoted is not None else plain))
        position = match.end()
        if position < len(path) and path[position] == ".":
            position += 1
    if not parts or position != len(path) or isinstance(parts[0], int):
        raise SettingsError(path, "is not a config path; write it like prometheus.retentionTime or app.targets[0]")
    return parts


def _set(tree: dict[str, Any], parts: list[str | int], value: Any) -> None:
    node: Any = tree
    for part, following in zip(parts, parts[1:], strict=False):
        if isinstance(part, int):
            while len(node) <= part:
                node.append(None)
            if node[part] is None:
                node[part] = [] if isinstance(following, int) else {}
            node = node[part]
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = [] if isinstance(following, int) else {}
            node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def _get(tree: Any, parts: list[str | int]) -> Any:
    for part in parts:
        if isinstance(part, int):
            if not isinstance(tree, list) or part >= len(tree):
                return None
        elif not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _concrete(tree: Any, parts: list[str]) -> list[list[str | int]]:
    """A settings key path's parts with each `name[]` (a list of objects) expanded to every item the
    tree holds: ["remoteWrite[]", "password"] -> [["remoteWrite", 0, "password"], ...]."""
    found: list[list[str | int]] = [[]]
    for part in parts:
        if not part.endswith("[]"):
            found = [[*prefix, part] for prefix in found]
            continue
        name = part.removesuffix("[]")
        found = [[*prefix, name, index] for prefix in found for index in range(len(_get(tree, [*prefix, name]) or []))]
    return found


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _placeholder(check) -> str:
    if check in (v.url, v.https_url):
        return "https://synth.placeholder.invalid/secret"
    if getattr(check, "__qualname__", "").startswith("pem"):
        return "-----BEGIN PRIVATE KEY-----\nc3ludGgtcGxhY2Vob2xkZXI=\n-----END PRIVATE KEY-----\n"
    return "synth-placeholder-secret"


def _short(key: str) -> str:
    return key.split(":", 1)[1] if key.startswith(f"{PROJECT}:") else key


def load_stack_config(stack: str, config: list[str] = (), secrets: list[str] = (), root: Path = ROOT) -> StackConfig:
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise SettingsError("stack", f"{stack_file.name} does not exist; use a stack that has a settings file (dev, prod)")
    document = yaml.safe_load(stack_file.read_text()) or {}
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    placeholders: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        values[full] = copy.deepcopy(value)

    for assignment, secret in [(item, False) for item in config] + [(item, True) for item in secrets]:
        path, sep, value = assignment.partition("=")
        if not sep:
            raise SettingsError(path, "needs a value: write --config PATH=VALUE")
        parts = parse_path(path.split(":", 1)[1] if ":" in path else path)
        top = f"{PROJECT}:{parts[0]}"
        tree = {parts[0]: values.get(top)} if top in values else {}
        _set(tree, parts, value)
        values[top] = tree[parts[0]]
        if secret:
            secret_keys.add(top)

    # Encrypted values cannot be read without the stack's key; unset required credentials inside a
    # configured section cannot be invented either. Both get a placeholder of the right shape.
    for path, spec, _ in walk(Settings):
        if not spec.secret:
            continue
        top, *parts = path.split(".")
        full = f"{PROJECT}:{top}"
        for rest in _concrete(values.get(full), parts):
            parent = _get(values.get(full), rest[:-1]) if rest else None
            current = _get(values.get(full), rest)
            if _is_secure(current) or (current is None and isinstance(parent, dict) and spec.default is REQUIRED):
                tree = {top: values.get(full)}
                _set(tree, [top, *rest], _placeholder(spec.check))
                values[full] = tree[top]
                secret_keys.add(full)
                placeholders.append(".".join([top, *(f"[{p}]" if isinstance(p, int) else p for p in rest)]).replace(".[", "["))
    for full, value in list(values.items()):
        if _is_secure(value):  # an encrypted key outside the settings model (e.g. a provider's)
            values[full] = "synth-placeholder-secret"
            secret_keys.add(full)
            placeholders.append(_short(full))
    return StackConfig(values, secret_keys, placeholders)


def settings_mapping(stack_config: StackConfig) -> tuple[dict[str, Any], list[str]]:
    """The project's own keys, as settings.parse takes them."""
    raw = {key.split(":", 1)[1]: value for key, value in stack_config.values.items() if key.startswith(f"{PROJECT}:")}
    secret = [key.split(":", 1)[1] for key in stack_config.secret_keys if key.startswith(f"{PROJECT}:")]
    return raw, secret
