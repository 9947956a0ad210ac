"""One YAML style for every rendered file: keys in the order written, block style, no line folding."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # repeated dicts are written out, never as &anchors
        return True


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(tuple, lambda dumper, value: dumper.represent_list(value))


def dump(document: Any, header: str = "") -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000, allow_unicode=True)
    return (header + body) if header else body


GENERATED = "# Rendered by ngx-monitoring; edit the settings or the renderer, not this file.\n"
