"""ruff (settings in pyproject.toml) finds nothing to report and nothing to reformat.

The same check pre-commit runs on each commit (.pre-commit-config.yaml), run here so CI enforces it:
unused imports, shadowed names, unordered imports and pre-3.11 idioms fail the suite instead of
piling up, and every file keeps one layout whoever wrote it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

RUFF = Path(sys.executable).with_name("ruff")


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_check_finds_nothing():
    run = ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert run.returncode == 0, f"`ruff check .` (fix with `ruff check --fix .`):\n{run.stdout[-6000:]}{run.stderr}"


def test_ruff_format_changes_nothing():
    run = ruff("format", "--no-cache", "--check", ".")
    assert run.returncode == 0, f"`ruff format --check .` (fix with `ruff format .`):\n{run.stdout[-6000:]}{run.stderr}"


def test_pre_commit_runs_the_pinned_ruff():
    """One ruff version: the hook, requirements-test.in and the venv the tests run."""
    pinned = re.search(r"^ruff==(\S+)$", (ROOT / "requirements-test.in").read_text(), re.MULTILINE).group(1)
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    ruff_hook = next(repo for repo in hooks if repo["repo"] == "https://github.com/astral-sh/ruff-pre-commit")
    assert ruff_hook["rev"] == f"v{pinned}"
    assert {hook["id"] for hook in ruff_hook["hooks"]} == {"ruff-check", "ruff-format"}
    assert ruff("--version").stdout.split() == ["ruff", pinned]
