"""The tables of panels in docs/dashboards.md, generated from the dashboards themselves so they cannot go
stale (gendocs.py writes them; tests/test_docs.py fails when docs/dashboards.md differs)."""

from __future__ import annotations

from dashboards import DASHBOARDS, FOLDERS, build_dashboards
from settings import Settings, parse


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
        parts.append(
            f"## {model['title']}\n\n"
            f"UID `{spec.uid}` in folder *{FOLDERS[spec.folder]}*, file `files/grafana/dashboards/{spec.uid}.json`. "
            f"{model['description']}\n"
        )
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
