"""synthdiff.py (over synthesis/diff.py and synthesis/normalise.py): the offline review of a change.
Pure normalisation and comparison on hand-made renderings, then the real thing against commits made
in a throwaway clone of this repository (never in the working tree): one setting changed shows as
exactly that change, and the same value spelled differently shows as no change at all."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthesis.diff import ABSENT, Rendering, changed_paths, compare, format_markdown, format_text, load_rendering
from synthesis.normalise import canonical_duration, normalise, normalise_file
from tests.conftest import ROOT

BCRYPT = "$2b$10$" + "abcdefghijklmnopqrstuv" + "A" * 31


@pytest.mark.parametrize(
    "given, canonical",
    [
        ("60s", "1m"),
        ("1m", "1m"),
        ("90s", "1m30s"),
        ("720h", "30d"),
        ("30d", "30d"),
        ("1w", "7d"),
        ("1500ms", "1s500ms"),
        ("0s", "0s"),
        ("30s1m", "30s1m"),
        ("5m-ish", "5m-ish"),
        ("15", "15"),
        ("", ""),
    ],
)
def test_canonical_duration(given, canonical):
    assert canonical_duration(given) == canonical


def test_yaml_files_compare_as_data():
    """Key order, comments, quoting and duration spelling are not changes."""
    a = "# header\nglobal:\n  scrape_interval: 60s\n  evaluation_interval: '15s'\nrule_files: [a.yml, b.yml]\n"
    b = "global:\n  evaluation_interval: 15s\n  scrape_interval: 1m\nrule_files:\n- a.yml\n- b.yml\n"
    assert normalise_file("prometheus/prometheus.yml", a) == normalise_file("prometheus/prometheus.yml", b)
    c = b.replace("- b.yml\n", "- c.yml\n")  # order of rule files is kept: it is data
    assert normalise_file("p.yml", b) != normalise_file("p.yml", c)


def test_millicores_are_not_durations():
    assert normalise({"cpu": "60s", "limits": {"cpu": "500m"}, "interval": "60s"}) == {"cpu": "60s", "interval": "1m", "limits": {"cpu": "500m"}}


def test_flag_values_are_normalised_and_set_like_lists_sorted():
    one = {"command": ["--storage.tsdb.retention.time=720h"], "envs": ["B=2", "A=1"], "args": ["b", "a"]}
    two = {"command": ["--storage.tsdb.retention.time=30d"], "envs": ["A=1", "B=2"], "args": ["b", "a"]}
    assert normalise(one) == normalise(two)
    assert normalise({"args": ["b", "a"]}) != normalise({"args": ["a", "b"]})


def test_credentials_in_files_become_fingerprints():
    text = f"basic_auth_users:\n  prometheus: {BCRYPT}\n"
    shown = normalise_file("prometheus/web.yml", text)
    assert BCRYPT not in shown and "[bcrypt hash " in shown
    rotated = normalise_file("prometheus/web.yml", text.replace("A" * 31, "B" * 31))
    assert rotated != shown  # a rotated credential is still a change
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"
    assert "MIIEvQ" not in normalise_file("proxy/tls.key", key)


def test_list_items_are_matched_by_identity_not_position():
    old = {"mounts": [{"target": "/a", "readOnly": True}, {"target": "/b"}]}
    new = {"mounts": [{"target": "/0"}, {"target": "/a", "readOnly": True}, {"target": "/b", "readOnly": True}]}
    assert list(changed_paths(old, new)) == [
        ("mounts[target=/0]", ABSENT, {"target": "/0"}),
        ("mounts[target=/b].readOnly", ABSENT, True),
    ]


def _rendering(tmp_path: Path, name: str, resources: list[dict], files: dict[str, str]) -> Rendering:
    out = tmp_path / name
    (out / "files").mkdir(parents=True)
    (out / "resources.yaml").write_text(yaml.safe_dump(resources))
    for key, text in files.items():
        path = out / "files" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_rendering(out)


def _resource(rtype: str, name: str, inputs: dict, protect: bool = False) -> dict:
    return {"type": rtype, "name": name, "parent": "ngx", "options": {"protect": protect}, "inputs": inputs}


def test_report_lists_added_removed_and_changed_resources_and_file_diffs(tmp_path):
    base = _rendering(
        tmp_path,
        "base",
        [
            _resource("docker:index/container:Container", "prometheus", {"command": ["--storage.tsdb.retention.time=15d"], "memory": 2048.0}),
            _resource("docker:index/volume:Volume", "old", {"name": "old"}),
        ],
        {"prometheus/prometheus.yml": "global:\n  scrape_interval: 15s\n", "loki/loki.yaml": "a: 1\n"},
    )
    head = _rendering(
        tmp_path,
        "head",
        [
            _resource("docker:index/container:Container", "prometheus", {"command": ["--storage.tsdb.retention.time=30d"], "memory": 2048}),
            _resource("docker:index/volume:Volume", "new", {"name": "new"}, protect=True),
        ],
        {"prometheus/prometheus.yml": "global:\n  scrape_interval: 30s\n", "loki/loki.yaml": "a: 1\n", "grafana/grafana.ini": "[x]\n"},
    )
    text = format_text(compare(base, head, "dev", "origin/main", "working tree"))
    assert text.splitlines()[:6] == [
        "synth diff: stack dev, origin/main -> working tree",
        "resources: 1 changed, 1 added, 1 removed",
        "  + docker:index/volume:Volume new",
        "  - docker:index/volume:Volume old",
        "  ~ docker:index/container:Container prometheus",
        '      inputs.command[0]: "--storage.tsdb.retention.time=15d" -> "--storage.tsdb.retention.time=30d"',
    ]
    assert "files: 1 changed, 1 added, 0 removed" in text
    assert "-  scrape_interval: 15s" in text and "+  scrape_interval: 30s" in text
    assert "+++ b/grafana/grafana.ini" in text and "loki" not in text  # unchanged files are not listed
    assert "memory" not in text  # 2048.0 from the mocks equals 2048


def test_identical_renderings_report_no_changes(tmp_path):
    resources = [_resource("docker:index/container:Container", "grafana", {"envs": ["A=1", "B=2"]})]
    base = _rendering(tmp_path, "base", resources, {"grafana/grafana.ini": "[server]\n"})
    head = _rendering(
        tmp_path, "head", [_resource("docker:index/container:Container", "grafana", {"envs": ["B=2", "A=1"]})], {"grafana/grafana.ini": "[server]\n"}
    )
    diff = compare(base, head, "dev", "main", "working tree")
    assert diff.empty
    assert format_text(diff) == "synth diff: stack dev, main -> working tree: no changes"
    assert "No changes" in format_markdown(diff)


def test_markdown_fences_survive_backticks_in_a_diff(tmp_path):
    base = _rendering(tmp_path, "base", [], {"alertmanager/templates/x.tmpl": "a\n"})
    head = _rendering(tmp_path, "head", [], {"alertmanager/templates/x.tmpl": "```\n"})
    markdown = format_markdown(compare(base, head, "dev", "main", "working tree"))
    assert markdown.splitlines()[2] == "````diff" and markdown.endswith("\n````")


# --- the real thing, against commits in a throwaway clone ------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=synthdiff-test", "-c", "user.email=test@example.invalid", *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A clone of this repository whose last three commits are: the current working tree (with
    whatever is not committed yet), `prometheus.retentionTime` 15d -> 30d in the dev stack, and
    `loki.retention` set to 7d, which is its default (168h) spelled differently. Nothing is written
    to the repository under test."""
    repo = tmp_path_factory.mktemp("synthdiff") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    listed = (
        subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_file():
            target = repo / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", "the working tree under test")
    stack_file = repo / "Pulumi.dev.yaml"
    original = stack_file.read_text()
    assert "retentionTime: 15d" in original, "the test changes this setting; update it if the stack file changed"
    stack_file.write_text(original.replace("retentionTime: 15d", "retentionTime: 30d"))
    _git(repo, "commit", "--quiet", "-am", "dev: keep 30 days")
    assert "ngx-monitoring:loki:" not in original
    stack_file.write_text(stack_file.read_text().rstrip("\n") + "\n  ngx-monitoring:loki:\n    retention: 7d\n")
    _git(repo, "commit", "--quiet", "-am", "dev: Loki keeps 7 days (the default, 168h)")
    return repo


def _synthdiff(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo / "synthdiff.py"), *args], cwd=repo, capture_output=True, text=True)


@pytest.mark.slow
def test_one_setting_changed_shows_exactly_that_change(clone):
    """retentionTime reaches Prometheus as a flag, and is quoted in texts that explain it (alert
    descriptions, dashboard panels): the report holds that flag and those lines, and nothing else."""
    run = _synthdiff(clone, "--stack", "dev", "--diff", "HEAD~2", "--exit-code")
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "synth diff: stack dev, HEAD~2 -> working tree"
    assert lines[1].endswith(" changed, 0 added, 0 removed")
    flag = '      inputs.command[3]: "--storage.tsdb.retention.time=15d" -> "--storage.tsdb.retention.time=30d"'
    resource_section = lines[2 : lines.index(next(line for line in lines if line.startswith("files: ")))]
    assert "  ~ docker:index/container:Container ngx-prometheus-container" in resource_section
    assert resource_section[resource_section.index("  ~ docker:index/container:Container ngx-prometheus-container") + 1] == flag
    for line in resource_section:  # any other changed input is a text quoting the value
        assert line.startswith("  ~ ") or line == flag or re.fullmatch(r"      \S+: text changed \(\+1 -1 lines\)", line), line
    removed = [line for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line for line in lines if line.startswith("+") and not line.startswith("+++")]
    assert removed and len(removed) == len(added)
    for old, new in zip(removed, added, strict=False):
        assert "15d" in old and old[1:].replace("15d", "30d") == new[1:], (old, new)


@pytest.mark.slow
def test_the_same_value_spelled_differently_is_no_change(clone):
    run = _synthdiff(clone, "--stack", "dev", "--diff", "HEAD~1", "--exit-code", "--format", "markdown")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "#### Synth diff: `dev`\n\nNo changes: this pull request does not change what `dev` deploys."


@pytest.mark.slow
def test_a_stack_that_exists_nowhere_is_an_error(clone):
    run = _synthdiff(clone, "--stack", "staging", "--diff", "HEAD")
    assert run.returncode == 2
    assert run.stderr.strip().endswith("error: there is no stack staging: neither HEAD nor the working tree has Pulumi.staging.yaml")


@pytest.mark.slow
def test_a_ref_that_does_not_exist_is_an_error(clone):
    run = _synthdiff(clone, "--stack", "dev", "--diff", "no-such-ref")
    assert run.returncode == 2
    assert run.stderr.startswith("error: git archive no-such-ref")


@pytest.mark.slow
def test_a_stack_new_in_the_change_is_all_added(clone):
    """A stack the base ref does not have: everything is added, and the report says why."""
    new_stack = clone / "Pulumi.staging.yaml"
    new_stack.write_text((clone / "Pulumi.dev.yaml").read_text())
    try:
        run = _synthdiff(clone, "--stack", "staging", "--diff", "HEAD")
    finally:
        new_stack.unlink()
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "synth diff: stack staging, HEAD -> working tree (the stack does not exist at HEAD)"
    assert lines[1].startswith("resources: 0 changed, ") and lines[1].endswith(" added, 0 removed")
    assert "+ docker:index/container:Container ngx-prometheus-container" in run.stdout
    assert "+++ b/prometheus/prometheus.yml" in run.stdout


def test_files_held_in_resources_compare_like_rendered_files():
    """A ConfigMap's data.<file> and a Docker upload's content are the same files as files/."""
    one = {"data": {"loki.yaml": "limits:\n  max_age: 168h\n  streams: 5\n"}, "uploads": [{"file": "/etc/loki/loki.yaml", "content": "a: 60s\nb: 1\n"}]}
    two = {"data": {"loki.yaml": "limits:\n  streams: 5\n  max_age: 7d\n"}, "uploads": [{"file": "/etc/loki/loki.yaml", "content": "b: 1\na: 1m\n"}]}
    assert normalise(one) == normalise(two)


def test_json_held_in_a_string_input_compares_as_data():
    one = {"configJson": '{"title": "NGX", "refresh": "60s", "panels": []}'}
    two = {"configJson": '{"panels": [], "refresh": "1m", "title": "NGX"}'}
    assert normalise(one) == normalise(two)
    assert normalise({"configJson": '{"title": "A"}'}) != normalise({"configJson": '{"title": "B"}'})
