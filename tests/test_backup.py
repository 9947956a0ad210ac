"""ops/backup.py, the program the backup jobs run: archives and manifests, pruning, what it pushes,
what it logs, and restores that refuse to damage anything. The S3 client (signatures, a real S3
protocol endpoint behind TLS) is tested in tests/test_backup_s3.py.

The program runs in the stack exactly as tested here: renderers/backup.py delivers this file unchanged.
Live Prometheus and Alertmanager round trips are in tests/live/test_restore.py.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import json
import re
import sqlite3
import sys
import tarfile
from datetime import UTC
from pathlib import Path

import pytest

from ops import backup as program
from policy.policies.credentials import credential_shapes
from renderers.backup import render_backup_program
from tests.backup_fakes import WHEN, archive_files, fake_prometheus, fake_snapshot, grafana_db, phases, prometheus_args, pushed, recording_pushgateway

STAMP = re.compile(r"^\d{8}T\d{6}Z\.tar\.gz$")


@pytest.fixture
def pushgateway():
    with recording_pushgateway() as server:
        yield server


@pytest.fixture
def prometheus(tmp_path):
    with fake_prometheus(tmp_path) as fake:
        yield fake


# --- the program as delivered ------------------------------------------------------------------------


def test_the_rendered_program_is_this_file_unchanged():
    assert render_backup_program() == Path(program.__file__).read_text()


def test_the_program_uses_the_standard_library_only():
    """It runs in a plain Python image: a third-party import would fail there, not here."""
    tree = ast.parse(Path(program.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


def test_the_program_text_has_nothing_shaped_like_a_credential():
    """It reaches the cluster in a ConfigMap, which the policy pack scans for credentials."""
    assert credential_shapes(Path(program.__file__).read_text()) == []


# --- archives, manifests, pruning -----------------------------------------------------------------------


def test_an_archive_holds_the_tree_and_its_manifest_describes_it(tmp_path):
    source = tmp_path / "snapshot"
    files = fake_snapshot(source)
    store = program.DirectoryStore(tmp_path / "backups")
    manifest = program.write_archive(store, "prometheus-0", "prometheus", program.tree_members(source), {"snapshot": "x"}, WHEN)
    archive = tmp_path / "backups" / "prometheus-0" / manifest["archive"]
    assert manifest["archive"] == "20260101T000000Z.tar.gz" and STAMP.match(manifest["archive"])
    assert manifest["size"] == archive.stat().st_size
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (manifest["kind"], manifest["target"], manifest["format"]) == ("prometheus", "prometheus-0", program.FORMAT)
    assert json.loads((archive.parent / "20260101T000000Z.json").read_text()) == manifest
    assert archive_files(archive) == files
    assert sorted(p.name for p in archive.parent.iterdir()) == ["20260101T000000Z.json", "20260101T000000Z.tar.gz"]


def test_a_failed_archive_leaves_no_partial_file_and_no_manifest(tmp_path):
    source = tmp_path / "snapshot"
    fake_snapshot(source)
    members = program.tree_members(source) + [(source / "vanished", "vanished")]
    store = program.DirectoryStore(tmp_path / "backups")
    with pytest.raises(FileNotFoundError):
        program.write_archive(store, "prometheus-0", "prometheus", members, {}, WHEN)
    assert list((tmp_path / "backups" / "prometheus-0").iterdir()) == []


def test_a_snapshot_with_a_link_is_refused(tmp_path):
    source = tmp_path / "snapshot"
    fake_snapshot(source)
    (source / "01HBLOCKA" / "escape").symlink_to("/etc/passwd")
    with pytest.raises(program.BackupError, match="not a regular file"):
        program.tree_members(source)


def make_archives(folder: Path, stamps: list[str], complete: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stamp in stamps:
        (folder / f"{stamp}.tar.gz").write_bytes(b"x")
        if complete:
            (folder / f"{stamp}.json").write_text("{}")


def test_prune_keeps_the_newest_complete_archives_and_removes_leftovers(tmp_path):
    folder = tmp_path / "prometheus-0"
    make_archives(folder, ["20260101T030000Z", "20260102T030000Z", "20260103T030000Z", "20260104T030000Z"])
    make_archives(folder, ["20260105T030000Z"], complete=False)  # renamed, but its manifest never written
    (folder / ".20260106T030000Z.tar.gz.partial").write_bytes(b"x")  # a killed run
    (folder / ".grafana-abc123").mkdir()  # a killed Grafana copy
    (folder / "README.txt").write_text("an operator's note")
    removed = program.prune(program.DirectoryStore(tmp_path), "prometheus-0", keep=2)
    assert sorted(p.name for p in folder.iterdir()) == [
        "20260103T030000Z.json",
        "20260103T030000Z.tar.gz",
        "20260104T030000Z.json",
        "20260104T030000Z.tar.gz",
        "README.txt",
    ]
    assert "20260105T030000Z.tar.gz" in removed and "20260101T030000Z.tar.gz" in removed


def test_a_failed_run_prunes_nothing_and_reports_failure(tmp_path, pushgateway):
    folder = tmp_path / "backups" / "alertmanager-0"
    make_archives(folder, [f"202601{day:02d}T030000Z" for day in range(1, 6)])
    empty = tmp_path / "empty-data"
    empty.mkdir()
    status = program.main(
        ["alertmanager", "--target=alertmanager-0", f"--data-dir={empty}", f"--dest={tmp_path / 'backups'}", "--keep=1", f"--pushgateway={pushgateway.url}"]
    )
    assert status == program.EXIT_FAILED
    assert len(list(folder.glob("*.tar.gz"))) == 5
    (request,) = pushgateway.requests
    assert request.method == "POST"  # keeps the time of the last good backup at the Pushgateway


# --- what is pushed ---------------------------------------------------------------------------------------


def test_a_successful_run_replaces_the_targets_group_with_all_four_metrics(tmp_path, pushgateway):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "silences").write_bytes(b"\x0asilence")
    (data / "nflog").write_bytes(b"\x0anflog")
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--dest={tmp_path / 'b'}", f"--pushgateway={pushgateway.url}/"])
    assert status == program.EXIT_OK
    (request,) = pushgateway.requests
    assert (request.method, request.path) == ("PUT", "/metrics/job/ngx-backup/target/alertmanager-0")
    assert request.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = pushed(request)
    manifest = json.loads(next((tmp_path / "b" / "alertmanager-0").glob("*.json")).read_text())
    assert set(values) == {
        "ngx_backup_last_success_timestamp_seconds",
        "ngx_backup_last_run_success",
        "ngx_backup_last_size_bytes",
        "ngx_backup_duration_seconds",
    }
    assert values["ngx_backup_last_run_success"] == 1 and values["ngx_backup_last_size_bytes"] == manifest["size"]
    assert abs(values["ngx_backup_last_success_timestamp_seconds"] - pushgateway_time(manifest)) < 60
    assert 0 <= values["ngx_backup_duration_seconds"] < 60
    # No label in the body: the Pushgateway takes job and target from the path (a clash would be refused).
    assert "{" not in request.body.decode()


def pushgateway_time(manifest: dict) -> float:
    from datetime import datetime

    return datetime.strptime(manifest["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize("target", ["../etc", "a/b", "Prometheus-0", ""])
def test_a_target_that_could_leave_its_folder_is_refused(tmp_path, target):
    status = program.main(["alertmanager", f"--target={target}", f"--data-dir={tmp_path}", f"--dest={tmp_path / 'b'}"])
    assert status == program.EXIT_USAGE and not (tmp_path / "b").exists()


def test_a_failed_run_sends_only_its_failure_and_duration():
    values = program.result_metrics(False, WHEN, 2.5, None)
    assert values == {"ngx_backup_last_run_success": 0.0, "ngx_backup_duration_seconds": 2.5}


def test_a_backup_that_cannot_report_exits_3_so_the_job_is_not_retried(tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(program.time, "sleep", waits.append)
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "silences").write_bytes(b"s")
    status = program.main(
        ["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--dest={tmp_path / 'b'}", "--pushgateway=http://127.0.0.1:9"]
    )  # discard port: nothing listens
    assert status == program.EXIT_UNREPORTED == 3
    assert waits == [1, 2], "the push is tried three times, with a growing pause"
    assert len(list((tmp_path / "b" / "alertmanager-0").glob("*.tar.gz"))) == 1


# --- Prometheus: the snapshot API and the snapshot directory ---------------------------------------------


def test_prometheus_snapshot_is_archived_then_removed_from_the_data_volume(tmp_path, prometheus, capsys):
    server, data, state = prometheus
    (data / "snapshots" / "kept-by-hand").mkdir(parents=True)  # not a snapshot name: never touched
    stale = data / "snapshots" / "20250101T000000Z-00000000000000aa"
    fake_snapshot(stale)  # left by a killed run
    status = program.main(prometheus_args(server, data, tmp_path, f"--dest={tmp_path / 'b'}"))
    assert status == program.EXIT_OK
    assert f"prometheus-0 snapshot: removed {stale.name}, left in {data / 'snapshots'} by an earlier run" in capsys.readouterr().err
    (name,) = state["names"]
    archive = next((tmp_path / "b" / "prometheus-0").glob("*.tar.gz"))
    assert archive_files(archive) == fake_snapshot(tmp_path / "expected")
    assert json.loads(archive.with_suffix("").with_suffix(".json").read_text())["source"]["snapshot"] == name
    assert sorted(p.name for p in (data / "snapshots").iterdir()) == ["kept-by-hand"]
    assert (data / "wal").is_dir()


def test_a_wrong_password_fails_the_run_without_touching_anything(tmp_path, prometheus):
    server, data, state = prometheus
    (tmp_path / "pw").write_text("wrong\n")
    status = program.main(prometheus_args(server, data, tmp_path, f"--dest={tmp_path / 'b'}"))
    assert status == program.EXIT_FAILED and state["names"] == []
    assert not (tmp_path / "b" / "prometheus-0").exists() or not any((tmp_path / "b" / "prometheus-0").iterdir())


def test_a_data_volume_of_another_replica_is_detected(tmp_path, prometheus):
    server, _, _ = prometheus
    other = tmp_path / "other-replica"
    (other / "wal").mkdir(parents=True)
    with pytest.raises(program.BackupError, match="same replica"):
        program.backup_prometheus(
            program.parser().parse_args(prometheus_args(server, other, tmp_path, "--dest=x")), program.DirectoryStore(tmp_path / "b"), WHEN
        )


def test_a_run_logs_each_phase_in_order_and_no_credential(tmp_path, prometheus, pushgateway, capsys):
    server, data, _ = prometheus
    make_archives(tmp_path / "b" / "prometheus-0", ["20250101T030000Z", "20250102T030000Z"])
    capsys.readouterr()
    status = program.main(prometheus_args(server, data, tmp_path, f"--dest={tmp_path / 'b'}", "--keep=2", f"--pushgateway={pushgateway.url}"))
    log = capsys.readouterr().err
    assert status == program.EXIT_OK
    assert phases(log) == ["start", "snapshot", "archive", "prune", "push", "done"], log
    lines = {phase: next(line for line in log.splitlines() if f" {phase}: " in line) for phase in ("snapshot", "archive", "prune", "push")}
    size = json.loads(next((tmp_path / "b" / "prometheus-0").glob("2026*.json")).read_text())["size"]
    assert "entries" in lines["snapshot"] and f"{size} bytes" in lines["archive"]
    assert "kept 2 (keep 2): 20250102T030000Z.tar.gz, 2026" in lines["prune"] and "deleted 2: 20250101T030000Z.json, 20250101T030000Z.tar.gz" in lines["prune"]
    assert (
        f"success (ngx_backup_last_run_success, ngx_backup_duration_seconds, ngx_backup_last_success_timestamp_seconds, "
        f"ngx_backup_last_size_bytes) to {pushgateway.url}" in lines["push"]
    )
    assert "pw-backup" not in log and "Basic " not in log


def test_a_failed_run_logs_the_error_then_the_push_of_the_failure(tmp_path, prometheus, pushgateway, capsys):
    server, data, _ = prometheus
    (tmp_path / "pw").write_text("wrong-password\n")
    capsys.readouterr()
    status = program.main(prometheus_args(server, data, tmp_path, f"--dest={tmp_path / 'b'}", f"--pushgateway={pushgateway.url}"))
    log = capsys.readouterr().err
    assert status == program.EXIT_FAILED
    assert phases(log) == ["start", "error", "push", "done"], log
    assert "answered 401 to the snapshot request" in log and "FAILED in" in log and "wrong-password" not in log


def test_only_snapshot_names_are_ever_removed(tmp_path):
    with pytest.raises(program.BackupError, match="not a snapshot name"):
        program.remove_snapshot(tmp_path, "../wal")
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "20260101T000000Z-0123456789abcdef").symlink_to(tmp_path)
    with pytest.raises(program.BackupError, match="symbolic link"):
        program.remove_snapshot(tmp_path, "20260101T000000Z-0123456789abcdef")
    assert (tmp_path / "snapshots").is_dir()


# --- Grafana ------------------------------------------------------------------------------------------------


def test_grafana_database_is_copied_online_and_restored_row_for_row(tmp_path):
    data = tmp_path / "grafana"
    data.mkdir()
    rows = grafana_db(data / "grafana.db")
    # Grafana holds it open (and a read transaction) while the copy runs.
    live = sqlite3.connect(data / "grafana.db")
    live.execute("BEGIN")
    live.execute("SELECT count(*) FROM dashboard").fetchone()
    status = program.main(["grafana", "--target=grafana-0", f"--data-dir={data}", f"--dest={tmp_path / 'b'}"])
    live.rollback()
    live.close()
    assert status == program.EXIT_OK
    archive = next((tmp_path / "b" / "grafana-0").glob("*.tar.gz"))
    assert list(archive_files(archive)) == ["grafana.db"]
    assert not list((tmp_path / "b" / "grafana-0").glob(".grafana-*")), "the scratch copy must be removed"
    restored = tmp_path / "restored"
    manifest = program.restore(archive, restored)
    assert manifest["kind"] == "grafana"
    copy = sqlite3.connect(restored / "grafana.db")
    assert copy.execute("SELECT * FROM dashboard ORDER BY id").fetchall() == rows
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()


def test_a_damaged_grafana_database_fails_the_backup(tmp_path):
    data = tmp_path / "grafana"
    data.mkdir()
    grafana_db(data / "grafana.db", rows=2000)
    damaged = bytearray((data / "grafana.db").read_bytes())
    damaged[4096 * 2 + 100 : 4096 * 2 + 400] = b"\xff" * 300  # inside a table page
    (data / "grafana.db").write_bytes(bytes(damaged))
    with pytest.raises(program.BackupError):
        program.backup_grafana(
            program.parser().parse_args(["grafana", "--target=grafana-0", f"--data-dir={data}", "--dest=x"]), program.DirectoryStore(tmp_path / "b"), WHEN
        )


# --- restore refuses whatever could damage data -------------------------------------------------------------


@pytest.fixture
def prometheus_archive(tmp_path) -> Path:
    source = tmp_path / "snapshot"
    fake_snapshot(source)
    manifest = program.write_archive(program.DirectoryStore(tmp_path / "b"), "prometheus-0", "prometheus", program.tree_members(source), {}, WHEN)
    return tmp_path / "b" / "prometheus-0" / manifest["archive"]


def test_restore_unpacks_a_prometheus_archive_into_a_fresh_directory(tmp_path, prometheus_archive):
    status = program.main(["restore", str(prometheus_archive), f"--into={tmp_path / 'new' / 'data'}"])
    assert status == program.EXIT_OK
    restored = {str(p.relative_to(tmp_path / "new" / "data")): p.read_bytes() for p in (tmp_path / "new" / "data").rglob("*") if p.is_file()}
    assert restored == fake_snapshot(tmp_path / "expected")


def test_restore_refuses_a_non_empty_prometheus_directory(tmp_path, prometheus_archive):
    data = tmp_path / "data"
    (data / "wal").mkdir(parents=True)
    status = program.main(["restore", str(prometheus_archive), f"--into={data}"])
    assert status == program.EXIT_FAILED
    assert [p.name for p in data.iterdir()] == ["wal"]


def test_restore_never_overwrites_an_alertmanager_or_grafana_file(tmp_path):
    data = tmp_path / "am"
    data.mkdir()
    (data / "silences").write_bytes(b"new")
    store = program.DirectoryStore(tmp_path / "b")
    manifest = program.write_archive(store, "alertmanager-0", "alertmanager", [(data / "silences", "silences")], {}, WHEN)
    (data / "silences").write_bytes(b"current")
    with pytest.raises(program.BackupError, match="move it aside"):
        program.restore(tmp_path / "b" / "alertmanager-0" / manifest["archive"], data)
    assert (data / "silences").read_bytes() == b"current"


def test_restore_refuses_an_archive_that_does_not_match_its_manifest(tmp_path, prometheus_archive):
    damaged = bytearray(prometheus_archive.read_bytes())
    damaged[-20] ^= 0xFF
    prometheus_archive.write_bytes(bytes(damaged))
    with pytest.raises(program.BackupError, match="does not match its manifest"):
        program.restore(prometheus_archive, tmp_path / "new")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("member", ["../escape", "/etc/cron.d/x", "link"])
def test_restore_refuses_members_that_would_escape_or_link(tmp_path, member):
    """An archive is only unpacked if every member is a file or a directory inside the target."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressed, tarfile.open(fileobj=compressed, mode="w") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "20260101T000000Z.tar.gz"
    archive.write_bytes(buffer.getvalue())
    (tmp_path / "20260101T000000Z.json").write_text(
        json.dumps(
            {
                "format": program.FORMAT,
                "kind": "alertmanager",
                "target": "alertmanager-0",
                "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                "size": len(buffer.getvalue()),
            }
        )
    )
    with pytest.raises(program.BackupError, match="outside the target|neither a file nor a directory"):
        program.restore(archive, tmp_path / "into")
    assert not (tmp_path / "into").exists() and not (tmp_path / "escape").exists()
