"""The documentation matches the code and holds together: generated blocks are current (topology in
README.md, settings keys, alerts and dashboards in docs/), every key is documented, the README names
the two commands, and every relative link and anchor resolves, so a moved section cannot strand a reader."""

from __future__ import annotations

import pytest

import gendocs
from settings.docs import pulumi_yaml_expected, spelled_duration, stack_values_markdown, value_at
from settings.model import Settings
from settings.schema import walk
from tests.doclinks import anchors, broken_links, slug

DOCUMENTATION = sorted([gendocs.README, *gendocs.DOCS.glob("*.md"), *(gendocs.ROOT / "runbooks").glob("*.md")])


@pytest.mark.parametrize("path", gendocs.generated_files(), ids=lambda path: path.relative_to(gendocs.ROOT).as_posix())
def test_generated_blocks_are_current(path):
    text = path.read_text()
    assert gendocs.expected(path, text) == text, f"{path.name} is stale: run `python gendocs.py`"


def test_pulumi_yaml_lists_every_key():
    text = gendocs.PULUMI_YAML.read_text()
    assert pulumi_yaml_expected(text) == text, "Pulumi.yaml is stale: run `python gendocs.py`"
    for path, spec, _ in walk(Settings):
        if "." in path:
            assert f"#   {path}{' (secret)' if spec.secret else ''}:" in text
        else:
            assert f"\n  {path}:\n    type: string" in text


def test_configuration_documents_every_key():
    text = gendocs.CONFIGURATION.read_text()
    for path, _, _ in walk(Settings):
        assert f"| `{path}` |" in text, f"{path} is not in docs/configuration.md"


def test_readme_names_the_two_commands_in_one_runnable_block():
    text = gendocs.README.read_text()
    block = text.split("## The two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands == ["scripts/up.sh dev", "scripts/test.sh"]


def test_readme_stays_an_entry_page():
    assert len(gendocs.README.read_text().splitlines()) <= 200


def test_every_doc_is_linked_from_the_readme():
    text = gendocs.README.read_text()
    for path in gendocs.DOCS.glob("*.md"):
        assert f"(docs/{path.name})" in text, f"README.md does not point to docs/{path.name}"


def test_every_relative_link_and_anchor_resolves():
    assert len(DOCUMENTATION) > 30  # README, the docs and the runbooks were all found
    assert broken_links(DOCUMENTATION, gendocs.ROOT) == []


def test_alert_table_links_each_runbook_from_docs():
    text = gendocs.ALERTS.read_text()
    assert "](../runbooks/APIDown.md)" in text


# The checker itself: a checker that passes everything would make the test above worthless.


def test_slugs_follow_githubs_rules():
    assert slug("Operations: backup, restore, credentials, capacity") == "operations-backup-restore-credentials-capacity"
    assert slug("Deploying dev (Docker)") == "deploying-dev-docker"
    assert slug("The `two` commands_x") == "the-two-commands_x"
    assert slug("See [the docs](x.md) now") == "see-the-docs-now"
    assert anchors("# A\n## A\n```\n# A\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_checker_reports_each_broken_link_and_nothing_else(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "target.md").write_text("# Target page\n\n## Same\n\n## Same\n")
    (tmp_path / "README.md").write_text(
        "# Home\n\n## Getting started\n\n"
        "[ok](docs/target.md) [ok](docs/target.md#target-page) [ok](docs/target.md#same-1) [ok](#getting-started)\n"
        "[ok](https://example.com/x.md#nowhere) `[code](missing.md)`\n"
        "```\n[fenced](missing.md)\n```\n"
        "[gone](docs/missing.md)\n"
        "[bad anchor](docs/target.md#same-2)\n"
        "[bad local](#home-1)\n"
        "[outside](../elsewhere.md)\n"
    )
    problems = broken_links([tmp_path / "README.md"], tmp_path)
    assert problems == [
        "README.md:10: docs/missing.md: no such file",
        "README.md:11: docs/target.md#same-2: no heading with anchor #same-2 in target.md",
        "README.md:12: #home-1: no heading with anchor #home-1 in README.md",
        "README.md:13: ../elsewhere.md: points outside the repository",
    ]


def test_figures_are_spelled_in_their_largest_whole_unit():
    assert spelled_duration(600) == "10 minutes"
    assert spelled_duration(3600) == "1 hour"
    assert spelled_duration(90) == "90 seconds"
    assert spelled_duration(10 * 365 * 86400) == "10 years"


def test_stack_values_are_read_from_each_stacks_settings():
    dev, prod = gendocs.stack_settings("dev"), gendocs.stack_settings("prod")
    assert value_at(prod, "alertmanager.replicas") == prod.alertmanager.replicas
    table = stack_values_markdown({"dev": dev, "prod": prod}, ("prometheus.replicas",))
    assert table.splitlines()[-1] == f"| `prometheus.replicas` | `{dev.prometheus.replicas}` | `{prod.prometheus.replicas}` |"


def test_an_inline_block_stays_inside_its_sentence():
    text = "live <!-- BEGIN token lifetime -->x<!-- END token lifetime -->. The first <!-- BEGIN token rotation -->y<!-- END token rotation --> z"
    updated = gendocs.doc_expected(gendocs.GRAFANA_CONTENT, text)
    assert "\n" not in updated and updated.startswith("live <!-- BEGIN token lifetime -->") and "x<!--" not in updated
