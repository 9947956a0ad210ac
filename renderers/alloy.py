"""config.alloy: ship the NGX API's JSON logs to Loki with a small, fixed set of stream labels.

Labels index streams: each distinct label set is a stream with its own chunks, so an unbounded value
(request_id, trace_id, conversation_id) as a label would create a stream per request, exhaust Loki's
stream limit and make every query slower. Those ids stay in the JSON line, where LogQL finds them
with `| json | request_id="..."`. Only the catalogue's LOG_LABELS are ever sent, and `level` and
`event` are promoted only when their values look like a level or an event name.

Where the logs come from:
- Docker: the host directory `app.logPath` is mounted read-only at APP_LOG_DIR and its *.log files
  are tailed.
- Kubernetes: Alloy runs on every node (a DaemonSet in the host-access namespace) and tails the
  kubelet's files under /var/log/pods for the pods of the application namespace. We read files rather
  than use loki.source.kubernetes because that component streams every line through the API server
  and, run on every node, would tail every pod once per node; the files are local and keep being read
  while the API server is unavailable. Which files, and their `namespace`, `pod` and `container`
  labels, come from discovery.kubernetes: it watches only pod metadata, only the application
  namespace's pods, and only those on Alloy's own node (a field selector on spec.nodeName), so each
  node's Alloy learns of its few pods and nothing else; while the API server is away it keeps the
  last list it had.

Why `pod` may be a label although it changes at every rollout: a stream lives as long as its pod, so
the streams alive at once are the application's containers times its levels and events, a few
hundred at most, far below Loki's 5000 per tenant (renderers/loki.py); a rollout ends the old streams
rather than adding to them. What must never be a label is a value per request (HIGH_CARDINALITY_FIELDS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import addresses
import catalog
from renderers import paths
from settings import Settings
from topology import ALLOY, LOKI

CONFIG_FILE = paths.config_path(ALLOY, "config.alloy")
APP_LOG_DIR = "/var/log/ngx"  # in-container mount of settings.app.log_path (Docker), read-only
APP_LOG_GLOB = f"{APP_LOG_DIR}/*.log"
POD_LOG_DIR = "/var/log/pods"  # kubelet's pod log directory, mounted read-only from the node (Kubernetes)
NODE_NAME_ENV = "NODE_NAME"  # the node Alloy runs on (downward API spec.nodeName), for its discovery

# Values a label may take. A level outside this set, or an event that is free text rather than an
# identifier, is left in the line only: a typo or a formatted message must not mint new streams.
LEVELS = ("debug", "info", "warning", "warn", "error", "critical", "fatal")
EVENT_NAME = r"[a-z][a-z0-9_.:-]{0,63}"

# Component labels.
_SOURCE = "ngx_api"
_WRITER = "loki"

GENERATED = "// Rendered by ngx-monitoring; edit the settings or the renderer, not this file.\n"


def push_url(settings: Settings) -> str:
    return addresses.url(settings, LOKI) + "/loki/api/v1/push"


def stream_labels(settings: Settings) -> dict[str, str]:
    """The labels every line carries, whatever it says."""
    return _allowed({"job": catalog.LOG_JOB, "env": settings.environment, "service_name": catalog.LOG_JOB})


def _allowed(labels: dict[str, str]) -> dict[str, str]:
    """Fail at render time, not in Loki's stream count, if a label outside the catalogue sneaks in."""
    refused = sorted(name for name in labels if name not in catalog.LOG_LABELS or name in catalog.HIGH_CARDINALITY_FIELDS)
    if refused:
        raise ValueError(f"log labels {refused} are not in catalog.LOG_LABELS")
    return labels


def render_alloy_config(settings: Settings) -> str:
    kubernetes = settings.platform == "kubernetes"
    blocks = [_logging()]
    blocks += _pod_files(settings) if kubernetes else _docker_files()
    blocks += [
        _block(
            f'loki.source.file "{_SOURCE}"',
            [
                _attr("targets", f"local.file_match.{_SOURCE}.targets"),
                _attr("forward_to", f"[loki.process.{_SOURCE}.receiver]"),
            ],
        ),
        _block(f'loki.process "{_SOURCE}"', [_attr("forward_to", f"[loki.write.{_WRITER}.receiver]"), *_stages(settings, kubernetes)]),
        _block(
            f'loki.write "{_WRITER}"',
            [
                _block(
                    "endpoint",
                    [
                        _attr("url", _str(push_url(settings))),
                        # Loki runs with auth_enabled: the tenant header decides where lines land.
                        _attr("tenant_id", _str(settings.loki.tenant)),
                    ],
                ),
            ],
        ),
    ]
    return GENERATED + "\n".join(blocks)


def _logging() -> str:
    return _block("logging", [_attr("level", _str("info")), _attr("format", _str("json"))])


def _docker_files() -> list[str]:
    return [
        _block(
            f'local.file_match "{_SOURCE}"',
            [
                _attr("path_targets", f"[{_object({'__path__': APP_LOG_GLOB})}]"),
                _attr("sync_period", _str("10s")),
            ],
        )
    ]


# discovery.kubernetes's meta labels (Prometheus's kubernetes_sd names) -> the stream label they become.
POD_META_LABELS = {
    "__meta_kubernetes_namespace": "namespace",
    "__meta_kubernetes_pod_name": "pod",
    "__meta_kubernetes_pod_container_name": "container",
}


def _pod_files(settings: Settings) -> list[str]:
    """The kubelet writes /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log. Discovery
    lists this node's pods of the application namespace, one target per container (and per port);
    relabelling turns each into its file glob and its three labels, and keeps only those, so the
    targets of one container's ports collapse into one."""
    rules = [_rule(source=[meta], target=label) for meta, label in POD_META_LABELS.items()]
    rules += [
        _rule(
            source=["__meta_kubernetes_namespace", "__meta_kubernetes_pod_name", "__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"],
            separator="/",
            regex="(.*)/(.*)/(.*)/(.*)",
            replacement=f"{POD_LOG_DIR}/${{1}}_${{2}}_${{3}}/${{4}}/*.log",
            target="__path__",
        ),
        _block("rule", [_attr("action", _str("labelkeep")), _attr("regex", _str("|".join(["__path__", *catalog.KUBERNETES_LOG_LABELS])))]),
    ]
    return [
        _block(
            f'discovery.kubernetes "{_SOURCE}"',
            [
                _attr("role", _str("pod")),
                _block("namespaces", [_attr("names", _list([settings.app.namespace]))]),
                _block("selectors", [_attr("role", _str("pod")), _attr("field", f'"spec.nodeName=" + sys.env({_str(NODE_NAME_ENV)})')]),
            ],
        ),
        _block(f'discovery.relabel "{_SOURCE}"', [_attr("targets", f"discovery.kubernetes.{_SOURCE}.targets"), *rules]),
        _block(
            f'local.file_match "{_SOURCE}"',
            [
                _attr("path_targets", f"discovery.relabel.{_SOURCE}.output"),
                _attr("sync_period", _str("10s")),
            ],
        ),
    ]


def _rule(*, source: list[str], target: str, separator: str | None = None, regex: str | None = None, replacement: str | None = None) -> str:
    body = [_attr("source_labels", _list(source))]
    if separator is not None:
        body.append(_attr("separator", _str(separator)))
    if regex is not None:
        body.append(_attr("regex", _str(regex)))
    if replacement is not None:
        body.append(_attr("replacement", _str(replacement)))
    body.append(_attr("target_label", _str(target)))
    return _block("rule", body)


def kept_labels(kubernetes: bool) -> tuple[str, ...]:
    """The stream labels that reach Loki: the catalogue's, and on Kubernetes where a line came from."""
    return tuple(sorted(catalog.LOG_LABELS + (catalog.KUBERNETES_LOG_LABELS if kubernetes else ())))


def log_mount(settings: Settings) -> tuple[str, str]:
    """(host path, in-container path) of the logs Alloy reads, mounted read-only."""
    if settings.platform == "kubernetes":
        return POD_LOG_DIR, POD_LOG_DIR
    return settings.app.log_path, APP_LOG_DIR


def _stages(settings: Settings, kubernetes: bool) -> list[str]:
    stages = []
    if kubernetes:
        # Unwrap the container runtime's `<time> <stream> <flags> <line>` framing first.
        stages.append(_block("stage.cri", []))
    stages += [
        _block("stage.json", [_attr("expressions", _object({"level": "level", "event": "event", "timestamp": "timestamp"}))]),
        # The application's own timestamp, so a delayed read does not move lines in time.
        _block(
            "stage.timestamp",
            [
                _attr("source", _str("timestamp")),
                _attr("format", _str("RFC3339Nano")),
                _attr("action_on_failure", _str("skip")),
            ],
        ),
        # `level` as written by structlog is lower case; normalise, then keep only known levels.
        _block("stage.template", [_attr("source", _str("level")), _attr("template", _str("{{ ToLower .Value }}"))]),
        _block(
            "stage.regex",
            [
                _attr("source", _str("level")),
                _attr("expression", _str(f"^(?P<level_label>{'|'.join(LEVELS)})$")),
            ],
        ),
        _block(
            "stage.regex",
            [
                _attr("source", _str("event")),
                _attr("expression", _str(f"^(?P<event_label>{EVENT_NAME})$")),
            ],
        ),
        _block("stage.labels", [_attr("values", _object(_allowed({"level": "level_label", "event": "event_label"})))]),
        _block("stage.static_labels", [_attr("values", _object(stream_labels(settings)))]),
        # Last: whatever an earlier stage or the source added (the `filename` label, for one) is dropped.
        _block("stage.label_keep", [_attr("values", _list(kept_labels(kubernetes)))]),
    ]
    return stages


# --- Alloy syntax helpers: strings are JSON-escaped (Alloy accepts the same escapes), two-space indent.


def _str(value: str) -> str:
    return json.dumps(value)


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_str(value) for value in values) + "]"


def _object(entries: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_str(key)} = {_str(value)}" for key, value in entries.items()) + "}"


def _attr(name: str, expression: str) -> str:
    return f"{name} = {expression}"


def _block(header: str, body: list[str]) -> str:
    if not body:
        return f"{header} {{ }}\n"
    inner = "".join(_indent(item if item.endswith("\n") else item + "\n") for item in body)
    return f"{header} {{\n{inner}}}\n"


def _indent(text: str) -> str:
    return "".join(f"  {line}" if line.strip() else line for line in text.splitlines(keepends=True))
