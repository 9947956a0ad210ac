"""ops/backup.py and ops/restic-step.sh, run as the jobs run them: the stage step, the restic step (with
Debian's restic 0.14, the release of the pinned image) and the report step, against a local repository,
a fake Prometheus snapshot API and a recording Pushgateway.

What would break without these: a backup that silently holds nothing (files not at the snapshot's root,
the wrong host), a failure that never reaches the alerts (a step that exits non-zero before the report,
a failure pushed as a success), a repository initialised again over an existing one, a snapshot left in
Prometheus's volume, retention that mixes targets, a damaged repository that passes its check.
"""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops import backup as program
from policy.policies.credentials import credential_shapes
from renderers.backup import render_backup_program, render_restic_step
from tests.backup_fakes import fake_prometheus, grafana_db, phases, prometheus_args, pushed, recording_pushgateway

STEP = Path(program.__file__).resolve().parent / "restic-step.sh"
PASSWORD = "repository-password-for-tests"


@pytest.fixture
def pushgateway():
    with recording_pushgateway() as server:
        yield server


@pytest.fixture
def prometheus(tmp_path):
    with fake_prometheus(tmp_path) as fake:
        yield fake


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "restic-password").write_text(PASSWORD + "\n")
    return tmp_path / "repository"


def options(tmp_path: Path, repository: Path, password_file: str = "restic-password") -> list[str]:
    return ["-r", str(repository), f"--password-file={tmp_path / password_file}", "--no-cache"]


def restic(tmp_path: Path, repository: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["restic", *options(tmp_path, repository), *args], capture_output=True, text=True, timeout=60)


def restic_step(stage: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["sh", str(STEP), *args], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "LOCK_TRIES": "0"})
    assert result.returncode == 0, "the restic step never fails the pod: its result is the report's to push"
    return result


def alertmanager_data(tmp_path: Path) -> Path:
    data = tmp_path / "alertmanager"
    data.mkdir(exist_ok=True)
    (data / "silences").write_bytes(b"silence-bytes")
    (data / "nflog").write_bytes(b"nflog-bytes")
    return data


def run(tmp_path: Path, repository: Path, stage_args: list[str], target: str, data: Path, pushgateway=None, password_file="restic-password") -> int:
    """The three steps of one run, in order, sharing one stage directory."""
    stage = tmp_path / f"stage-{target}"
    stage.mkdir(exist_ok=True)
    assert program.main([*stage_args, f"--stage={stage}"]) == 0
    restic_step(stage, "backup", str(stage), target, "--", *options(tmp_path, repository, password_file))
    report = ["report", f"--target={target}", f"--data-dir={data}", f"--stage={stage}"]
    return program.main(report + ([f"--pushgateway={pushgateway.url}"] if pushgateway else []))


def am_stage(data: Path) -> list[str]:
    return ["stage", "alertmanager", "--target=alertmanager-0", f"--data-dir={data}"]


# --- the programs as delivered ---------------------------------------------------------------------------


def test_the_rendered_programs_are_these_files_unchanged():
    assert render_backup_program() == Path(program.__file__).read_text()
    assert render_restic_step() == STEP.read_text()


def test_the_program_uses_the_standard_library_only():
    """It runs in a plain Python image: a third-party import would fail there, not here."""
    tree = ast.parse(Path(program.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


def test_the_programs_have_nothing_shaped_like_a_credential():
    """They reach the cluster in a ConfigMap, which the policy pack scans for credentials."""
    assert credential_shapes(Path(program.__file__).read_text()) == []
    assert credential_shapes(STEP.read_text()) == []


def test_the_step_script_is_posix_sh():
    """The restic image has busybox sh only."""
    assert subprocess.run(["dash", "-n", str(STEP)]).returncode == 0


# --- a whole run ---------------------------------------------------------------------------------------


def test_a_run_initialises_the_repository_backs_up_exactly_the_staged_files_and_pushes_success(tmp_path, repo, pushgateway, capsys):
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data, pushgateway) == 0
    listing = restic(tmp_path, repo, "ls", "--json", "latest", "--host", "alertmanager-0").stdout.splitlines()
    paths = sorted(json.loads(line)["path"] for line in listing[1:])
    assert paths == ["/nflog", "/silences"], "the staged files, at the snapshot's root"
    assert restic(tmp_path, repo, "dump", "latest", "/silences", "--host", "alertmanager-0").stdout == "silence-bytes"
    (request,) = pushgateway.requests
    assert (request.method, request.path) == ("PUT", "/metrics/job/ngx-backup/target/alertmanager-0")
    values = pushed(request)
    assert values["ngx_backup_last_run_success"] == 1.0
    assert values["ngx_backup_last_size_bytes"] == len(b"silence-bytes") + len(b"nflog-bytes")
    assert values["ngx_backup_last_added_bytes"] > 0
    assert values["ngx_backup_last_success_timestamp_seconds"] > 1.7e9
    assert phases(capsys.readouterr().err) == ["start", "snapshot", "restic", "push", "done"]


def test_a_second_run_reuses_the_repository_and_adds_almost_nothing(tmp_path, repo, pushgateway):
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    config = (repo / "config").read_bytes()
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data, pushgateway) == 0
    assert (repo / "config").read_bytes() == config, "never initialised again"
    assert pushed(pushgateway.requests[0])["ngx_backup_last_added_bytes"] < 1000, "unchanged files are deduplicated"
    assert len(json.loads(restic(tmp_path, repo, "snapshots", "--json").stdout)) == 2


def test_a_wrong_password_fails_loudly_in_one_line_and_touches_nothing(tmp_path, repo, pushgateway, capsys):
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    before = sorted(path.relative_to(repo) for path in repo.rglob("*") if "locks" not in path.parts)
    (tmp_path / "wrong").write_text("not-the-password\n")
    capsys.readouterr()
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data, pushgateway, password_file="wrong") == 1
    assert sorted(path.relative_to(repo) for path in repo.rglob("*") if "locks" not in path.parts) == before
    (request,) = pushgateway.requests
    assert request.method == "POST" and pushed(request) == {"ngx_backup_last_run_success": 0.0, "ngx_backup_duration_seconds": pytest.approx(0, abs=60)}
    errors = [line for line in capsys.readouterr().err.splitlines() if " error: " in line]
    assert errors == [errors[0]] and errors[0].endswith("error: cannot open the repository: wrong password or no key found")


def test_a_failed_stage_skips_restic_and_is_reported(tmp_path, repo, pushgateway):
    empty = tmp_path / "not-alertmanager"
    empty.mkdir()
    assert run(tmp_path, repo, am_stage(empty), "alertmanager-0", empty, pushgateway) == 1
    assert not repo.exists(), "nothing was staged, so restic never ran"
    assert pushed(pushgateway.requests[0])["ngx_backup_last_run_success"] == 0.0


def test_a_result_that_cannot_be_pushed_exits_3_so_the_job_is_not_retried(tmp_path, repo, monkeypatch):
    monkeypatch.setattr(program.time, "sleep", lambda _: None)
    data = alertmanager_data(tmp_path)
    stage = tmp_path / "stage"
    stage.mkdir()
    program.main([*am_stage(data), f"--stage={stage}"])
    restic_step(stage, "backup", str(stage), "alertmanager-0", "--", *options(tmp_path, repo))
    report = ["report", "--target=alertmanager-0", f"--data-dir={data}", f"--stage={stage}", "--pushgateway=http://127.0.0.1:9"]
    assert program.main(report) == program.EXIT_UNREPORTED == 3


@pytest.mark.parametrize("target", ["../x", "Prometheus", "a/b", ""])
def test_a_target_that_is_not_a_plain_name_is_refused(tmp_path, target):
    assert program.main(["report", f"--target={target}", "--data-dir=/x", "--stage=/x"]) == program.EXIT_USAGE


# --- Prometheus: the snapshot API and the snapshot directory ---------------------------------------------


def test_a_prometheus_snapshot_is_backed_up_then_removed_from_the_data_volume(tmp_path, repo, prometheus, pushgateway):
    server, data, _ = prometheus
    (data / "snapshots").mkdir()
    stale = data / "snapshots" / "20250101T000000Z-00000000000000ff"
    stale.mkdir()
    keep = data / "snapshots" / "not-a-snapshot"
    keep.mkdir()
    assert run(tmp_path, repo, prometheus_args(server, data, tmp_path), "prometheus-0", data, pushgateway) == 0
    assert sorted(path.name for path in (data / "snapshots").iterdir()) == ["not-a-snapshot"], "ours removed, nothing else"
    listing = restic(tmp_path, repo, "ls", "--json", "latest", "--host", "prometheus-0").stdout.splitlines()
    assert "/01HBLOCKA/chunks/000001" in {json.loads(line).get("path") for line in listing[1:]}


def test_a_wrong_prometheus_password_fails_the_run_without_touching_anything(tmp_path, repo, prometheus, pushgateway):
    server, data, _ = prometheus
    (tmp_path / "pw").write_text("wrong\n")
    assert run(tmp_path, repo, prometheus_args(server, data, tmp_path), "prometheus-0", data, pushgateway) == 1
    assert not (data / "snapshots").exists() and not repo.exists()


def test_a_data_volume_of_another_replica_is_detected_and_its_snapshot_removed(tmp_path, prometheus):
    server, data, state = prometheus
    other = tmp_path / "other"
    (other / "wal").mkdir(parents=True)
    stage = tmp_path / "stage"
    stage.mkdir()
    args = prometheus_args(server, data, tmp_path)
    args[args.index(f"--data-dir={data}")] = f"--data-dir={other}"
    assert program.main([*args, f"--stage={stage}"]) == 0
    assert "must be the data volume of that same replica" in (stage / program.STAGE_ERROR).read_text()
    assert not (stage / program.SOURCE).exists()


def test_only_snapshot_names_are_ever_removed(tmp_path):
    (tmp_path / "snapshots").mkdir()
    with pytest.raises(program.BackupError):
        program.remove_snapshot(tmp_path, "../wal")
    link = tmp_path / "snapshots" / "20260101T000000Z-0000000000000001"
    link.symlink_to(tmp_path)
    with pytest.raises(program.BackupError):
        program.remove_snapshot(tmp_path, link.name)
    assert tmp_path.exists()


# --- Grafana: the online copy ----------------------------------------------------------------------------


def test_grafana_is_copied_online_checked_and_restored_row_for_row(tmp_path, repo):
    data = tmp_path / "grafana"
    data.mkdir()
    rows = grafana_db(data / "grafana.db")
    assert run(tmp_path, repo, ["stage", "grafana", "--target=grafana-0", f"--data-dir={data}"], "grafana-0", data) == 0
    out = tmp_path / "restored"
    restic(tmp_path, repo, "restore", "latest", "--host", "grafana-0", "--target", str(out)).check_returncode()
    assert (out / "grafana.db").stat().st_mode & 0o777 == 0o664, "group-writable for Grafana's group after a restore"
    connection = sqlite3.connect(out / "grafana.db")
    assert connection.execute("SELECT * FROM dashboard ORDER BY id").fetchall() == rows


def test_a_damaged_grafana_database_fails_the_stage(tmp_path):
    data = tmp_path / "grafana"
    data.mkdir()
    (data / "grafana.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    stage = tmp_path / "stage"
    stage.mkdir()
    assert program.main(["stage", "grafana", "--target=grafana-0", f"--data-dir={data}", f"--stage={stage}"]) == 0
    assert "grafana.db" in (stage / program.STAGE_ERROR).read_text()


# --- the repository's retention and check ----------------------------------------------------------------


def check(tmp_path: Path, repository: Path, keep: int, pushgateway) -> int:
    stage = tmp_path / "stage-check"
    stage.mkdir(exist_ok=True)
    restic_step(stage, "check", str(stage), str(keep), "100%", "--", *options(tmp_path, repository))
    return program.main(["report-check", f"--stage={stage}", f"--pushgateway={pushgateway.url}"])


def test_retention_keeps_the_newest_snapshots_of_each_target_and_the_check_passes(tmp_path, repo, pushgateway):
    data = alertmanager_data(tmp_path)
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    grafana_db(grafana / "grafana.db", rows=5)
    for _ in range(2):
        assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    assert run(tmp_path, repo, ["stage", "grafana", "--target=grafana-0", f"--data-dir={grafana}"], "grafana-0", grafana) == 0
    newest = json.loads(restic(tmp_path, repo, "snapshots", "--json", "--latest", "1", "--host", "alertmanager-0").stdout)[0]["id"]
    assert check(tmp_path, repo, 1, pushgateway) == 0
    kept = {(snapshot["hostname"], snapshot["id"]) for snapshot in json.loads(restic(tmp_path, repo, "snapshots", "--json").stdout)}
    assert {host for host, _ in kept} == {"alertmanager-0", "grafana-0"} and len(kept) == 2, "keep-last per target, not over the repository"
    assert ("alertmanager-0", newest) in kept, "the newest is the one kept"
    (request,) = pushgateway.requests
    assert request.path == "/metrics/job/ngx-backup/target/repository" and pushed(request)["ngx_backup_check_last_run_success"] == 1.0


def test_a_damaged_repository_fails_the_check_and_is_reported(tmp_path, repo, pushgateway):
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    pack = next(path for path in (repo / "data").rglob("*") if path.is_file())
    pack.chmod(0o600)
    pack.write_bytes(pack.read_bytes()[:-7] + b"damaged")
    assert check(tmp_path, repo, 7, pushgateway) == 1
    (request,) = pushgateway.requests
    assert request.method == "POST" and pushed(request)["ngx_backup_check_last_run_success"] == 0.0


def test_an_earlier_runs_restic_result_is_never_taken_for_this_runs(tmp_path, repo, pushgateway):
    """On Docker the stage is a volume that outlives a run, and the stage step may not delete restic's
    files (another user's, in a sticky directory): a run whose restic step did not run must fail."""
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    stage = tmp_path / "stage-alertmanager-0"
    assert (stage / program.RESTIC_STATUS).read_text().strip() == "0"
    assert program.main([*am_stage(data), f"--stage={stage}"]) == 0  # the next run's stage step, then no restic step
    report = ["report", "--target=alertmanager-0", f"--data-dir={data}", f"--stage={stage}", f"--pushgateway={pushgateway.url}"]
    assert program.main(report) == 1
    assert pushed(pushgateway.requests[0])["ngx_backup_last_run_success"] == 0.0


def test_a_lock_left_by_a_killed_run_is_removed_and_the_check_passes(tmp_path, repo, pushgateway):
    """restic 0.14 waits for good on the lock of a run that was killed (deadline, OOM, node drain): the
    step's `unlock` removes such a stale lock (its process is gone), so the next check still runs."""
    data = alertmanager_data(tmp_path)
    assert run(tmp_path, repo, am_stage(data), "alertmanager-0", data) == 0
    # `backup --stdin` takes its lock, then waits on a pipe that never ends: killed, it leaves the lock.
    hung = subprocess.Popen(
        ["restic", *options(tmp_path, repo), "backup", "--stdin"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not restic(tmp_path, repo, "list", "locks", "--no-lock").stdout.strip():
            assert time.monotonic() < deadline, "restic backup --stdin took no lock"
            time.sleep(0.2)
    finally:
        hung.kill()
        hung.wait()
    assert restic(tmp_path, repo, "list", "locks", "--no-lock").stdout.strip(), "the killed run left its lock"
    assert check(tmp_path, repo, 7, pushgateway) == 0
    assert not restic(tmp_path, repo, "list", "locks", "--no-lock").stdout.strip()
