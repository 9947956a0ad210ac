"""Every configuration key path Loki documents, read from its configuration reference.

    git show v3.5.3:docs/sources/shared/configuration.md > configuration.md   # in a clone of grafana/loki
    python scripts/loki_reference_keys.py configuration.md tests/fixtures/loki_config_keys.txt

With a fixture file it checks that every path in the fixture is in the reference (exit 1 otherwise),
which is how tests/fixtures/loki_config_keys.txt was derived and how to re-derive it for a new Loki
tag. Without one it prints every path. The reference is one YAML-like block per configuration block
(`### name`); `[key: <type>]` is a leaf, `key:` a nested map, `[key: <block>]` and `[<block>]` a
block used there, `<list of blocks>` a list of that block (written `key[]` in a path).
"""

from __future__ import annotations

import re
import sys

_HEADING = re.compile(r"^### (\S+)$")
_LEAF = re.compile(r"^(\s*)\[([A-Za-z0-9_]+): (.*)\]$")
_EMBED = re.compile(r"^(\s*)\[<([a-z0-9_]+)>\]$")
_MAP = re.compile(r"^(\s*)([A-Za-z0-9_]+):\s*$")
_BLOCK_REF = re.compile(r"^<(list of )?([a-z0-9_]+?)s?>$")
_TOP = "loki.yaml"


def parse_blocks(text: str) -> dict[str, list[str]]:
    """Block name -> the lines of its YAML example (the top level is `loki.yaml`)."""
    blocks: dict[str, list[str]] = {}
    name, inside = None, False
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            name = _TOP if heading.group(1) == "Supported" else heading.group(1)
        if line.startswith("### Supported contents"):
            name = _TOP
        if line.startswith("```yaml") and name:
            inside, blocks[name] = True, []
            continue
        if line.startswith("```"):
            inside = False
            continue
        if inside and name:
            blocks[name].append(line)
    return blocks


def key_paths(blocks: dict[str, list[str]], block: str = _TOP, prefix: str = "", depth: int = 0) -> set[str]:
    if depth > 12:
        return set()
    found: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, path) of the open maps

    def at(indent: int) -> str:
        while stack and stack[-1][0] >= indent:
            stack.pop()
        return stack[-1][1] if stack else prefix

    for line in blocks.get(block, []):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := _EMBED.match(line):
            found |= key_paths(blocks, match.group(2), at(len(match.group(1))), depth + 1)
        elif match := _LEAF.match(line):
            indent, key, kind = len(match.group(1)), match.group(2), match.group(3).split(" | ")[0].strip()
            path = f"{at(indent)}.{key}".lstrip(".")
            ref = _BLOCK_REF.match(kind)
            target = None
            if ref:
                name = ref.group(2)
                target = name if name in blocks else (f"{name}s" if f"{name}s" in blocks else None)
            if target:
                if ref.group(1):
                    path += "[]"
                found.add(path)
                found |= key_paths(blocks, target, path, depth + 1)
            else:
                found.add(path)
        elif match := _MAP.match(line):
            indent, key = len(match.group(1)), match.group(2)
            path = f"{at(indent)}.{key}".lstrip(".")
            found.add(path)
            stack.append((indent, path))
    return found


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        paths = key_paths(parse_blocks(handle.read()))
    if len(argv) < 3:
        print("\n".join(sorted(paths)))
        return 0
    with open(argv[2], encoding="utf-8") as handle:
        wanted = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    missing = [path for path in wanted if path not in paths]
    for path in missing:
        print(f"not in the reference: {path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
