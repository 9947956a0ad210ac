"""ops/backup.py's S3 client, against an independent signer and a real S3 protocol endpoint.

- Signatures: AWS's published examples, and botocore's S3 signer recomputing the Authorization header
  of every request the program sends in a run (uploads, multipart, listing pages, deletes, odd keys).
- moto's S3 server behind TLS (tests/s3_moto.py): uploads in parts S3 accepts, prune, fetch and restore,
  wrong credentials, and the trust in the endpoint's certificate, as the stack runs the program
  (`python3 -I -B backup.py ...`, no CA option: the system's store, here pointed at a test CA through
  SSL_CERT_FILE).
- A stub server only for answers moto never gives: a transient 503, and a CompleteMultipartUpload
  answered 200 with an error in its body (S3 documents both).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tarfile
import urllib.parse
from pathlib import Path

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from ops import backup as program
from tests.backup_fakes import WHEN, fake_prometheus, grafana_db, phases, prometheus_args, pushed, recording_pushgateway
from tests.http_stub import Recorded, StubServer
from tests.s3_moto import BUCKET, REGION, Bucket, MotoS3

MIB = 2**20
PROGRAM = Path(program.__file__)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    yield server
    server.close()


@pytest.fixture
def bucket(moto) -> Bucket:
    return moto.fresh_bucket()


@pytest.fixture
def pushgateway():
    with recording_pushgateway() as server:
        yield server


@pytest.fixture
def prometheus(tmp_path):
    with fake_prometheus(tmp_path) as fake:
        yield fake


def store(bucket: Bucket, prefix: str = "dev", part_size: int | None = None, key_material: str | None = None) -> program.S3Store:
    credentials = program.S3Credentials(bucket.key_id, key_material or bucket.key_material)
    return program.S3Store(bucket.endpoint, BUCKET, REGION, prefix, credentials, ca_file=bucket.ca_file, part_size=part_size)


def s3_args(bucket: Bucket, tmp_path: Path, key_id: str | None = None, key_material: str | None = None, ca: bool = True) -> list[str]:
    (tmp_path / "key-id").write_text((key_id or bucket.key_id) + "\n")
    (tmp_path / "key").write_text((key_material or bucket.key_material) + "\n")
    return [
        f"--s3-endpoint={bucket.endpoint}",
        f"--s3-bucket={BUCKET}",
        f"--s3-region={REGION}",
        "--s3-prefix=dev",
        f"--s3-access-key-id-file={tmp_path / 'key-id'}",
        f"--s3-secret-access-key-file={tmp_path / 'key'}",
        *([f"--s3-ca-file={bucket.ca_file}"] if ca else []),
    ]


def incompressible(size: int, seed: int = 7) -> bytes:
    """Like TSDB chunks: gzip leaves it as large as it is, so the archive's size is predictable."""
    return random.Random(seed).randbytes(size)


def tar_files(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


# --- the signer ----------------------------------------------------------------------------------------

# The worked examples of "Authenticating Requests: Using the Authorization Header (AWS Signature
# Version 4)" in the Amazon S3 API reference: bucket examplebucket, 24 May 2013, the documentation key pair.
AWS_EXAMPLE = program.S3Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AWS_HEADERS = {"Host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z"}
AWS_VECTORS = [
    pytest.param(
        "GET",
        "/test.txt",
        {},
        {"Range": "bytes=0-9"},
        b"",
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="GET Object",
    ),
    pytest.param(
        "PUT",
        "/test$file.text",
        {},
        {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
        b"Welcome to Amazon S3.",
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="PUT Object",
    ),
    pytest.param(
        "GET",
        "/",
        {"lifecycle": ""},
        {},
        b"",
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="GET Bucket Lifecycle",
    ),
    pytest.param(
        "GET",
        "/",
        {"max-keys": "2", "prefix": "J"},
        {},
        b"",
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="Get Bucket (List Objects)",
    ),
]


@pytest.mark.parametrize("method,path,query,headers,body,signed,signature", AWS_VECTORS)
def test_the_signer_reproduces_the_aws_s3_examples(method, path, query, headers, body, signed, signature):
    payload = hashlib.sha256(body).hexdigest()
    header = program.sigv4_authorization(
        method, path, query, {**AWS_HEADERS, **headers, "x-amz-content-sha256": payload}, payload, AWS_EXAMPLE, "us-east-1", "20130524T000000Z"
    )
    assert header == (f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed},Signature={signature}")


def botocore_authorization(
    endpoint: str, method: str, target: str, headers: dict[str, str], body: bytes, credentials: program.S3Credentials, monkeypatch
) -> tuple[str, str]:
    """The Authorization and x-amz-content-sha256 headers botocore's S3 signer gives the same request:
    same method, path, query (re-encoded by botocore from the decoded values), headers, body and time.
    botocore's S3SigV4Auth is its SigV4Auth with S3's rules (the path is encoded once, not normalised)."""
    path, _, query = target.partition("?")
    signed = {name: value for name, value in headers.items() if name not in ("authorization", "content-length", "x-amz-date", "x-amz-content-sha256")}
    request = AWSRequest(method=method, url=endpoint + path, headers=signed, data=body, params=dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))
    when = datetime.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: when)
    botocore.auth.S3SigV4Auth(Credentials(credentials.key_id, credentials.key_material), "s3", REGION).add_auth(request)
    # botocore separates the three parts with ", ", the program with ","; S3 takes either.
    return request.headers["Authorization"].replace(", ", ","), request.headers["X-Amz-Content-SHA256"]


def test_botocore_signs_every_request_of_a_run_exactly_as_the_program(bucket, monkeypatch, tmp_path):
    """Uploads in three parts, a single PUT, a key and a prefix needing URI encoding (space, unicode, '+',
    '='), listing pages joined by continuation tokens, GETs, an aborted upload and deletes: for each, the
    Authorization header botocore computes equals the program's, and so does the payload hash."""
    monkeypatch.setenv("MOTO_S3_DEFAULT_MAX_KEYS", "2")  # so listing takes several pages
    s3 = store(bucket, prefix="env one+ü=", part_size=program.MIN_PART_SIZE)
    sent: list[tuple[str, str, dict[str, str], bytes]] = []
    prepare = s3.prepare

    def recording(method, key, query, body, headers, amz_date):
        target, headers_sent = prepare(method, key, query, body, headers, amz_date)
        sent.append((method, target, headers_sent, body))
        return target, headers_sent

    monkeypatch.setattr(s3, "prepare", recording)
    data = tmp_path / "data"
    data.mkdir()
    (data / "chunks").write_bytes(incompressible(11 * MIB))
    manifest = program.write_archive(s3, "prometheus-0", "prometheus", program.tree_members(data), {}, WHEN)
    s3.request("PUT", s3._key("prometheus-0", "odd key+ü ä=€.json"), body=b"{}")
    s3.request("PUT", s3._key("prometheus-0", "20250101T000000Z.tar.gz"), body=b"old")  # no manifest: prune deletes it
    upload = program.MultipartUpload(s3, s3._key("prometheus-0", "aborted"), "prometheus-0")
    upload.write(incompressible(program.MIN_PART_SIZE))
    upload.abort()
    assert len(s3.names("prometheus-0")) == 4
    s3.read_manifest("prometheus-0", manifest["archive"])
    assert program.prune(s3, "prometheus-0", keep=1) == ["20250101T000000Z.tar.gz"]

    kinds = {(method, tuple(sorted(urllib.parse.parse_qs(target.partition("?")[2], keep_blank_values=True)))) for method, target, _, _ in sent}
    assert kinds >= {
        ("POST", ("uploads",)),
        ("PUT", ("partNumber", "uploadId")),
        ("POST", ("uploadId",)),
        ("PUT", ()),
        ("GET", ("list-type", "prefix")),
        ("GET", ("continuation-token", "list-type", "prefix")),
        ("GET", ()),
        ("DELETE", ()),
        ("DELETE", ("uploadId",)),
    }, kinds
    assert any("%C3%BC%20%C3%A4%3D%E2%82%AC.json" in target for _, target, _, _ in sent)  # the odd key, encoded once
    assert sum(1 for _, target, _, _ in sent if "partNumber=" in target) == 4  # 3 for the archive, 1 aborted
    for method, target, headers, body in sent:
        authorization, payload = botocore_authorization(bucket.endpoint, method, target, headers, body, s3.credentials, monkeypatch)
        assert headers["authorization"] == authorization, (method, target)
        assert headers["x-amz-content-sha256"] == payload, (method, target)
        if not target.partition("?")[2]:  # botocore's S3 serializer encodes a key like this
            key = urllib.parse.unquote(target.removeprefix(f"/{BUCKET}/"))
            assert target == f"/{BUCKET}/" + percent_encode(key, safe="/~")


def test_a_different_key_region_or_body_changes_the_signature():
    payload = program.EMPTY_SHA256
    headers = {**AWS_HEADERS, "x-amz-content-sha256": payload}
    base = program.sigv4_authorization("GET", "/test.txt", {}, headers, payload, AWS_EXAMPLE, "us-east-1", "20130524T000000Z")
    others = {
        program.sigv4_authorization(
            "GET", "/test.txt", {}, headers, payload, program.S3Credentials(AWS_EXAMPLE.key_id, "other"), "us-east-1", "20130524T000000Z"
        ),
        program.sigv4_authorization("GET", "/test.txt", {}, headers, payload, AWS_EXAMPLE, "eu-west-1", "20130524T000000Z"),
        program.sigv4_authorization("GET", "/test.txt", {}, headers, hashlib.sha256(b"x").hexdigest(), AWS_EXAMPLE, "us-east-1", "20130524T000000Z"),
    }
    assert base not in others and len(others) == 3


# --- a real S3 protocol endpoint -------------------------------------------------------------------------


def test_parts_are_at_least_s3s_minimum_and_fit_the_memory_budget():
    assert program.MIN_PART_SIZE == 5 * MIB <= program.PART_SIZE <= 16 * MIB  # 16 MiB: settings/model.py's budget
    with pytest.raises(program.BackupError, match="below S3's minimum"):
        program.S3Store("https://s3.example.com", BUCKET, REGION, "dev", program.S3Credentials("id", "k"), part_size=256 * 1024)


def test_a_large_archive_goes_up_in_parts_s3_accepts_and_comes_back_whole(bucket, tmp_path):
    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(incompressible(11 * MIB))
    s3 = store(bucket, part_size=program.MIN_PART_SIZE)
    manifest = program.write_archive(s3, "prometheus-0", "prometheus", program.tree_members(data), {}, WHEN)
    key = f"dev/prometheus-0/{manifest['archive']}"
    head = bucket.client.head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].endswith('-3"')  # S3's mark of an object completed from 3 parts
    assert head["ContentLength"] == manifest["size"] and bucket.sha256(key) == manifest["sha256"]
    assert json.loads(bucket.get(key.replace(".tar.gz", ".json"))) == manifest
    assert bucket.unfinished_uploads() == []
    s3.download("prometheus-0", manifest["archive"], tmp_path / "fetched.tar.gz")
    assert tar_files((tmp_path / "fetched.tar.gz").read_bytes()) == {"chunks": (data / "chunks").read_bytes()}


def test_the_endpoint_refuses_parts_below_5_mib_so_the_program_never_sends_them(bucket, tmp_path):
    """What the former stub accepted: moto, like S3, refuses the completion (EntityTooSmall)."""
    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(incompressible(MIB))
    s3 = store(bucket)
    s3.part_size = 256 * 1024  # past the constructor's check
    with pytest.raises(program.S3Error, match="EntityTooSmall"):
        program.write_archive(s3, "prometheus-0", "prometheus", program.tree_members(data), {}, WHEN)
    assert bucket.keys() == [] and bucket.unfinished_uploads() == []


def test_a_failed_upload_is_aborted_and_leaves_no_manifest(bucket, tmp_path):
    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(incompressible(11 * MIB))
    members = program.tree_members(data) + [(data / "vanished", "vanished")]
    with pytest.raises(FileNotFoundError):
        program.write_archive(store(bucket, part_size=program.MIN_PART_SIZE), "prometheus-0", "prometheus", members, {}, WHEN)
    assert bucket.keys() == [] and bucket.unfinished_uploads() == []


def test_prune_keeps_the_newest_complete_archives_across_listing_pages(bucket, monkeypatch):
    monkeypatch.setenv("MOTO_S3_DEFAULT_MAX_KEYS", "3")  # S3 pages at 1000; the program must follow the tokens
    for day in range(1, 6):
        for suffix in (".tar.gz", ".json"):
            bucket.put(f"dev/grafana-0/202601{day:02d}T030000Z{suffix}")
    bucket.put("dev/grafana-0/20260106T030000Z.tar.gz")  # no manifest: a killed run
    bucket.put("dev/grafana-0/notes.txt")  # not the program's: never deleted
    bucket.put("dev/prometheus-0/20260101T030000Z.tar.gz")  # another target
    removed = program.prune(store(bucket), "grafana-0", keep=2)
    assert bucket.keys() == [
        "dev/grafana-0/20260104T030000Z.json",
        "dev/grafana-0/20260104T030000Z.tar.gz",
        "dev/grafana-0/20260105T030000Z.json",
        "dev/grafana-0/20260105T030000Z.tar.gz",
        "dev/grafana-0/notes.txt",
        "dev/prometheus-0/20260101T030000Z.tar.gz",
    ]
    assert len(removed) == 7


def run_program(*argv: str, ca_file: str | None) -> subprocess.CompletedProcess:
    """The program as the stack runs it: `python3 -I -B backup.py ...`, in a clean environment. The
    job trusts the system's CA store (no --s3-ca-file); here SSL_CERT_FILE points OpenSSL's default
    store at the test CA, which -I (it drops PYTHON* variables only) leaves in effect."""
    environment = {"PATH": os.environ["PATH"], **({"SSL_CERT_FILE": ca_file} if ca_file else {})}
    return subprocess.run([sys.executable, "-I", "-B", str(PROGRAM), *argv], capture_output=True, text=True, timeout=120, env=environment, cwd="/")


def test_backup_list_fetch_and_restore_through_the_bucket_as_the_job_runs_them(bucket, tmp_path):
    data = tmp_path / "grafana"
    data.mkdir()
    rows = grafana_db(data / "grafana.db")
    args = s3_args(bucket, tmp_path, ca=False)
    backed_up = run_program("grafana", "--target=grafana-0", f"--data-dir={data}", *args, ca_file=bucket.ca_file)
    assert backed_up.returncode == program.EXIT_OK, backed_up.stderr
    (archive_key,) = [key for key in bucket.keys() if key.endswith(".tar.gz")]
    assert re.fullmatch(r"dev/grafana-0/\d{8}T\d{6}Z\.tar\.gz", archive_key)
    listed = run_program("list", "--target=grafana-0", *args, ca_file=bucket.ca_file)
    assert listed.returncode == 0 and listed.stdout.startswith(archive_key.rpartition("/")[2] + "\t"), listed.stderr
    fetched = run_program("fetch", "--target=grafana-0", f"--to={tmp_path / 'fetched'}", *args, ca_file=bucket.ca_file)
    assert fetched.returncode == 0, fetched.stderr
    restored = run_program("restore", fetched.stdout.strip(), f"--into={tmp_path / 'restored'}", ca_file=None)
    assert restored.returncode == 0, restored.stderr
    copy = sqlite3.connect(tmp_path / "restored" / "grafana.db")
    assert copy.execute("SELECT * FROM dashboard ORDER BY id").fetchall() == rows
    copy.close()


def test_an_endpoint_whose_certificate_is_not_trusted_is_refused(bucket, tmp_path):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "nflog").write_bytes(b"n")
    result = run_program("alertmanager", "--target=alertmanager-0", f"--data-dir={data}", *s3_args(bucket, tmp_path, ca=False), ca_file=None)
    assert result.returncode == program.EXIT_FAILED
    assert "its certificate is not trusted by the system's CA store (an endpoint with a private CA: --s3-ca-file)" in result.stderr
    assert bucket.keys() == []


@pytest.mark.parametrize(
    "wrong,code,names",
    [
        ("key", "SignatureDoesNotMatch", "backup.s3.secretAccessKey"),
        ("key id", "InvalidAccessKeyId", "backup.s3.accessKeyId"),
        ("bucket", "AccessDenied", "backup.s3.bucket"),  # a bucket the key has no rights on, whether it exists or not
    ],
)
def test_wrong_credentials_or_bucket_fail_the_run_with_a_clear_error(bucket, tmp_path, pushgateway, capsys, wrong, code, names):
    data = tmp_path / "alertmanager"
    data.mkdir()
    (data / "silences").write_bytes(b"s")
    args = s3_args(bucket, tmp_path, key_id="AKIAUNKNOWNKEYID0000" if wrong == "key id" else None, key_material="not-the-key" if wrong == "key" else None)
    if wrong == "bucket":
        args = [arg.replace(f"--s3-bucket={BUCKET}", "--s3-bucket=no-such-bucket") for arg in args]
    capsys.readouterr()
    status = program.main(["alertmanager", "--target=alertmanager-0", f"--data-dir={data}", f"--pushgateway={pushgateway.url}", *args])
    log = capsys.readouterr().err
    assert status == program.EXIT_FAILED
    (error,) = [line for line in log.splitlines() if " error: " in line]
    assert f"answered 403 {code}: " in error and names in error, error
    assert bucket.keys() == []
    assert pushed(pushgateway.requests[0])["ngx_backup_last_run_success"] == 0
    assert bucket.key_material not in log and "not-the-key" not in log


def test_a_run_to_the_bucket_logs_each_phase_in_order_with_upload_progress_and_no_credential(bucket, tmp_path, prometheus, pushgateway, capsys, monkeypatch):
    server, data, state = prometheus
    state["extra"]["01HBLOCKA/chunks/000002"] = incompressible(21 * MIB)
    monkeypatch.setattr(program, "PART_SIZE", program.MIN_PART_SIZE)  # 5 parts: one progress line, then the last
    capsys.readouterr()
    status = program.main(prometheus_args(server, data, tmp_path, f"--pushgateway={pushgateway.url}", "--keep=1", *s3_args(bucket, tmp_path)))
    log = capsys.readouterr().err
    assert status == program.EXIT_OK, log
    assert phases(log) == ["start", "snapshot", "upload", "archive", "prune", "push", "done"], log
    uploads = [line for line in log.splitlines() if " upload: " in line]
    assert len(uploads) == 2
    assert re.search(r"\.tar\.gz: part 4, 20\.0 MiB sent, \d+\.\d MiB/s$", uploads[0]), uploads[0]
    assert re.search(r"\.tar\.gz: 5 parts, 21\.\d MiB sent, \d+\.\d MiB/s; completing$", uploads[1]), uploads[1]
    for secret in (bucket.key_id, bucket.key_material, "pw-backup"):
        assert secret not in log


# --- what moto never answers: a stub server -----------------------------------------------------------------


def stub_store(server: StubServer) -> program.S3Store:
    return program.S3Store(server.url, BUCKET, REGION, "dev", program.S3Credentials("AKIDSTUB", "stub"), part_size=program.MIN_PART_SIZE)


def test_a_transient_5xx_is_retried_and_a_4xx_is_not(monkeypatch):
    """S3 answers 503 SlowDown (or 500) now and then and asks clients to retry; a 4xx is final."""
    monkeypatch.setattr(program.time, "sleep", lambda seconds: None)
    answers = {"dev/slow": [503, 200], "dev/refused": [403, 200]}

    def respond(request: Recorded):
        status = answers[urllib.parse.unquote(request.path).removeprefix(f"/{BUCKET}/")].pop(0)
        return status, {}, b"" if status == 200 else f"<Error><Code>{'SlowDown' if status == 503 else 'AccessDenied'}</Code></Error>".encode()

    server = StubServer(respond)
    try:
        s3 = stub_store(server)
        assert s3.request("PUT", "dev/slow", body=b"x")[0] == 200
        with pytest.raises(program.S3Error, match="answered 403 AccessDenied"):
            s3.request("PUT", "dev/refused", body=b"x")
        assert [urllib.parse.unquote(r.path) for r in server.requests] == [f"/{BUCKET}/dev/slow"] * 2 + [f"/{BUCKET}/dev/refused"]
        assert server.requests[0].body == server.requests[1].body == b"x"
    finally:
        server.close()


def test_a_completion_answered_200_with_an_error_fails_and_aborts_the_upload(tmp_path):
    """S3 may answer CompleteMultipartUpload 200 and report the failure in the body."""

    def respond(request: Recorded):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query, keep_blank_values=True))
        if request.method == "POST" and "uploads" in query:
            return (
                200,
                {},
                b'<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><UploadId>u-1</UploadId></InitiateMultipartUploadResult>',
            )
        if request.method == "PUT" and "partNumber" in query:
            return 200, {"ETag": f'"{hashlib.md5(request.body).hexdigest()}"'}, b""
        if request.method == "POST":
            return 200, {}, b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
        return 204, {}, b""

    data = tmp_path / "snapshot"
    data.mkdir()
    (data / "chunks").write_bytes(incompressible(6 * MIB))
    server = StubServer(respond)
    try:
        with pytest.raises(program.S3Error, match="answered 200 InternalError"):
            program.write_archive(stub_store(server), "prometheus-0", "prometheus", program.tree_members(data), {}, WHEN)
        calls = [(r.method, urllib.parse.urlsplit(r.path).query.split("&")[0].split("=")[0]) for r in server.requests]
        assert calls == [("POST", "uploads"), ("PUT", "partNumber"), ("PUT", "partNumber"), ("POST", "uploadId"), ("DELETE", "uploadId")]
    finally:
        server.close()
