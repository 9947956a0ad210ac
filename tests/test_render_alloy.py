"""config.alloy: no Alloy binary here, so the file goes through a small parser of the Alloy syntax it uses
(blocks, attributes, strings, lists, objects, references) and every component, reference and label is
checked against what Alloy 1.x documents.

Labels matter most: each distinct label set is a Loki stream, so a request or conversation id as a
label would create a stream per request. Only catalog.LOG_LABELS may ever be sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

import addresses
import catalog
from renderers import alloy
from settings import parse

DEV = parse({"platform": "docker"}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")

# Components (and their exports) of Alloy 1.x that the config may use; all generally available.
COMPONENTS = {
    "discovery.kubernetes": {"targets"},
    "discovery.relabel": {"output"},
    "local.file_match": {"targets"},
    "loki.source.file": set(),
    "loki.process": {"receiver"},
    "loki.write": {"receiver"},
}
CONFIG_BLOCKS = {"logging"}
STAGES = {
    "stage.cri",
    "stage.json",
    "stage.timestamp",
    "stage.template",
    "stage.regex",
    "stage.labels",
    "stage.static_labels",
    "stage.label_keep",
    "stage.label_drop",
    "stage.structured_metadata",
    "stage.drop",
}
# Standard-library functions the config may call (Alloy 1.x `sys.env`: an environment variable).
FUNCTIONS = {"sys.env"}
# The meta labels discovery.kubernetes gives a pod target (role "pod"), as Alloy's reference lists them.
POD_META_LABELS = {"__meta_kubernetes_namespace", "__meta_kubernetes_pod_name", "__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"}
FORBIDDEN_LABELS = {"request_id", "trace_id", "span_id", "conversation_id", "customer_id", "user_id", "filename"}


# --- a parser for the subset of the Alloy syntax the renderer writes -------------------------------------


@dataclass(frozen=True)
class Ref:
    path: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple


@dataclass(frozen=True)
class Concat:
    parts: tuple


@dataclass
class Block:
    name: str
    label: str | None
    attrs: dict = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def children(self, name: str) -> list[Block]:
        return [block for block in self.blocks if block.name == name]


_TOKEN = re.compile(r'\s*(?:(//[^\n]*)|("(?:\\.|[^"\\])*")|([A-Za-z_][A-Za-z0-9_.]*)|(-?\d+(?:\.\d+)?)|([{}\[\]=,+()]))')


def _tokenize(text: str) -> list[tuple[str, object]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        assert match and match.end() > position, f"cannot read Alloy at {text[position : position + 40]!r}"
        position = match.end()
        comment, string, name, number, punct = match.groups()
        if comment:
            continue
        if string:
            tokens.append(("str", json.loads(string)))
        elif name:
            tokens.append(("name", name))
        elif number:
            tokens.append(("num", float(number)))
        else:
            tokens.append(("punct", punct))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0):
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else ("eof", None)

    def take(self, kind: str, value=None):
        token = self.peek()
        assert token[0] == kind and (value is None or token[1] == value), f"expected {kind} {value!r}, got {token}"
        self.i += 1
        return token[1]

    def body(self, closing: bool) -> Block:
        block = Block("", None)
        while True:
            if closing and self.peek() == ("punct", "}"):
                self.i += 1
                return block
            if not closing and self.peek()[0] == "eof":
                return block
            name = self.take("name")
            if self.peek() == ("punct", "="):
                self.i += 1
                assert name not in block.attrs, f"attribute {name} set twice"
                block.attrs[name] = self.expression()
                continue
            label = self.take("str") if self.peek()[0] == "str" else None
            self.take("punct", "{")
            child = self.body(closing=True)
            child.name, child.label = name, label
            block.blocks.append(child)

    def expression(self):
        value = self.primary()
        parts = [value]
        while self.peek() == ("punct", "+"):
            self.i += 1
            parts.append(self.primary())
        return value if len(parts) == 1 else Concat(tuple(parts))

    def primary(self):
        kind, value = self.peek()
        if kind == "str" or kind == "num":
            self.i += 1
            return value
        if kind == "name":
            self.i += 1
            if value in ("true", "false"):
                return value == "true"
            if self.peek() == ("punct", "("):
                self.i += 1
                args = []
                while self.peek() != ("punct", ")"):
                    args.append(self.expression())
                    if self.peek() == ("punct", ","):
                        self.i += 1
                self.i += 1
                assert value in FUNCTIONS, f"function {value} is not one the config may call"
                return Call(value, tuple(args))
            return Ref(value)
        if value == "[":
            self.i += 1
            items = []
            while self.peek() != ("punct", "]"):
                items.append(self.expression())
                if self.peek() == ("punct", ","):
                    self.i += 1
            self.i += 1
            return items
        if value == "{":
            self.i += 1
            entries = {}
            while self.peek() != ("punct", "}"):
                assert self.peek()[0] in ("str", "name"), f"bad object key {self.peek()}"
                key = self.take(self.peek()[0])
                self.take("punct", "=")
                assert key not in entries, f"object key {key} twice"
                entries[key] = self.expression()
                if self.peek() == ("punct", ","):
                    self.i += 1
            self.i += 1
            return entries
        raise AssertionError(f"unexpected {value!r}")


def parse_alloy(text: str) -> Block:
    assert text.count("{") == text.count("}"), "unbalanced braces"
    return _Parser(text).body(closing=False)


def _refs(node) -> list[str]:
    if isinstance(node, Ref):
        return [node.path]
    if isinstance(node, Call | Concat):
        return [ref for item in (node.args if isinstance(node, Call) else node.parts) for ref in _refs(item)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if isinstance(node, dict):
        return [ref for item in node.values() for ref in _refs(item)]
    if isinstance(node, Block):
        return [ref for value in node.attrs.values() for ref in _refs(value)] + [ref for child in node.blocks for ref in _refs(child)]
    return []


def _component(config: Block, name: str) -> Block:
    (found,) = [block for block in config.blocks if block.name == name]
    return found


def _config(settings) -> Block:
    text = alloy.render_alloy_config(settings)
    assert text.startswith("// Rendered by ngx-monitoring")
    return parse_alloy(text)


# --- tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_only_known_components_and_every_reference_resolves(settings):
    config = _config(settings)
    declared = {}
    for block in config.blocks:
        assert block.name in COMPONENTS or block.name in CONFIG_BLOCKS, block.name
        if block.name in COMPONENTS:
            assert block.label and re.fullmatch(r"[a-z_][a-z0-9_]*", block.label), block.label
            key = f"{block.name}.{block.label}"
            assert key not in declared, f"{key} declared twice"
            declared[key] = COMPONENTS[block.name]
    references = _refs(config)
    assert references, "the pipeline is not wired"
    for reference in references:
        component, _, export = reference.rpartition(".")
        assert component in declared and export in declared[component], reference
    # Every component that produces something is consumed.
    consumed = {reference.rpartition(".")[0] for reference in references}
    assert consumed == {key for key in declared if not key.startswith("loki.source.")}


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_only_catalogued_labels_are_ever_attached(settings):
    process = _component(_config(settings), "loki.process")
    for stage in process.blocks:
        assert stage.name in STAGES, stage.name
    labelled = set()
    for stage in process.children("stage.labels") + process.children("stage.static_labels"):
        labelled |= set(stage.attrs["values"])
    assert labelled <= set(catalog.LOG_LABELS)
    assert not labelled & FORBIDDEN_LABELS
    (keep,) = process.children("stage.label_keep")
    assert process.blocks[-1] is keep, "label_keep must run last, after every stage that adds labels"
    where = set(catalog.KUBERNETES_LOG_LABELS) if settings.platform == "kubernetes" else set()
    assert set(keep.attrs["values"]) == set(catalog.LOG_LABELS) | where
    assert not set(keep.attrs["values"]) & FORBIDDEN_LABELS
    extracted = set()
    for stage in process.children("stage.json"):
        extracted |= set(stage.attrs["expressions"])
    assert not extracted & FORBIDDEN_LABELS, "high-cardinality ids stay in the line, unextracted"


@pytest.mark.parametrize(
    "settings",
    [
        DEV,
        PROD,
        parse({"platform": "docker", "environment": "staging", "loki": {"tenant": "team-a"}}, stack="dev"),
    ],
    ids=["docker", "kubernetes", "custom"],
)
def test_static_labels_and_destination(settings):
    config = _config(settings)
    process = _component(config, "loki.process")
    (static,) = process.children("stage.static_labels")
    assert static.attrs["values"]["job"] == catalog.LOG_JOB == "ngx-api"
    assert static.attrs["values"]["env"] == settings.environment
    (endpoint,) = _component(config, "loki.write").children("endpoint")
    assert endpoint.attrs["url"] == addresses.url(settings, "loki") + "/loki/api/v1/push"
    assert endpoint.attrs["tenant_id"] == settings.loki.tenant
    assert _component(config, "logging").attrs == {"level": "info", "format": "json"}


def test_level_and_event_become_labels_only_when_bounded():
    process = _component(_config(DEV), "loki.process")
    (labels,) = process.children("stage.labels")
    expressions = [stage.attrs["expression"] for stage in process.children("stage.regex")]
    captures = {name: expression for expression in expressions for name in re.findall(r"\?P<(\w+)>", expression)}
    level = re.compile(captures[labels.attrs["values"]["level"]])
    event = re.compile(captures[labels.attrs["values"]["event"]])
    assert level.search("info") and level.search("error") and not level.search("notice-me")
    (template,) = process.children("stage.template")
    assert template.attrs["source"] == "level" and "ToLower" in template.attrs["template"]
    assert event.search("conversation_started") and event.search("ml.prediction")
    assert not event.search("Conversation 42 started for customer 7"), "free text must not become a label"
    assert not event.search("x" * 65)
    (json_stage,) = process.children("stage.json")
    assert process.blocks.index(json_stage) < process.blocks.index(labels)


def test_docker_tails_the_mounted_log_directory():
    config = _config(DEV)
    assert not [block for block in config.blocks if block.name.startswith("discovery.")]
    (target,) = _component(config, "local.file_match").attrs["path_targets"]
    assert target == {"__path__": f"{alloy.APP_LOG_DIR}/*.log"}
    assert alloy.APP_LOG_DIR == "/var/log/ngx"
    assert not _component(config, "loki.process").children("stage.cri")


def _relabel(rules: list[Block], target: dict[str, str]) -> dict[str, str]:
    """Prometheus relabelling (`replace`, the default action, and `labelkeep`) as Alloy applies it."""
    labels = dict(target)
    for rule in rules:
        action = rule.attrs.get("action", "replace")
        if action == "labelkeep":
            keep = re.compile(f"^(?:{rule.attrs['regex']})$")
            labels = {name: value for name, value in labels.items() if keep.match(name)}
            continue
        assert action == "replace", action
        joined = rule.attrs.get("separator", ";").join(labels.get(name, "") for name in rule.attrs["source_labels"])
        match = re.fullmatch(rule.attrs.get("regex", "(.*)"), joined)
        if match:
            replacement = rule.attrs.get("replacement", "$1")
            groups = (match.group(0), *match.groups())
            labels[rule.attrs["target_label"]] = re.sub(r"\$\{(\d+)\}|\$(\d+)", lambda m, g=groups: g[int(m.group(1) or m.group(2))], replacement)
    return labels


def test_kubernetes_discovers_its_nodes_application_pods_and_labels_their_streams():
    """The three labels come from real discovery.kubernetes meta labels, each file of the kubelet's layout
    (/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log) is found from them, and nothing else
    of the target survives (a target per container port collapses into one per container)."""
    settings = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}, "app": {"namespace": "sales"}}, stack="prod")
    config = _config(settings)
    discovery = _component(config, "discovery.kubernetes")
    assert discovery.attrs["role"] == "pod"
    assert discovery.children("namespaces")[0].attrs["names"] == ["sales"]
    (selector,) = discovery.children("selectors")
    assert selector.attrs["role"] == "pod"
    assert selector.attrs["field"] == Concat(("spec.nodeName=", Call("sys.env", (alloy.NODE_NAME_ENV,)))), "only this node's pods"
    relabel = _component(config, "discovery.relabel")
    used = {name for rule in relabel.children("rule") for name in rule.attrs.get("source_labels", [])}
    assert used <= POD_META_LABELS, used - POD_META_LABELS
    target = {
        "__address__": "10.1.2.3:8000",
        "__meta_kubernetes_namespace": "sales",
        "__meta_kubernetes_pod_name": "api-7d9c-x2k",
        "__meta_kubernetes_pod_uid": "0b7e-11",
        "__meta_kubernetes_pod_container_name": "api",
        "__meta_kubernetes_pod_container_port_number": "8000",
    }
    assert _relabel(relabel.children("rule"), target) == {
        "__path__": "/var/log/pods/sales_api-7d9c-x2k_0b7e-11/api/*.log",
        "namespace": "sales",
        "pod": "api-7d9c-x2k",
        "container": "api",
    }
    assert _component(config, "local.file_match").attrs["path_targets"] == Ref("discovery.relabel.ngx_api.output")
    assert alloy.log_mount(settings) == ("/var/log/pods", "/var/log/pods")
    assert alloy.log_mount(DEV) == (DEV.app.log_path, alloy.APP_LOG_DIR)
    process = _component(config, "loki.process")
    assert process.blocks[0].name == "stage.cri", "the CRI framing is removed before the JSON is parsed"


def test_parser_rejects_what_alloy_would_reject():
    """The structural check can fail: unbalanced braces and a duplicated attribute."""
    with pytest.raises(AssertionError):
        parse_alloy('loki.write "x" {\n  endpoint {\n    url = "u"\n}\n')
    with pytest.raises(AssertionError):
        parse_alloy('logging {\n  level = "info"\n  level = "debug"\n}\n')


def test_rendering_is_deterministic():
    for settings in (DEV, PROD):
        assert alloy.render_alloy_config(settings) == alloy.render_alloy_config(settings)


def test_renderer_refuses_labels_outside_the_catalogue():
    with pytest.raises(ValueError, match="request_id"):
        alloy._allowed({"job": "ngx-api", "request_id": "r-1"})
