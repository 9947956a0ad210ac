"""What synthdiff compares: a stack's inputs and rendered files normalised so that only a change of
meaning shows. YAML and JSON compare as data (key order and comments ignored, shown with sorted
keys), durations by length (`60s` equals `1m`; shown in canonical form such as `1m30s` or `30d`),
lists Docker treats as sets in sorted order, files held in resources (ConfigMap data, Docker
uploads) like the rendered files, and bcrypt hashes and private keys as a fingerprint of themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

# Lists whose order carries no meaning for the provider (Docker keeps them as sets), compared sorted.
SET_LIKE_KEYS = frozenset(
    {"envs", "labels", "uploads", "mounts", "volumes", "ports", "networksAdvanced", "hosts", "securityOpts", "dependsOn", "ignoreChanges", "tolerations"}
)
# Keys whose values share a unit suffix with durations but are not durations (500m CPU is millicores).
NOT_DURATION_KEYS = frozenset({"cpu", "cpus"})
# String inputs that hold a JSON document (Grafana's dashboards and alert rules).
JSON_TEXT_KEYS = frozenset({"configJson", "modelJson", "dataJson"})

_DURATION = re.compile(r"^(?:\d+(?:ms|y|w|d|h|m|s))+$")
_DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_FLAG_VALUE = re.compile(r"^(?P<flag>--?[A-Za-z0-9_.-]+=)(?P<value>.*)$")
_BCRYPT = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
_PRIVATE_KEY = re.compile(r"-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL)


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
        return int(value)  # 3.0 and 3 are the same input (renderings from before synth wrote ints had 3.0)
    return value


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


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
