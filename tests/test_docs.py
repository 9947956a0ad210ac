"""The generated parts of README.md and Pulumi.yaml match the code (config keys, topology, alerts)."""
from __future__ import annotations

import gendocs
from settings.docs import pulumi_yaml_expected
from settings.model import Settings
from settings.schema import walk


def test_readme_generated_blocks_are_current():
    text = gendocs.README.read_text()
    assert gendocs.readme_expected(text) == text, "README.md is stale: run `python gendocs.py`"


def test_pulumi_yaml_lists_every_key():
    text = gendocs.PULUMI_YAML.read_text()
    assert pulumi_yaml_expected(text) == text, "Pulumi.yaml is stale: run `python gendocs.py`"
    for path, spec, _ in walk(Settings):
        if "." in path:
            assert f"#   {path}{' (secret)' if spec.secret else ''}:" in text
        else:
            assert f"\n  {path}:\n    type: string" in text


def test_readme_documents_every_key_and_the_two_commands():
    text = gendocs.README.read_text()
    for path, _, _ in walk(Settings):
        assert f"| `{path}` |" in text
    assert "scripts/test.sh" in text and "scripts/up.sh dev" in text
