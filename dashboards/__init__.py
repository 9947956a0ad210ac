"""The NGX dashboards as code (grafana-foundation-sdk builders) and their rendered JSON.

Each module builds one dashboard with one function per panel; `dashboards.panels` holds the panel
constructors they share, `dashboards.defaults` the rest they share (thresholds, variables, the dashboard
shell), `dashboards.queries` every expression. `render_dashboards(settings)` is what synth writes to
files/grafana/dashboards/<uid>.json and what the Grafana component uploads, byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType

from dashboards import business, ml, overview, slo, stack_health
from settings import Settings

# Grafana folders (fixed UIDs): the product's dashboards and the monitoring platform's own.
NGX_FOLDER = "ngx"
PLATFORM_FOLDER = "ngx-platform"
FOLDERS = {NGX_FOLDER: "NGX Voice Agent", PLATFORM_FOLDER: "Monitoring platform"}


@dataclass(frozen=True)
class DashboardSpec:
    module: ModuleType  # has UID, TITLE and build(settings) -> dict
    folder: str

    @property
    def uid(self) -> str:
        return self.module.UID

    @property
    def title(self) -> str:
        return self.module.TITLE


DASHBOARDS: tuple[DashboardSpec, ...] = (
    DashboardSpec(overview, NGX_FOLDER),
    DashboardSpec(ml, NGX_FOLDER),
    DashboardSpec(business, NGX_FOLDER),
    DashboardSpec(slo, NGX_FOLDER),
    DashboardSpec(stack_health, PLATFORM_FOLDER),
)


def build_dashboards(settings: Settings) -> dict[str, dict]:
    """uid -> dashboard JSON model."""
    return {spec.uid: spec.module.build(settings) for spec in DASHBOARDS}


def to_json(model: dict) -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_dashboards(settings: Settings) -> dict[str, str]:
    """ "<uid>.json" -> JSON text of every dashboard."""
    return {f"{uid}.json": to_json(model) for uid, model in build_dashboards(settings).items()}
