"""The GitHub Actions workflows (.github/workflows/): valid against GitHub's schema, and holding the
properties docs/development.md, "Pull requests, previews and deploying prod", promises: pinned actions, least privilege, secrets only from `secrets.*`,
no pull-request text in a shell, previews that comment once per stack, and a prod deploy that
waits for the tests and for an approval."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.policies.credentials import credential_name
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
# owner/repo[/path]@<full commit SHA>: a tag can be moved to other code, a commit cannot.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
# ... and the line says which release that commit is, which Renovate updates with the SHA.
PINNED_LINE = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40})  # v\d+\.\d+\.\d+$")
# The lock files (scripts/lock.sh) a workflow may install, always with their hashes checked.
LOCKS = {"requirements.txt", "requirements-test.txt", "policy/requirements.txt"}
# Contexts an outsider controls: never expanded into a shell script (script injection).
UNTRUSTED = re.compile(r"\$\{\{[^}]*\b(github\.event\.(?!pull_request\.number\b)[\w.]+|github\.head_ref)\b")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as the boolean true
        document["on"] = document.pop(True)
    return document


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def test_the_three_workflows_exist():
    assert [path.name for path in FILES] == ["deploy.yml", "pr.yml", "tests.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_workflow_is_valid_against_githubs_schema(path):
    run = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_schema_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    run = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(broken)], capture_output=True, text=True)
    assert run.returncode != 0


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit(path):
    """A moving ref (@main, @v4, even @v4.1.0, which its owner can re-tag) runs whatever its owner pushes next."""
    document = load(path)
    pinned_lines = {match.group(1) for line in path.read_text().splitlines() if (match := PINNED_LINE.match(line))}
    for job_name, step in steps(document):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{job_name}: {step['uses']} is not pinned to a full commit SHA"
            assert step["uses"] in pinned_lines, f"{job_name}: {step['uses']} needs its release as a `  # vX.Y.Z` comment"
    for job_name, job in document["jobs"].items():
        if "uses" in job:
            assert job["uses"].startswith("./.github/workflows/"), f"{job_name}: only this repository's workflows are called"
        if "container" in job:
            image = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
            assert re.search(r":\d+\.\d+\.\d+", image), f"{job_name}: container {image} is not pinned"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_least_privilege(path):
    """Read-only by default; a job that writes says so, and only to pull requests."""
    document = load(path)
    assert document["permissions"] == {"contents": "read"}
    for job_name, job in document["jobs"].items():
        permissions = job.get("permissions", {})
        assert permissions != "write-all" and isinstance(permissions, dict), job_name
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= {"pull-requests"}, f"{job_name} writes {writes}"
        assert job.get("secrets") != "inherit", f"{job_name} hands every secret to a called workflow"


def test_only_the_commenting_jobs_write_and_they_run_no_pull_request_code():
    jobs = workflow("pr.yml")["jobs"]
    writers = {name for name, job in jobs.items() if job.get("permissions", {}).get("pull-requests") == "write"}
    assert writers == {"synth-diff-comment", "preview"}
    comment = jobs["synth-diff-comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert all("checkout" not in step.get("uses", "") and "run" not in step for step in comment["steps"])
    # the job that does run the pull request's code cannot write anything
    assert jobs["synth-diff"]["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_secrets_only_through_the_secrets_context(path):
    document = load(path)
    for where, text in strings(document):
        for expression in EXPRESSION.findall(text):
            if re.search(r"\bsecrets\.", expression):
                assert re.fullmatch(r"secrets\.[A-Z][A-Z0-9_]*", expression), f"{where}: {expression}"
    for name, job in document["jobs"].items():  # a secret goes to the step that needs it, not to every step
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{name}: secrets in the job's env"
    assert "secrets." not in yaml.safe_dump(document.get("env", {}))
    envs = [(f"{name}.env", job.get("env", {})) for name, job in document["jobs"].items()]
    envs += [(f"{job}.{step.get('name', step.get('uses'))}.env", step.get("env", {})) for job, step in steps(document)]
    envs.append(("env", document.get("env", {})))
    for where, env in envs:
        for name, value in env.items():
            if credential_name(name) or name.endswith(("KUBECONFIG_DATA", "BACKEND_URL")):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z0-9_]+ \}\}", str(value)), f"{where}.{name} is not from secrets.*"
    for job, step in steps(document):
        for key, value in (step.get("with") or {}).items():
            if isinstance(value, str) and (credential_name(key) or key == "cloud-url"):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z0-9_]+ \}\}", value), f"{job}: {key} is not from secrets.*"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_untrusted_text_is_expanded_into_a_script(path):
    """Branch names, titles and bodies reach scripts through env, never `${{ }}` inside `run`."""
    document = load(path)
    for job, step in steps(document):
        for field in ("run",):
            assert not UNTRUSTED.search(step.get(field, "")), f"{job}: {step.get('name')}"
            assert "${{" not in step.get(field, ""), f"{job}: {step.get('name')} expands an expression in its script"
        script = (step.get("with") or {}).get("script", "")
        assert "${{" not in script, f"{job}: a github-script with an expression in it"


def test_pull_request_workflow():
    document = workflow("pr.yml")
    assert set(document["on"]) == {"pull_request"}  # never pull_request_target: see the synth-diff-comment job
    assert document["concurrency"]["group"] == "pr-${{ github.event.pull_request.number }}"
    jobs = document["jobs"]
    assert jobs["tests"] == {"uses": "./.github/workflows/tests.yml"}

    preview = jobs["preview"]
    assert preview["needs"] == "tests"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    action = next(step for _, step in steps({"jobs": {"preview": preview}}) if step.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    assert action["with"]["stack-name"] == "${{ matrix.stack }}"
    assert action["with"]["comment-on-pr"] is True and action["with"]["edit-pr-comment"] is True
    assert action["with"]["diff"] is True
    assert action["with"]["policyPacks"] == "policy"

    synth = jobs["synth-diff"]
    assert "if" not in synth and "needs" not in synth  # forks get it, and it does not wait for anything
    script = next(step["run"] for step in synth["steps"] if step.get("id") == "diff")
    assert 'synthdiff.py --stack dev --stack prod --diff "origin/$BASE_REF" --format markdown' in script
    assert "policy.offline --stack dev" in script and "policy.offline --stack prod" in script
    assert next(step for step in synth["steps"] if "checkout" in step.get("uses", ""))["with"]["fetch-depth"] == 0


def test_deploy_workflow():
    document = workflow("deploy.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    assert document["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    jobs = document["jobs"]
    assert jobs["tests"] == {"uses": "./.github/workflows/tests.yml"}
    deploy = jobs["deploy"]
    assert deploy["needs"] == "tests"
    assert deploy["environment"] == "production"
    action = next(step for step in deploy["steps"] if step.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "up"
    assert action["with"]["stack-name"] == "prod"
    assert action["with"]["policyPacks"] == "policy"
    # Only the deploy job may reach the production credentials, and it sits behind the environment.
    for name, job in jobs.items():
        if "KUBECONFIG" in yaml.safe_dump(job) and name != "deploy":
            pytest.fail(f"{name} reads the production kubeconfig")


def test_tests_workflow_runs_the_repositorys_test_command():
    document = workflow("tests.yml")
    assert document["on"] == {"workflow_call": {}}
    job = document["jobs"]["test"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "scripts/test.sh" in runs
    assert (ROOT / "scripts" / "test.sh").is_file()
    # the same command .ci/run uses, so the two CIs cannot disagree about what "tests pass" means
    assert "exec scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_pulumi_cli_matches_the_sdk_pin():
    requirements = (ROOT / "requirements.in").read_text()
    sdk = re.search(r"^pulumi==(\S+)$", requirements, re.MULTILINE).group(1)
    for name in ("pr.yml", "deploy.yml"):
        for _, step in steps(workflow(name)):
            if step.get("uses", "").startswith("pulumi/actions@"):
                assert step["with"]["pulumi-version"] == sdk
    assert re.search(rf"^pulumi=={re.escape(sdk)}$", (ROOT / "policy" / "requirements.in").read_text(), re.MULTILINE)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_python_comes_from_python_version(path):
    """CI runs the Python the locks are compiled for (.python-version), as developers and up.sh do."""
    wanted = (ROOT / ".python-version").read_text().strip()
    document = load(path)
    for job_name, step in steps(document):
        if step.get("uses", "").startswith("actions/setup-python@"):
            assert step["with"] == {"python-version-file": ".python-version"}, job_name
    for job_name, job in document["jobs"].items():
        image = job.get("container", "")
        if isinstance(image, str) and image.startswith("python:"):
            assert image.startswith(f"python:{wanted}."), f"{job_name}: {image} is not Python {wanted}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_workflows_install_only_hashed_locks(path):
    """The same lock files as scripts/up.sh and scripts/setup.sh, with every download's hash checked."""
    installs = []
    for job_name, step in steps(load(path)):
        for command in re.findall(r"pip install[^\n]*", step.get("run", "")):
            installs.append(command)
            assert "--require-hashes" in command, f"{job_name}: {command}"
            files = re.findall(r"-r (\S+)", command)
            assert files and set(files) <= LOCKS, f"{job_name}: {command} installs something other than a lock"
            assert all((ROOT / file).is_file() for file in files)
    if path.name != "tests.yml":  # tests.yml installs through scripts/test.sh -> scripts/setup.sh
        assert installs, f"{path.name} installs nothing?"
