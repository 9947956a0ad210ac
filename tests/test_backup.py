"""ops/backup.py, the program the backup jobs run: archives and manifests, pruning, what it pushes,
restores that refuse to damage anything, the S3 signer against AWS's published examples, and uploads
to a local S3 stub that checks every signature it receives.

The program runs in the stack exactly as tested here: renderers/backup.py delivers this file unchanged.
Live Prometheus and Alertmanager round trips are in tests/live/test_restore.py.
"""
from __future__ import annotations

import ast
import base64
import gzip
import hashlib
import io
import json
import random
import re
import sqlite3
import sys
import tarfile
import urllib.parse
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops import backup as program
from policy.policies.credentials import credential_shapes
from renderers.backup import render_backup_program
from tests.http_stub import Recorded, StubServer
from tests.s3_stub import BUCKET, KEY_ID, KEY_MATERIAL, REGION, S3Stub

STAMP = re.compile(r"^\d{8}T\d{6}Z\.tar\.gz$")
WHEN = 1_767_225_600.0  # 2026-01-01T00:00:00Z


# --- local servers: a recording Pushgateway, a fake Prometheus snapshot API, an S3 stub --------------

@pytest.fixture
def pushgateway():
    server = StubServer(lambda request: (200, {}, b""))
    yield server
    server.close()


@pytest.fixture
def s3():
    stub = S3Stub()
    server = StubServer(stub.respond)
    stub.server = server
    yield stub
    server.close()
    assert not stub.rejected, stub.rejected


def s3_store(stub: S3Stub, part_size: int = program.PART_SIZE) -> program.S3Store:
    return program.S3Store(stub.server.url, BUCKET, REGION, "dev", program.S3Credentials(KEY_ID, KEY_MATERIAL), part_size=part_size)


def s3_args(stub: S3Stub, tmp_path: Path) -> list[str]:
    (tmp_path / "key-id").write_text(KEY_ID + "\n")
    (tmp_path / "key").write_text(KEY_MATERIAL + "\n")
    return [f"--s3-endpoint={stub.server.url}", f"--s3-bucket={BUCKET}", f"--s3-region={REGION}", "--s3-prefix=dev",
            f"--s3-access-key-id-file={tmp_path / 'key-id'}", f"--s3-secret-access-key-file={tmp_path / 'key'}"]


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

def fake_snapshot(root: Path) -> dict[str, bytes]:
    files = {"01HBLOCKA/meta.json": b'{"ulid":"01HBLOCKA"}', "01HBLOCKA/index": bytes(range(256)) * 40,
             "01HBLOCKA/chunks/000001": b"\x00\x01chunk" * 1000, "01HBLOCKB/meta.json": b"{}"}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def archive_files(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


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
        "20260103T030000Z.json", "20260103T030000Z.tar.gz", "20260104T030000Z.json", "20260104T030000Z.tar.gz", "README.txt"]
    assert "20260105T030000Z.tar.gz" in removed and "20260101T030000Z.tar.gz" in removed


def test_a_failed_run_prunes_nothing_and_reports_failure(tmp_path, pushgateway):
    folder = tmp_path / "backups" / "alertmanager-0"
    make_archives(folder, [f"202601{day:02d}T030000Z" for day in range(1, 6)])
    empty = tmp_path / "empty-data"
    empty.mkdir()
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={empty}", f"--dest={tmp_path / 'backups'}",
                           "--keep=1", f"--pushgateway={pushgateway.url}"])
    assert status == program.EXIT_FAILED
    assert len(list(folder.glob("*.tar.gz"))) == 5
    (request,) = pushgateway.requests
    assert request.method == "POST"  # keeps the time of the last good backup at the Pushgateway


# --- what is pushed ---------------------------------------------------------------------------------------

def pushed(request: Recorded) -> dict[str, float]:
    families = text_string_to_metric_families(request.body.decode())
    return {sample.name: sample.value for family in families for sample in family.samples}


def test_a_successful_run_replaces_the_targets_group_with_all_four_metrics(tmp_path, pushgateway):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "silences").write_bytes(b"\x0asilence")
    (data / "nflog").write_bytes(b"\x0anflog")
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--dest={tmp_path / 'b'}",
                           f"--pushgateway={pushgateway.url}/"])
    assert status == program.EXIT_OK
    (request,) = pushgateway.requests
    assert (request.method, request.path) == ("PUT", "/metrics/job/ngx-backup/target/alertmanager-0")
    assert request.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = pushed(request)
    manifest = json.loads(next((tmp_path / "b" / "alertmanager-0").glob("*.json")).read_text())
    assert set(values) == {"ngx_backup_last_success_timestamp_seconds", "ngx_backup_last_run_success",
                           "ngx_backup_last_size_bytes", "ngx_backup_duration_seconds"}
    assert values["ngx_backup_last_run_success"] == 1 and values["ngx_backup_last_size_bytes"] == manifest["size"]
    assert abs(values["ngx_backup_last_success_timestamp_seconds"] - pushgateway_time(manifest)) < 60
    assert 0 <= values["ngx_backup_duration_seconds"] < 60
    # No label in the body: the Pushgateway takes job and target from the path (a clash would be refused).
    assert "{" not in request.body.decode()


def pushgateway_time(manifest: dict) -> float:
    from datetime import datetime, timezone

    return datetime.strptime(manifest["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


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
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--dest={tmp_path / 'b'}",
                           "--pushgateway=http://127.0.0.1:9"])  # discard port: nothing listens
    assert status == program.EXIT_UNREPORTED == 3
    assert waits == [1, 2], "the push is tried three times, with a growing pause"
    assert len(list((tmp_path / "b" / "alertmanager-0").glob("*.tar.gz"))) == 1


# --- Prometheus: the snapshot API and the snapshot directory ---------------------------------------------

@pytest.fixture
def prometheus(tmp_path):
    """A fake Prometheus whose snapshot API creates a snapshot directory like the real one."""
    data = tmp_path / "prometheus"
    (data / "wal").mkdir(parents=True)
    state = {"names": []}

    def respond(request: Recorded):
        expected = "Basic " + base64.b64encode(b"backup:pw-backup").decode()
        if request.headers.get("authorization") != expected:
            return 401, {}, b"Unauthorized"
        if (request.method, request.path) != ("POST", "/api/v1/admin/tsdb/snapshot?skip_head=false"):
            return 404, {}, b""
        name = f"20260101T000000Z-{len(state['names']):016x}"
        state["names"].append(name)
        fake_snapshot(data / "snapshots" / name)
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "success", "data": {"name": name}}).encode()

    server = StubServer(respond)
    (tmp_path / "pw").write_text("pw-backup\n")
    yield server, data, state
    server.close()


def prometheus_args(server: StubServer, data: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["prometheus", "--target=prometheus-0", f"--url={server.url}", "--user=backup", f"--password-file={tmp_path / 'pw'}",
            f"--data-dir={data}", *extra]


def test_prometheus_snapshot_is_archived_then_removed_from_the_data_volume(tmp_path, prometheus):
    server, data, state = prometheus
    (data / "snapshots" / "kept-by-hand").mkdir(parents=True)  # not a snapshot name: never touched
    stale = data / "snapshots" / "20250101T000000Z-00000000000000aa"
    fake_snapshot(stale)  # left by a killed run
    status = program.main(prometheus_args(server, data, tmp_path, f"--dest={tmp_path / 'b'}"))
    assert status == program.EXIT_OK
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
        program.backup_prometheus(program.parser().parse_args(prometheus_args(server, other, tmp_path, "--dest=x")),
                                  program.DirectoryStore(tmp_path / "b"), WHEN)


def test_only_snapshot_names_are_ever_removed(tmp_path):
    with pytest.raises(program.BackupError, match="not a snapshot name"):
        program.remove_snapshot(tmp_path, "../wal")
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "20260101T000000Z-0123456789abcdef").symlink_to(tmp_path)
    with pytest.raises(program.BackupError, match="symbolic link"):
        program.remove_snapshot(tmp_path, "20260101T000000Z-0123456789abcdef")
    assert (tmp_path / "snapshots").is_dir()


# --- Grafana ------------------------------------------------------------------------------------------------

def grafana_db(path: Path, rows: int = 500) -> list[tuple]:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, uid TEXT, data TEXT)")
    connection.executemany("INSERT INTO dashboard (uid, data) VALUES (?, ?)", [(f"uid-{i}", "x" * (i % 97)) for i in range(rows)])
    connection.commit()
    content = connection.execute("SELECT * FROM dashboard ORDER BY id").fetchall()
    connection.close()
    return content


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
    damaged[4096 * 2 + 100:4096 * 2 + 400] = b"\xff" * 300  # inside a table page
    (data / "grafana.db").write_bytes(bytes(damaged))
    with pytest.raises(program.BackupError):
        program.backup_grafana(program.parser().parse_args(["grafana", "--target=grafana-0", f"--data-dir={data}", "--dest=x"]),
                               program.DirectoryStore(tmp_path / "b"), WHEN)


# --- restore refuses whatever could damage data -------------------------------------------------------------

@pytest.fixture
def prometheus_archive(tmp_path) -> Path:
    source = tmp_path / "snapshot"
    fake_snapshot(source)
    manifest = program.write_archive(program.DirectoryStore(tmp_path / "b"), "prometheus-0", "prometheus",
                                     program.tree_members(source), {}, WHEN)
    return tmp_path / "b" / "prometheus-0" / manifest["archive"]


def test_restore_unpacks_a_prometheus_archive_into_a_fresh_directory(tmp_path, prometheus_archive):
    status = program.main(["restore", str(prometheus_archive), f"--into={tmp_path / 'new' / 'data'}"])
    assert status == program.EXIT_OK
    restored = {str(p.relative_to(tmp_path / "new" / "data")): p.read_bytes()
                for p in (tmp_path / "new" / "data").rglob("*") if p.is_file()}
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
    (tmp_path / "20260101T000000Z.json").write_text(json.dumps({
        "format": program.FORMAT, "kind": "alertmanager", "target": "alertmanager-0",
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(), "size": len(buffer.getvalue())}))
    with pytest.raises(program.BackupError, match="outside the target|neither a file nor a directory"):
        program.restore(archive, tmp_path / "into")
    assert not (tmp_path / "into").exists() and not (tmp_path / "escape").exists()


# --- S3: Signature V4 and the bucket ----------------------------------------------------------------------

# The worked examples of "Authenticating Requests: Using the Authorization Header (AWS Signature
# Version 4)" in the Amazon S3 API reference: bucket examplebucket, 24 May 2013, the documentation key pair.
AWS_EXAMPLE = program.S3Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AWS_HEADERS = {"Host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z"}
AWS_VECTORS = [
    pytest.param("GET", "/test.txt", {}, {"Range": "bytes=0-9"}, b"", "host;range;x-amz-content-sha256;x-amz-date",
                 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", id="GET Object"),
    pytest.param("PUT", "/test$file.text", {}, {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                 b"Welcome to Amazon S3.", "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                 "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd", id="PUT Object"),
    pytest.param("GET", "/", {"lifecycle": ""}, {}, b"", "host;x-amz-content-sha256;x-amz-date",
                 "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543", id="GET Bucket Lifecycle"),
    pytest.param("GET", "/", {"max-keys": "2", "prefix": "J"}, {}, b"", "host;x-amz-content-sha256;x-amz-date",
                 "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", id="Get Bucket (List Objects)"),
]


@pytest.mark.parametrize("method,path,query,headers,body,signed,signature", AWS_VECTORS)
def test_the_signer_reproduces_the_aws_s3_examples(method, path, query, headers, body, signed, signature):
    payload = hashlib.sha256(body).hexdigest()
    header = program.sigv4_authorization(method, path, query, {**AWS_HEADERS, **headers, "x-amz-content-sha256": payload},
                                         payload, AWS_EXAMPLE, "us-east-1", "20130524T000000Z")
    assert header == (f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                      f"SignedHeaders={signed},Signature={signature}")


def test_a_different_key_region_or_body_changes_the_signature():
    payload = program.EMPTY_SHA256
    headers = {**AWS_HEADERS, "x-amz-content-sha256": payload}
    base = program.sigv4_authorization("GET", "/test.txt", {}, headers, payload, AWS_EXAMPLE, "us-east-1", "20130524T000000Z")
    others = {
        program.sigv4_authorization("GET", "/test.txt", {}, headers, payload, program.S3Credentials(AWS_EXAMPLE.key_id, "other"), "us-east-1", "20130524T000000Z"),
        program.sigv4_authorization("GET", "/test.txt", {}, headers, payload, AWS_EXAMPLE, "eu-west-1", "20130524T000000Z"),
        program.sigv4_authorization("GET", "/test.txt", {}, headers, hashlib.sha256(b"x").hexdigest(), AWS_EXAMPLE, "us-east-1", "20130524T000000Z"),
    }
    assert base not in others and len(others) == 3


def test_a_backup_goes_to_the_bucket_in_one_signed_put_with_its_manifest(tmp_path, s3, pushgateway):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "silences").write_bytes(b"silences-bytes")
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--pushgateway={pushgateway.url}",
                           *s3_args(s3, tmp_path)])
    assert status == program.EXIT_OK, s3.rejected
    (archive_key,) = [key for key in s3.objects if key.endswith(".tar.gz")]
    assert re.fullmatch(r"dev/alertmanager-0/\d{8}T\d{6}Z\.tar\.gz", archive_key)
    manifest = json.loads(s3.objects[archive_key.replace(".tar.gz", ".json")])
    assert manifest["sha256"] == hashlib.sha256(s3.objects[archive_key]).hexdigest()
    methods = [(r.method, urllib.parse.urlsplit(r.path).path) for r in s3.server.requests]
    assert methods[:2] == [("PUT", f"/{BUCKET}/{archive_key}"), ("PUT", f"/{BUCKET}/{archive_key.replace('.tar.gz', '.json')}")]
    for request in s3.server.requests:
        assert request.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
        assert KEY_MATERIAL not in repr(request)
    assert pushed(pushgateway.requests[0])["ngx_backup_last_size_bytes"] == manifest["size"]


def test_a_large_archive_is_streamed_in_parts_and_reassembled(tmp_path, s3):
    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(random.Random(7).randbytes(1_300_000))  # incompressible, like TSDB chunks
    store = s3_store(s3, part_size=256 * 1024)
    manifest = program.write_archive(store, "prometheus-0", "prometheus", program.tree_members(data), {}, WHEN)
    key = f"dev/prometheus-0/{manifest['archive']}"
    assert hashlib.sha256(s3.objects[key]).hexdigest() == manifest["sha256"]
    parts = [r for r in s3.server.requests if r.method == "PUT" and "partNumber=" in r.path]
    assert len(parts) == -(-manifest["size"] // (256 * 1024)) >= 5
    assert all(len(part.body) == 256 * 1024 for part in parts[:-1])
    assert archive_files_bytes(s3.objects[key]) == {"chunks": (data / "chunks").read_bytes()}
    assert not s3.uploads, "every multipart upload is completed or aborted"


def archive_files_bytes(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_a_failed_upload_is_aborted_and_leaves_no_manifest(tmp_path, s3):
    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(random.Random(7).randbytes(1_300_000))
    store = s3_store(s3, part_size=256 * 1024)
    members = program.tree_members(data) + [(data / "vanished", "vanished")]
    with pytest.raises(FileNotFoundError):
        program.write_archive(store, "prometheus-0", "prometheus", members, {}, WHEN)
    assert s3.objects == {} and s3.uploads == {}
    assert any(r.method == "DELETE" and "uploadId=" in r.path for r in s3.server.requests)


def test_pruning_the_bucket_follows_every_listing_page(tmp_path, s3):
    for day in range(1, 6):
        for suffix in (".tar.gz", ".json"):
            s3.objects[f"dev/grafana-0/202601{day:02d}T030000Z{suffix}"] = b"x"
    s3.objects["dev/grafana-0/20260106T030000Z.tar.gz"] = b"no manifest"
    s3.objects["dev/prometheus-0/20260101T030000Z.tar.gz"] = b"another target"
    removed = program.prune(s3_store(s3), "grafana-0", keep=2)
    assert sorted(key for key in s3.objects if key.startswith("dev/grafana-0/")) == [
        "dev/grafana-0/20260104T030000Z.json", "dev/grafana-0/20260104T030000Z.tar.gz",
        "dev/grafana-0/20260105T030000Z.json", "dev/grafana-0/20260105T030000Z.tar.gz"]
    assert "dev/prometheus-0/20260101T030000Z.tar.gz" in s3.objects and len(removed) == 7


def test_an_archive_is_fetched_from_the_bucket_and_restored(tmp_path, s3):
    data = tmp_path / "grafana"
    data.mkdir()
    rows = grafana_db(data / "grafana.db")
    assert program.main(["grafana", "--target=grafana-0", f"--data-dir={data}", *s3_args(s3, tmp_path)]) == program.EXIT_OK
    assert program.main(["fetch", "--target=grafana-0", f"--to={tmp_path / 'fetched'}", *s3_args(s3, tmp_path)]) == program.EXIT_OK
    (archive,) = (tmp_path / "fetched").glob("*.tar.gz")
    program.restore(archive, tmp_path / "restored")
    copy = sqlite3.connect(tmp_path / "restored" / "grafana.db")
    assert copy.execute("SELECT * FROM dashboard ORDER BY id").fetchall() == rows
    copy.close()


def test_a_refused_signature_fails_the_run(tmp_path, s3):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "nflog").write_bytes(b"n")
    args = s3_args(s3, tmp_path)
    (tmp_path / "key").write_text("not-the-key\n")
    assert program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", *args]) == program.EXIT_FAILED
    assert s3.objects == {}
    s3.rejected.clear()  # expected here; the fixture fails on any other refusal
