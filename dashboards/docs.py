"""The dashboards section of the docs, generated from the dashboards themselves so it cannot go stale
(tests/test_dashboards.py compares docs/grafana.md with this output)."""
from __future__ import annotations

from dashboards import DASHBOARDS, FOLDERS, build_dashboards
from settings import Settings, parse

BEGIN, END = "<!-- BEGIN dashboards -->", "<!-- END dashboards -->"


def _default_settings() -> Settings:
    return parse({"platform": "docker"}, stack="dev")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def panel_table_markdown(settings: Settings | None = None) -> str:
    """One table of panels per dashboard (defaults of stack dev; thresholds follow each stack's settings)."""
    settings = settings or _default_settings()
    models = build_dashboards(settings)
    parts = []
    for spec in DASHBOARDS:
        model = models[spec.uid]
        parts.append(f"#### {model['title']}\n\n"
                     f"UID `{spec.uid}` in folder *{FOLDERS[spec.folder]}*, file `files/grafana/dashboards/{spec.uid}.json`. "
                     f"{model['description']}\n")
        rows = ["| section | panel | type | unit | what it shows |", "|---|---|---|---|---|"]
        section = ""
        for panel in model["panels"]:
            if panel["type"] == "row":
                section = panel["title"]
                continue
            unit = panel["fieldConfig"]["defaults"].get("unit", "")
            rows.append(f"| {_cell(section)} | {_cell(panel['title'])} | {panel['type']} | `{unit}` | {_cell(panel.get('description', ''))} |")
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts).rstrip("\n")


def replace_generated(text: str, settings: Settings | None = None) -> str:
    """`text` with the block between the dashboards markers regenerated."""
    start, end = text.index(BEGIN), text.index(END)
    return text[:start] + f"{BEGIN}\n{panel_table_markdown(settings)}\n" + text[end:]


def main() -> int:
    """`python -m dashboards.docs`: regenerate the panel tables in docs/grafana.md."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "grafana.md"
    text = path.read_text()
    wanted = replace_generated(text)
    if wanted != text:
        path.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
