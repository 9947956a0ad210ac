"""Regenerate the generated parts of the documentation and of Pulumi.yaml: `python gendocs.py`.

Each generated block lives in the one file whose reader needs it: the topology in README.md, the
settings keys in docs/configuration.md, the alerts in docs/alerts.md, the dashboards' panels in
docs/dashboards.md, the capacity estimates worked through for the dev and prod stacks in
docs/operations.md, and the figures the code sets (replicas, volumes, retention, token lifetimes,
certificate validity, S3 part sizes) wherever a page states them. A block is either a paragraph of its
own or, for a figure inside a sentence, `Inline`: its markers stand in the sentence. `python gendocs.py --check` exits 1 when any file is stale (tests/test_docs.py
runs the same check)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import topology
from settings import parse
from settings.docs import config_table_markdown, pulumi_yaml_expected, replace_block, stack_values_markdown

ROOT = Path(__file__).resolve().parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
ALERTS = DOCS / "alerts.md"
DASHBOARDS = DOCS / "dashboards.md"
OPERATIONS = DOCS / "operations.md"
DEPLOYING_DEV = DOCS / "deploying-dev.md"
DEPLOYING_PROD = DOCS / "deploying-prod.md"
# The application's network in the generated Docker example (any name: only whether it is set matters).
EXAMPLE_APP_NETWORK = "ngx_default"
GRAFANA_CONTENT = DOCS / "grafana-content.md"
PERFORMANCE = DOCS / "performance.md"
# The benchmark run the performance page shows: its tables are generated from this JSON, and its charts
# (docs/images/bench-*.png) were drawn from it by bench/charts.py.
BENCH_RESULTS = DOCS / "images" / "bench-results.json"
# The backup comparison's run (bench/backups.py): the performance page's backup tables and
# docs/images/bench-backups.png come from it.
BENCH_BACKUPS = DOCS / "images" / "bench-backups.json"
PULUMI_YAML = ROOT / "Pulumi.yaml"


class Inline(str):
    """A generated figure inside a sentence: written between its markers without line breaks."""


def stack_settings(stack: str):
    """A stack's settings as its stack file (Pulumi.<stack>.yaml) configures them, credentials as placeholders."""
    from synthesis.stack_config import load_stack_config, settings_mapping

    raw, secret_keys = settings_mapping(load_stack_config(stack, []))
    return parse(raw, stack=stack, secret_keys=secret_keys)


def with_remote_write(settings):
    """`settings` writing to one long-term store (the alerts that only exist then)."""
    from settings.remote_write import RemoteWriteEndpoint
    from settings.schema import parse_section

    store = parse_section(
        RemoteWriteEndpoint, {"name": "store", "url": "https://store.example.com/api/v1/push"}, "prometheus.remoteWrite[0]", settings.platform
    )
    return replace(settings, prometheus=replace(settings.prometheus, remote_write=(store,)))


def with_app_network(settings):
    """`settings` with the application on a Docker network (`app.dockerNetwork` set)."""
    return replace(settings, app=replace(settings.app, docker_network=EXAMPLE_APP_NETWORK))


@functools.cache
def _blocks() -> dict[Path, dict[str, str]]:
    """file -> {block name: generated text} (imported late: rules and dashboards are slow to load)."""
    from alerting.docs import alert_table_markdown, backup_jobs_markdown, backup_too_old_markdown, route_timings_markdown
    from alerting.rules import RUNBOOK_DIR
    from bench import report, targets
    from components.certificates import certificate_validity_markdown
    from components.docker.network_docs import docker_isolation_markdown
    from components.grafana.docs import certificate_wait_markdown, token_lifetime_markdown, token_rotation_markdown
    from components.kubernetes.workload import session_affinity_markdown
    from dashboards.docs import panel_table_markdown
    from settings.capacity_docs import backup_markdown, capacity_markdown
    from settings.capacity_remote_write import remote_write_markdown

    bench = json.loads(BENCH_RESULTS.read_text())
    bench_backups = json.loads(BENCH_BACKUPS.read_text())
    # The alert table links each runbook relative to the page it stands in.
    stacks = {stack: stack_settings(stack) for stack in ("dev", "prod")}
    runbooks = Path(os.path.relpath(ROOT / RUNBOOK_DIR, ALERTS.parent)).as_posix()
    return {
        README: {"topology": f"```mermaid\n{topology.mermaid()}\n```"},
        CONFIGURATION: {"config keys": config_table_markdown()},
        ALERTS: {
            "alerts": alert_table_markdown(
                parse({"platform": "docker"}, stack="dev"),
                runbooks,
                also=(("Kubernetes only", parse({"platform": "kubernetes"}, stack="prod")), ("With prometheus.remoteWrite", with_remote_write(stacks["dev"]))),
            ),
            "route timings": route_timings_markdown(stacks["dev"]),
        },
        DASHBOARDS: {"dashboards": panel_table_markdown()},
        DEPLOYING_DEV: {"docker isolation": docker_isolation_markdown(stacks["dev"], with_app_network(stacks["dev"]))},
        DEPLOYING_PROD: {
            "certificate wait": Inline(certificate_wait_markdown()),
            "stack values": stack_values_markdown(stacks),
            "session affinity": Inline(session_affinity_markdown()),
            "egress": topology.egress_markdown(),
        },
        PERFORMANCE: {
            "bench program": report.program_markdown(bench),
            "bench latency": report.latency_markdown(bench),
            "bench targets": targets.targets_markdown(bench),
            "bench dataset": Inline(report.dataset_markdown(bench)),
            "bench queries": report.queries_markdown(bench),
            "bench rules": report.rules_markdown(bench),
            "bench backups dataset": Inline(report.backups_dataset_markdown(bench_backups)),
            "bench backups": report.backups_markdown(bench_backups),
            "bench backups restore": report.backups_restore_markdown(bench_backups),
            "bench rules before": report.rules_markdown(bench, "rule_groups_before"),
            "bench rules compare": report.rules_compare_markdown(bench),
            "bench honesty": report.honesty_markdown(bench),
            "bench queries run": Inline(report.provenance(bench, "queries")),
            "bench latency run": Inline(report.provenance(bench, "latency")),
            "bench scaling run": Inline(report.provenance(bench, "scaling")),
            "bench scaling points": report.scaling_points_markdown(bench),
            "bench scaling": report.scaling_markdown(bench),
            "bench scaling first": Inline(report.first_to_alert_share(bench)),
        },
        GRAFANA_CONTENT: {"token lifetime": Inline(token_lifetime_markdown()), "token rotation": Inline(token_rotation_markdown())},
        OPERATIONS: {
            "certificate validity": Inline(certificate_validity_markdown()),
            "backup jobs": backup_jobs_markdown(stacks["prod"]),
            "backup too old": backup_too_old_markdown(stacks["dev"]),
            "capacity": capacity_markdown(stacks),
            "backup capacity": backup_markdown(stacks),
            "remote write capacity": Inline(remote_write_markdown("prod", stacks["prod"])),
        },
    }


def doc_expected(path: Path, text: str) -> str:
    """`text` (the current content of `path`) with each of that file's generated blocks brought up to date."""
    for name, block in _blocks()[path].items():
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        text = replace_block(text, begin, end, f"{begin}{block}{end}" if isinstance(block, Inline) else f"{begin}\n{block}\n{end}")
    return text


def generated_files() -> list[Path]:
    return [*_blocks(), PULUMI_YAML]


def expected(path: Path, text: str) -> str:
    return pulumi_yaml_expected(text) if path == PULUMI_YAML else doc_expected(path, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for path in generated_files():
        current = path.read_text()
        wanted = expected(path, current)
        if wanted != current:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(wanted)
    if args.check and stale:
        print(f"stale: {', '.join(stale)}; run `python gendocs.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
