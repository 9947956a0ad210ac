"""A small nginx.conf reader for tests: tokens -> a tree of directives, and lookups over it (the
directives of a server block, its locations, every directive of a name anywhere)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def all(self, name: str) -> list[Directive]:
        """Directives called `name` directly in this block."""
        return [item for item in self.block or [] if item.name == name]

    def values(self, name: str) -> list[str]:
        return [" ".join(item.args) for item in self.all(name)]


def tokens(text: str):
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#":
            i = text.index("\n", i) if "\n" in text[i:] else len(text)
        elif char in "{};":
            yield char
            i += 1
        elif char in "\"'":
            j = i + 1
            while text[j] != char:
                j += 2 if text[j] == "\\" else 1
            yield text[i + 1 : j]
            i = j + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "{};":
                j += 1
            yield text[i:j]
            i = j


def parse_conf(text: str) -> Directive:
    stack = [Directive("main", [], [])]
    words: list[str] = []
    for token in tokens(text):
        if token == ";":
            stack[-1].block.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            child = Directive(words[0], words[1:], [])
            stack[-1].block.append(child)
            stack.append(child)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return stack[0]


def walk(node: Directive):
    for item in node.block or []:
        yield item
        yield from walk(item)


def everywhere(text: str, name: str) -> list[str]:
    """Arguments of every `name` directive anywhere in the file."""
    return [" ".join(item.args) for item in walk(parse_conf(text)) if item.name == name]


def server_on_port(text: str, port: int) -> Directive:
    http = parse_conf(text).all("http")[0]
    for server in http.all("server"):
        if any(listen.args[0] == str(port) for listen in server.all("listen")):
            return server
    raise AssertionError(f"no server listens on {port}")


def locations_of(server: Directive) -> dict[str, Directive]:
    found = {}
    for location in server.all("location"):
        key = " ".join(location.args)
        assert key not in found, f"duplicate location {key}"
        found[key] = location
    return found


def upstream_hosts(text: str) -> set[str]:
    return {re.match(r"https?://([^:/]+)", target).group(1) for target in everywhere(text, "proxy_pass")}
