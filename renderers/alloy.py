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
  and, run on every node, would tail every pod once per node; the files are local, cost the API server
  nothing, need no API token, and keep being read while the API server is unavailable.
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


def _pod_files(settings: Settings) -> list[str]:
    """The kubelet writes /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log, and each
    node holds only the files of its own pods: a glob on the application namespace finds exactly what
    this node must ship, with no discovery, API token or API-server egress needed."""
    return [
        _block(
            f'local.file_match "{_SOURCE}"',
            [
                _attr("path_targets", f"[{_object({'__path__': pod_log_glob(settings)})}]"),
                _attr("sync_period", _str("10s")),
            ],
        )
    ]


def pod_log_glob(settings: Settings) -> str:
    return f"{POD_LOG_DIR}/{settings.app.namespace}_*/*/*.log"


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
        _block("stage.label_keep", [_attr("values", _list(sorted(catalog.LOG_LABELS)))]),
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
