"""scripts/up.sh checks what deploying needs before it installs anything.

A newcomer without the Pulumi CLI, a Docker engine or a kubeconfig must learn it in seconds, with
where to get it, and find nothing half-installed. Each test runs the real script in a copy of the
repository with a PATH of stand-ins: basic tools, and stub `pulumi`/`docker`/`kubectl` scripts
where a test wants them present. If up.sh went on to install, a venv/ would appear in the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

TOOLS = ("bash", "sh", "env", "dirname", "basename", "cat", "sed", "tr", "head", "tail", "mktemp", "rm", "grep", "ls")
# The real interpreter behind this venv: up.sh must be able to find a Python without the venv.
PYTHON = os.path.realpath(sys.executable)
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ngx-prod, context: {cluster: c, user: u}}]
current-context: CURRENT
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    """What up.sh reads, copied: a fresh checkout has no venv/."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    for name in (".python-version", "requirements.txt"):
        shutil.copy(ROOT / name, copy / name)
    return copy


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    """A PATH directory with the basic tools and nothing else (no pulumi, docker, kubectl)."""
    path = tmp_path / "bin"
    path.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (path / tool).symlink_to(found)
    return path


def stub(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def up(repo: Path, bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {"PATH": str(bin_dir), "HOME": str(home), "PYTHON": PYTHON, "TMPDIR": str(repo.parent), **env}
    start = time.monotonic()
    run = subprocess.run(
        ["bash", str(repo / "scripts" / "up.sh"), *args], env=environment, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    run.elapsed = time.monotonic() - start  # type: ignore[attr-defined]
    return run


def assert_stopped_before_installing(run: subprocess.CompletedProcess[str], repo: Path) -> None:
    assert run.returncode == 1, run.stderr
    assert not (repo / "venv").exists(), "up.sh created the venv although a prerequisite is missing"
    assert run.elapsed < 10, f"up.sh took {run.elapsed:.1f}s to notice"  # type: ignore[attr-defined]
    assert "nothing was installed or deployed" in run.stderr
    assert run.stdout == ""  # messages go to stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_the_pulumi_cli_it_names_it_and_where_to_get_it(repo, bin_dir, stack):
    stub(bin_dir, "docker", "exit 0")
    (repo.parent / "kubeconfig").write_text(KUBECONFIG.replace("CURRENT", "ngx-prod"))
    run = up(repo, bin_dir, stack, KUBECONFIG=str(repo.parent / "kubeconfig"))
    assert_stopped_before_installing(run, repo)
    assert "the Pulumi CLI is not installed" in run.stderr
    assert "https://www.pulumi.com/docs/install/" in run.stderr
    assert run.stderr.count("error:") == 1, run.stderr  # docker and the kubeconfig were fine


def test_dev_without_the_docker_client(repo, bin_dir):
    stub(bin_dir, "pulumi", "exit 0")
    run = up(repo, bin_dir, "dev")
    assert_stopped_before_installing(run, repo)
    assert "the Docker CLI is not installed" in run.stderr and "https://docs.docker.com/get-docker/" in run.stderr
    assert "not reachable" not in run.stderr


def test_dev_with_an_unreachable_docker_engine(repo, bin_dir):
    stub(bin_dir, "pulumi", "exit 0")
    stub(
        bin_dir,
        "docker",
        '[ "$1" = info ] || exit 0\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1',
    )
    run = up(repo, bin_dir, "dev")
    assert_stopped_before_installing(run, repo)
    assert "the Docker engine is not reachable" in run.stderr
    assert "Cannot connect to the Docker daemon" in run.stderr  # docker's own reason is passed on
    assert "Docker CLI is not installed" not in run.stderr


def test_every_missing_prerequisite_is_reported_at_once(repo, bin_dir):
    run = up(repo, bin_dir, "dev")
    assert_stopped_before_installing(run, repo)
    assert "Pulumi CLI" in run.stderr and "Docker CLI" in run.stderr


def test_prod_without_a_kubeconfig(repo, bin_dir):
    stub(bin_dir, "pulumi", "exit 0")
    run = up(repo, bin_dir, "prod")
    assert_stopped_before_installing(run, repo)
    assert "no usable kubeconfig" in run.stderr and ".kube/config" in run.stderr


def test_prod_with_a_kubeconfig_that_selects_no_context(repo, bin_dir):
    stub(bin_dir, "pulumi", "exit 0")
    (repo.parent / "kubeconfig").write_text(KUBECONFIG.replace("CURRENT", '""'))
    run = up(repo, bin_dir, "prod", KUBECONFIG=f"{repo.parent / 'missing'}:{repo.parent / 'kubeconfig'}")
    assert_stopped_before_installing(run, repo)
    assert "no usable kubeconfig" in run.stderr


def test_prod_asks_kubectl_when_it_is_there(repo, bin_dir):
    """kubectl knows merged kubeconfigs and exec plugins better than a sed over one file."""
    stub(bin_dir, "pulumi", "exit 0")
    stub(bin_dir, "kubectl", 'echo "error: current-context is not set" >&2; exit 1')
    (repo.parent / "kubeconfig").write_text(KUBECONFIG.replace("CURRENT", "ngx-prod"))
    run = up(repo, bin_dir, "prod", KUBECONFIG=str(repo.parent / "kubeconfig"))
    assert_stopped_before_installing(run, repo)
    assert "no usable kubeconfig" in run.stderr


def test_with_every_prerequisite_it_gets_as_far_as_python(repo, bin_dir):
    """The checks pass with a kubeconfig context, and a too-old Python still stops it before the venv."""
    stub(bin_dir, "pulumi", "exit 0")
    stub(bin_dir, "old-python", "echo 3.9")
    (repo.parent / "kubeconfig").write_text(KUBECONFIG.replace("CURRENT", "ngx-prod"))
    run = up(repo, bin_dir, "prod", KUBECONFIG=str(repo.parent / "kubeconfig"), PYTHON=str(bin_dir / "old-python"))
    assert_stopped_before_installing(run, repo)
    assert "deploys to the Kubernetes context 'ngx-prod'" in run.stderr
    assert "is Python 3.9; the program needs 3.11" in run.stderr
    assert run.stderr.count("error:") == 0, run.stderr


@pytest.mark.parametrize("args", [[], ["staging"], ["livetest"], ["dev", "prod"]], ids=repr)
def test_anything_but_one_known_stack_is_a_usage_error(repo, bin_dir, args):
    """A typo must not become a new, empty stack (`pulumi stack select --create`)."""
    stub(bin_dir, "pulumi", 'echo "pulumi ran" > "$HOME/pulumi-ran"')
    run = up(repo, bin_dir, *args)
    assert run.returncode == 2, run.stderr
    assert "usage: scripts/up.sh STACK" in run.stderr
    assert not (repo.parent / "home" / "pulumi-ran").exists()
    assert not (repo / "venv").exists()


@pytest.mark.parametrize("script", ["up.sh", "setup.sh", "lib.sh", "lock.sh"])
def test_scripts_stay_portable_to_macos(script):
    """macOS ships bash 3.2 and BSD tools: no mapfile/readarray, associative arrays, ${x,,}, sha256sum."""
    lines = (ROOT / "scripts" / script).read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))  # comments may name them
    for construct in ("mapfile", "readarray", "declare -A", "local -A", ",,}", "^^}", "sha256sum", "readlink -f", "sed -i"):
        assert construct not in text, f"scripts/{script} uses {construct}"
    run = subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_deploying_installs_no_test_tools():
    """up.sh installs the program's lock only: no apt-get, no test servers, no checkov."""
    text = (ROOT / "scripts" / "up.sh").read_text()
    assert 'install_lock "$python" venv requirements.txt' in text
    for forbidden in ("setup.sh", "apt-get", "requirements-test", "checkov"):
        assert forbidden not in text, forbidden
