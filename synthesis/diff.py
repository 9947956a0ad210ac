"""synthdiff's engine: render a stack from the working tree and from a git ref, compare the two
renderings (normalised by synthesis/normalise.py) and report what differs, as text or as Markdown
for a pull-request comment. synthdiff.py at the repository root is its command line.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthesis.normalise import normalise, normalise_file

ROOT = Path(__file__).resolve().parent.parent

# How list items are matched when diffing (so inserting one item does not shift every path after it).
IDENTITY_KEYS = ("name", "file", "label", "target", "mountPath", "containerPath", "key", "internal", "port")
LONG_VALUE = 80


class DiffError(Exception):
    """A tree that cannot be rendered; the message says which and why."""


# --- rendering both trees ----------------------------------------------------------------------


@dataclass
class Rendering:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type name" -> parent/options/inputs
    files: dict[str, str] = field(default_factory=dict)  # "<service>/<path>" -> normalised text


def load_rendering(out: Path) -> Rendering:
    """Read what synth wrote (resources.yaml and files/; kubernetes/ repeats the resources' inputs)."""
    rendering = Rendering()
    for record in yaml.safe_load((out / "resources.yaml").read_text()) or []:
        key = f"{record['type']} {record['name']}"
        rendering.resources[key] = normalise({name: record.get(name) for name in ("parent", "options", "inputs")})
    files = out / "files"
    for path in sorted(files.rglob("*")) if files.exists() else []:
        if path.is_file():
            relative = path.relative_to(files).as_posix()
            rendering.files[relative] = normalise_file(relative, path.read_text())
    return rendering


def render_worktree(stack: str, out: Path) -> bool:
    """This tree, in this process (synth.py's own code path). False when the stack does not exist
    here (a removed stack: everything is removed)."""
    import pulumi

    from settings import SettingsError
    from synthesis.run import synth, write

    if not (ROOT / f"Pulumi.{stack}.yaml").exists():
        return False
    try:
        write(synth(stack), out)
    except (SettingsError, pulumi.RunError) as err:
        raise DiffError(f"the working tree does not synthesise stack {stack}: {err}") from err
    return True


def render_ref(ref: str, stack: str, out: Path, repo: Path = ROOT) -> bool:
    """The tree at `ref`, with that tree's own synth.py in a fresh interpreter (same venv). False
    when the stack does not exist at `ref` (a new stack: everything is added)."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref], capture_output=True)
    if archive.returncode != 0:
        raise DiffError(f"git archive {ref}: {archive.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory(prefix="synthdiff-") as temporary:
        tree = Path(temporary)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        if not (tree / f"Pulumi.{stack}.yaml").exists():
            return False
        if not (tree / "synth.py").exists():
            raise DiffError(f"{ref} has no synth.py, so it cannot be rendered offline")
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        run = subprocess.run([sys.executable, str(tree / "synth.py"), "--stack", stack, "--out", str(out)], cwd=tree, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            lines = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()
            raise DiffError(f"{ref} does not synthesise stack {stack}: {lines[-1]}")
    return True


# --- comparing ---------------------------------------------------------------------------------

ABSENT = object()


def _identity(*lists: list) -> str | None:
    """A key that every item has and whose value tells apart the items of each list, if there is one."""
    items = [item for items in lists for item in items]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        if all(isinstance(item.get(key), (str, int)) for item in items) and all(len({item[key] for item in items}) == len(items) for items in lists):
            return key
    return None


def changed_paths(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) of every leaf that differs; ABSENT marks a side that does not have it."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from changed_paths(old.get(key, ABSENT), new.get(key, ABSENT), f"{path}.{key}" if path else key)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = _identity(old, new)
        if key is not None:
            before, after = {item[key]: item for item in old}, {item[key]: item for item in new}
            for value in sorted(set(before) | set(after), key=str):
                yield from changed_paths(before.get(value, ABSENT), after.get(value, ABSENT), f"{path}[{key}={value}]")
            return
        for index in range(max(len(old), len(new))):
            yield from changed_paths(old[index] if index < len(old) else ABSENT, new[index] if index < len(new) else ABSENT, f"{path}[{index}]")
        return
    if old != new:
        yield path, old, new


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    if isinstance(value, str) and ("\n" in value or len(value) > LONG_VALUE):
        return f"<text, {len(value.splitlines())} lines>"
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= LONG_VALUE else f"<{type(value).__name__}, {len(text)} characters>"


def _describe(path: str, old: Any, new: Any) -> str:
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old + new or max(len(old), len(new)) > LONG_VALUE):
        lines = list(difflib.ndiff(old.splitlines(), new.splitlines()))
        added = sum(line.startswith("+ ") for line in lines)
        removed = sum(line.startswith("- ") for line in lines)
        return f"{path}: text changed (+{added} -{removed} lines)"
    if old is ABSENT:
        return f"{path}: added {_show(new)}"
    if new is ABSENT:
        return f"{path}: removed {_show(old)}"
    return f"{path}: {_show(old)} -> {_show(new)}"


@dataclass
class StackDiff:
    stack: str
    base_label: str
    head_label: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # resource -> descriptions of changed paths
    file_diffs: dict[str, list[str]] = field(default_factory=dict)  # file -> unified diff lines
    base_missing: bool = False
    head_missing: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.file_diffs)


def compare(base: Rendering, head: Rendering, stack: str, base_label: str, head_label: str) -> StackDiff:
    diff = StackDiff(stack, base_label, head_label)
    diff.added = sorted(set(head.resources) - set(base.resources))
    diff.removed = sorted(set(base.resources) - set(head.resources))
    for key in sorted(set(base.resources) & set(head.resources)):
        changes = [_describe(*change) for change in changed_paths(base.resources[key], head.resources[key])]
        if changes:
            diff.changed[key] = changes
    for name in sorted(set(base.files) | set(head.files)):
        old, new = base.files.get(name), head.files.get(name)
        if old == new:
            continue
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(),
                (new or "").splitlines(),
                fromfile=f"a/{name}" if old is not None else "/dev/null",
                tofile=f"b/{name}" if new is not None else "/dev/null",
                lineterm="",
            )
        )
        diff.file_diffs[name] = lines
    return diff


def format_text(diff: StackDiff) -> str:
    title = f"synth diff: stack {diff.stack}, {diff.base_label} -> {diff.head_label}"
    if diff.base_missing:
        title += f" (the stack does not exist at {diff.base_label})"
    if diff.head_missing:
        title += f" (the stack does not exist in the {diff.head_label})"
    if diff.empty:
        return f"{title}: no changes"
    lines = [title, f"resources: {len(diff.changed)} changed, {len(diff.added)} added, {len(diff.removed)} removed"]
    lines += [f"  + {key}" for key in diff.added]
    lines += [f"  - {key}" for key in diff.removed]
    for key, changes in diff.changed.items():
        lines.append(f"  ~ {key}")
        lines += [f"      {change}" for change in changes]
    added = sum(1 for lines_ in diff.file_diffs.values() if lines_ and lines_[0] == "--- /dev/null")
    removed = sum(1 for lines_ in diff.file_diffs.values() if len(lines_) > 1 and lines_[1] == "+++ /dev/null")
    lines.append(f"files: {len(diff.file_diffs) - added - removed} changed, {added} added, {removed} removed")
    for file_lines in diff.file_diffs.values():
        lines += file_lines
    return "\n".join(lines)


def format_markdown(diff: StackDiff) -> str:
    """For a pull-request comment: a heading, then the text report as a diff block."""
    body = format_text(diff)
    heading = f"#### Synth diff: `{diff.stack}`"
    if diff.empty:
        return f"{heading}\n\nNo changes: this pull request does not change what `{diff.stack}` deploys."
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    return f"{heading}\n\n{fence}diff\n{body}\n{fence}"


def diff_stack(stack: str, base_ref: str, repo: Path = ROOT) -> StackDiff:
    with tempfile.TemporaryDirectory(prefix="synthdiff-out-") as temporary:
        base_out, head_out = Path(temporary) / "base", Path(temporary) / "head"
        base_exists = render_ref(base_ref, stack, base_out, repo)
        head_exists = render_worktree(stack, head_out)
        if not (base_exists or head_exists):
            raise DiffError(f"there is no stack {stack}: neither {base_ref} nor the working tree has Pulumi.{stack}.yaml")
        base = load_rendering(base_out) if base_exists else Rendering()
        head = load_rendering(head_out) if head_exists else Rendering()
        diff = compare(base, head, stack, base_ref, "working tree")
        diff.base_missing, diff.head_missing = not base_exists, not head_exists
        return diff
