"""What a change would deploy, offline: `python synthdiff.py --stack dev --diff origin/main`.

Synthesises the stack twice, from this working tree and from the tree at a git ref (each with its
own synth.py, under mocks: no Pulumi CLI, cloud or credentials), and prints what differs: resources
added, removed and changed (with the input paths that changed), then a unified diff of every
rendered file. Secrets are already redacted by synth ("[secret]"); bcrypt hashes and private keys in
files are replaced by a fingerprint, so a rotated credential still shows as changed.

The comparison is by meaning, so nothing shows up that did not change: YAML and JSON are compared
as data (key order and comments ignored, shown with sorted keys), durations are compared by length
(`60s` equals `1m`; shown in canonical form such as `1m30s` or `30d`), lists Docker treats as sets
(env, labels, mounts, uploads, ...) are compared in sorted order, and files held in resources
(ConfigMap data, Docker uploads) are compared like the rendered files.

Exit status: 0 (with or without differences; `--exit-code` makes differences 1, like git diff),
2 when either tree does not synthesise.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parent

# Lists whose order carries no meaning for the provider (Docker keeps them as sets), compared sorted.
SET_LIKE_KEYS = frozenset({"envs", "labels", "uploads", "mounts", "volumes", "ports", "networksAdvanced", "hosts",
                           "securityOpts", "dependsOn", "ignoreChanges", "tolerations"})
# Keys whose values share a unit suffix with durations but are not durations (500m CPU is millicores).
NOT_DURATION_KEYS = frozenset({"cpu", "cpus"})
# String inputs that hold a JSON document (Grafana's dashboards and alert rules).
JSON_TEXT_KEYS = frozenset({"configJson", "modelJson", "dataJson"})
# How list items are matched when diffing (so inserting one item does not shift every path after it).
IDENTITY_KEYS = ("name", "file", "label", "target", "mountPath", "containerPath", "key", "internal", "port")
LONG_VALUE = 80

_DURATION = re.compile(r"^(?:\d+(?:ms|y|w|d|h|m|s))+$")
_DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_FLAG_VALUE = re.compile(r"^(?P<flag>--?[A-Za-z0-9_.-]+=)(?P<value>.*)$")
_BCRYPT = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
_PRIVATE_KEY = re.compile(r"-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL)


class DiffError(Exception):
    """A tree that cannot be rendered; the message says which and why."""


# --- normalisation -----------------------------------------------------------------------------

def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def redact_text(text: str) -> str:
    """Credentials that may sit in rendered files, replaced by a fingerprint of themselves."""
    text = _BCRYPT.sub(lambda m: f"[bcrypt hash {_fingerprint(m.group(0))}]", text)
    return _PRIVATE_KEY.sub(lambda m: f"[{m.group(1).lower()} {_fingerprint(m.group(0))}]", text)


def canonical_duration(text: str) -> str:
    """`60s` -> `1m`, `720h` -> `30d`, `90s` -> `1m30s`; anything that is not a duration unchanged."""
    from settings.validators import duration_ms

    if not _DURATION.match(text):
        return text
    try:
        remaining = duration_ms(text)
    except ValueError:  # units out of order (e.g. 30s1m): not a Prometheus duration, leave it
        return text
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _DURATION_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _normalise_string(value: str, key: str | None) -> str:
    value = redact_text(value)
    if value.startswith(("{", "[")) and "\n" in value or key in JSON_TEXT_KEYS:
        try:  # JSON held in a string input (a dashboard's configJson): compared as data
            return json.dumps(normalise(json.loads(value)), indent=2, sort_keys=True, ensure_ascii=False)
        except ValueError:
            pass
    if key in NOT_DURATION_KEYS:
        return value
    flag = _FLAG_VALUE.match(value)
    if flag:
        return flag["flag"] + canonical_duration(flag["value"])
    return canonical_duration(value)


_FILE_SUFFIXES = (".yml", ".yaml", ".json")


def normalise(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        normalised = {}
        for name, item in sorted(value.items(), key=lambda pair: str(pair[0])):
            name = str(name)
            if isinstance(item, str) and "\n" in item and name.endswith(_FILE_SUFFIXES):
                normalised[name] = normalise_file(name, item)  # a file held in a ConfigMap: data.<file name>
            elif name == "content" and isinstance(item, str) and isinstance(value.get("file"), str):
                normalised[name] = normalise_file(value["file"], item)  # a file uploaded into a container
            else:
                normalised[name] = normalise(item, name)
        return normalised
    if isinstance(value, list):
        items = [normalise(item, key) for item in value]
        if key in SET_LIKE_KEYS:
            items.sort(key=lambda item: json.dumps(item, sort_keys=True, default=str))
        return items
    if isinstance(value, str):
        return _normalise_string(value, key)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the mocks see every number as a float; 3.0 and 3 are the same input
    return value


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=10_000, allow_unicode=True)


def normalise_file(path: str, text: str) -> str:
    """The text a reviewer compares: YAML/JSON as sorted, normalised data; anything else as written."""
    suffix = Path(path).suffix
    try:
        if suffix in (".yml", ".yaml"):
            documents = [normalise(document) for document in yaml.safe_load_all(text)]
            return "---\n".join(_dump(document) for document in documents)
        if suffix == ".json":
            return json.dumps(normalise(json.loads(text)), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except (yaml.YAMLError, ValueError):
        pass  # not what its name says: compare it as text
    return redact_text(text)


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
        run = subprocess.run([sys.executable, str(tree / "synth.py"), "--stack", stack, "--out", str(out)],
                             cwd=tree, env=env, capture_output=True, text=True)
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
        if all(isinstance(item.get(key), (str, int)) for item in items) and \
                all(len({item[key] for item in items}) == len(items) for items in lists):
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
            yield from changed_paths(old[index] if index < len(old) else ABSENT,
                                     new[index] if index < len(new) else ABSENT, f"{path}[{index}]")
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
        lines = list(difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(),
            fromfile=f"a/{name}" if old is not None else "/dev/null",
            tofile=f"b/{name}" if new is not None else "/dev/null", lineterm=""))
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
    lines = [title,
             f"resources: {len(diff.changed)} changed, {len(diff.added)} added, {len(diff.removed)} removed"]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", required=True, help="stack to compare (repeat for several)")
    parser.add_argument("--diff", required=True, metavar="BASE_REF", help="git ref to compare the working tree with, e.g. origin/main")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when anything differs")
    args = parser.parse_args(argv)
    formatter = format_markdown if args.format == "markdown" else format_text
    reports, changed = [], False
    for stack in args.stack:
        try:
            diff = diff_stack(stack, args.diff)
        except DiffError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        changed |= not diff.empty
        reports.append(formatter(diff))
    print("\n\n".join(reports))
    return 1 if args.exit_code and changed else 0


if __name__ == "__main__":
    sys.exit(main())
