"""A checker for the relative links of the Markdown documentation, as GitHub resolves them.

A link is `[text](target)` or `![alt](target)` outside code; `target` is `path`, `path#anchor` or
`#anchor`, relative to the file that holds it. External links (`https:`, `mailto:`, ...) are not
followed: the suite runs offline. An anchor must be the slug of a heading of the target file, computed
the way GitHub computes it: the heading's text lowercased, punctuation other than `-` and `_` removed,
each space turned into `-`, and the second, third, ... heading with the same slug suffixed `-1`, `-2`.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text, before duplicates are numbered."""
    text = _LINK.sub(lambda m: m.group(1), heading)  # a link in a heading contributes its text only
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor GitHub gives the headings of one Markdown file."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in _prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link outside code."""
    found = []
    for number, line in _prose_lines(text):
        line = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        found.extend((number, match.group(2)) for match in _LINK.finditer(line))
    return found


def broken_links(files: list[Path], root: Path) -> list[str]:
    """One line per link in `files` that does not resolve: `file:line: target: why`."""
    problems = []
    cache: dict[Path, set[str]] = {}

    def anchors_of(path: Path) -> set[str]:
        if path not in cache:
            cache[path] = anchors(path.read_text())
        return cache[path]

    for source in files:
        for number, target in links(source.read_text()):
            if not target or _SCHEME.match(target):
                continue
            where = f"{source.relative_to(root).as_posix()}:{number}: {target}"
            path_part, _, anchor = target.partition("#")
            path = (source.parent / unquote(path_part)).resolve() if path_part else source
            if not path.is_relative_to(root.resolve()):
                problems.append(f"{where}: points outside the repository")
            elif not path.exists():
                problems.append(f"{where}: no such file")
            elif anchor and path.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor and unquote(anchor) not in anchors_of(path):
                problems.append(f"{where}: no heading with anchor #{anchor} in {path.name}")
    return problems
