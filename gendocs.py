"""Regenerate the generated parts of README.md and Pulumi.yaml: `python gendocs.py`.

`python gendocs.py --check` exits 1 when either file is stale (tests/test_docs.py runs the same check)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import topology
from settings import parse
from settings.docs import config_table_markdown, pulumi_yaml_expected, replace_block

ROOT = Path(__file__).resolve().parent
README = ROOT / "README.md"
PULUMI_YAML = ROOT / "Pulumi.yaml"


def _blocks() -> dict[str, str]:
    from alerting.docs import alert_table_markdown
    from dashboards.docs import panel_table_markdown

    return {
        "config keys": config_table_markdown(),
        "topology": f"```mermaid\n{topology.mermaid()}\n```",
        "alerts": alert_table_markdown(parse({"platform": "docker"}, stack="dev")),
        "dashboards": panel_table_markdown(),
    }


def readme_expected(text: str) -> str:
    for name, block in _blocks().items():
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        text = replace_block(text, begin, end, f"{begin}\n{block}\n{end}")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for path, expected in ((README, readme_expected), (PULUMI_YAML, pulumi_yaml_expected)):
        current = path.read_text()
        wanted = expected(current)
        if wanted != current:
            stale.append(path.name)
            if not args.check:
                path.write_text(wanted)
    if args.check and stale:
        print(f"stale: {', '.join(stale)}; run `python gendocs.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
