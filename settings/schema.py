"""A small declarative layer over dataclasses: each field says its config key, check, default and doc.

The same declarations drive parsing (partial objects take defaults, unknown keys are refused), the
table of keys in docs/configuration.md and the key list in Pulumi.yaml, so the three cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from settings.errors import SettingsError

REQUIRED = object()
_PLATFORMS = ("docker", "kubernetes")


@dataclass(frozen=True)
class Secret:
    """A credential from config. Its repr never shows the value; only components reveal it, into an
    Output.secret, so it cannot reach a plaintext input by accident."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret([secret])"

    __str__ = __repr__


@dataclass(frozen=True)
class Spec:
    key: str
    check: Callable[[Any, str], Any] | None  # None for nested sections
    doc: str
    default: Any = REQUIRED  # raw config-style value, checked like user input
    defaults_by_platform: Mapping[str, Any] | None = None
    secret: bool = False
    section: type | None = None
    optional: bool = False  # an absent optional section is None
    section_defaults: Mapping[str, Any] | None = None  # per-field default overrides for a nested section
    many: bool = False  # a list of `section` objects (absent: an empty tuple); documented as `key[].field`

    def default_for(self, platform: str) -> Any:
        if self.defaults_by_platform and platform in self.defaults_by_platform:
            return self.defaults_by_platform[platform]
        return self.default


def setting(key: str, check, doc: str, default: Any = REQUIRED, *, docker: Any = REQUIRED, kubernetes: Any = REQUIRED, secret: bool = False):
    by_platform = {name: value for name, value in (("docker", docker), ("kubernetes", kubernetes)) if value is not REQUIRED}
    return field(metadata={"spec": Spec(key, check, doc, default, by_platform or None, secret)})


def section(key: str, cls: type, doc: str, *, optional: bool = False, **defaults: Any):
    return field(metadata={"spec": Spec(key, None, doc, section=cls, optional=optional, section_defaults=defaults or None)})


def section_list(key: str, cls: type, doc: str):
    """A list of objects of `cls`, each parsed and checked like a section; absent means none."""
    return field(metadata={"spec": Spec(key, None, doc, section=cls, many=True)})


def specs(cls: type) -> Iterator[tuple[str, Spec]]:
    for item in dataclasses.fields(cls):
        yield item.name, item.metadata["spec"]


def parse_section(cls: type, raw: Any, path: str, platform: str, overrides: Mapping[str, Any] | None = None):
    """Build `cls` from a (possibly partial) mapping; every value is checked and unknown keys fail."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SettingsError(path, f"must be an object with keys {', '.join(spec.key for _, spec in specs(cls))}")
    known = {spec.key: (name, spec) for name, spec in specs(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SettingsError(_join(path, unknown[0]), f"is not a known key; the keys here are {', '.join(sorted(known))}")
    values = {}
    for key, (name, spec) in known.items():
        key_path = _join(path, key)
        given = raw.get(key)
        if spec.many:
            values[name] = _parse_list(spec.section, given, key_path, platform)
            continue
        if spec.section is not None:
            if spec.optional and given is None:
                values[name] = None
                continue
            values[name] = parse_section(spec.section, given, key_path, platform, spec.section_defaults)
            continue
        if given is None:
            given = (overrides or {}).get(key, spec.default_for(platform))
            if given is REQUIRED:
                raise SettingsError(key_path, f"is required: {spec.doc}")
            if given is None:
                values[name] = None
                continue
        checked = spec.check(given, key_path)
        values[name] = Secret(checked) if spec.secret else checked
    return cls(**values)


def _parse_list(cls: type, raw: Any, path: str, platform: str) -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise SettingsError(path, f"must be a list of objects with keys {', '.join(spec.key for _, spec in specs(cls))}")
    return tuple(parse_section(cls, item, f"{path}[{index}]", platform) for index, item in enumerate(raw))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def walk(cls: type, path: str = "", overrides: Mapping[str, Any] | None = None) -> Iterator[tuple[str, Spec, Mapping[str, Any]]]:
    """Every leaf key path with its spec and the effective default per platform (for docs)."""
    for _, spec in specs(cls):
        key_path = _join(path, spec.key)
        if spec.section is not None:
            yield from walk(spec.section, f"{key_path}[]" if spec.many else key_path, spec.section_defaults)
            continue
        defaults = {platform: (overrides or {}).get(spec.key, spec.default_for(platform)) for platform in _PLATFORMS}
        yield key_path, spec, defaults
