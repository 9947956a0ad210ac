#!/usr/bin/env python3
# One file on purpose, over the house limit of 400 lines: this file is a deliverable. The stack ships it
# as one rendered file (renderers/backup.py: a key of the backup ConfigMap, an upload on Docker) and runs
# it with `python3 -I -B <file>` in a plain Python image; the restore procedures (README, "Restore")
# mount that ConfigMap, or this file, and run it by hand. A package of modules would not survive those
# paths: ConfigMap keys are file names, so mounting the ConfigMap as a directory flattens a package's
# folders, and with -I (which keeps PYTHON* variables and the working directory out of the job)
# `python -m` finds nothing but the standard library. Its concerns are kept apart in sections instead:
# stores, the S3 client, archives, sources, reporting, restore, command line.
"""Back up and restore the monitoring stack's state: Prometheus, Alertmanager and Grafana.

Standard library only: the stack runs this file, delivered as a rendered file, in a pinned Python image
(settings `images.backup`), as a CronJob per backed-up replica (Kubernetes) or a container started by
scripts/backup-dev.sh (Docker). docs/operations.md explains when, where, and how to restore.

What is archived, one gzip'd tar per run and target, with a JSON manifest (sha256, size) next to it:
  prometheus    a TSDB snapshot taken through the admin API (POST <url>/api/v1/admin/tsdb/snapshot,
                head included), read from the snapshots/ directory of the data volume and removed
                from it after archiving: Prometheus has no API to delete a snapshot, and a snapshot
                left behind keeps every block it links alive after retention deletes it.
  alertmanager  the `silences` and `nflog` files (Alertmanager replaces them atomically).
  grafana       grafana.db, copied online with SQLite's backup API from a read-only connection.

Where (the store): a directory (`--dest`, a volume), or an S3-compatible bucket (`--s3-*`, https,
path-style requests signed with AWS Signature V4, multipart uploads streamed in parts of PART_SIZE,
16 MiB; S3 refuses parts below 5 MiB but the last). The endpoint's certificate is checked against the
system's CA store (the image's ca-certificates), or `--s3-ca-file` for a private CA. Archives are
named <target>/<YYYYmmddTHHMMSSZ>.tar.gz; the manifest is written last, so an archive without one is
incomplete and never counts. `--keep N` keeps the N newest complete archives of the target and deletes
everything older, only after a successful run.

The result of every run goes to a Pushgateway (`--pushgateway`) as
ngx_backup_{last_success_timestamp_seconds,last_run_success,last_size_bytes,duration_seconds} in
group job="ngx-backup", target="<target>". A failed run replaces only last_run_success and
duration_seconds (POST), so the time of the last good backup survives it.

The log (stderr) has one line per event, `<UTC time> backup: <target> <phase>: <message>`, phases in
order: start, snapshot, upload (S3: every PROGRESS_EVERY parts and at the end, with bytes and MiB/s),
archive (name, bytes, sha256), prune (kept and deleted), push, done; `error` when the run fails. No
line holds a credential.

    backup.py prometheus   --target prometheus-0 --url https://prometheus:9090/prometheus --ca-file CA --user backup \\
                           --password-file FILE --data-dir /prometheus --dest /backups --keep 7 --pushgateway URL
    backup.py alertmanager --target alertmanager-0 --data-dir /alertmanager --dest /backups
    backup.py grafana      --target grafana-0 --data-dir /var/lib/grafana --dest /backups
    backup.py list         --target prometheus-0 --dest /backups            (or the --s3-* options)
    backup.py fetch        --target prometheus-0 [--archive NAME] --to DIR --s3-...
    backup.py restore      ARCHIVE --into DIR

Exit status: 0 done; 1 failed (and reported as failed); 2 bad usage; 3 backed up, but the result
could not be pushed (so the alerts will not see it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import gzip
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import sqlite3
import ssl
import stat
import sys
import tarfile
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

FORMAT = "ngx-backup/1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREPORTED = 0, 1, 2, 3
PUSH_JOB = "ngx-backup"
KINDS = ("prometheus", "alertmanager", "grafana")
ALERTMANAGER_FILES = ("silences", "nflog")
GRAFANA_DB = "grafana.db"
# TSDB chunks are compressed already: higher levels would multiply the CPU time of a multi-GB
# snapshot and shrink it little more.
GZIP_LEVEL = 1
# S3 multipart parts: S3 refuses (EntityTooSmall, at completion) any part below 5 MiB but the last,
# and takes at most 10,000 parts, so 16 MiB parts allow archives of about 156 GiB. A run holds about two parts
# in memory (the buffer and the request body): settings/model.py budgets the job's memory for that.
MIN_PART_SIZE = 5 * 2**20
PART_SIZE = 16 * 2**20
PROGRESS_EVERY = 4  # parts between two upload progress lines (64 MiB)
# A snapshot writes the head block to disk first, which takes a while on a large head.
SNAPSHOT_TIMEOUT = 600.0
HTTP_TIMEOUT = 60.0
ATTEMPTS = 3  # per S3 request and per push: transient errors are retried with a short backoff
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
ARCHIVE_NAME = re.compile(r"^\d{8}T\d{6}Z\.tar\.gz$")
# What Prometheus names a snapshot: <UTC time>-<random hex>. Nothing else under snapshots/ is removed.
SNAPSHOT_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{16}$")
# A target names a folder (or key prefix): no separators, no dots that could climb out of it.
TARGET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class BackupError(Exception):
    """A failure with a message an operator can act on (no traceback needed)."""


def log(message: str) -> None:
    """One line on stderr (the job's log). Never given a credential: the messages name files, keys,
    sizes and URLs without user information, never what a credential file holds."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{now} backup: {message}", file=sys.stderr, flush=True)


def event(target: str, phase: str, message: str) -> None:
    """A step of a run: `<time> backup: <target> <phase>: <message>`, phases in the order they happen:
    start, snapshot, upload (S3 only), archive, prune, push, done; error (then push, done) on a failure."""
    log(f"{target} {phase}: {message}")


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def stamp(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime(STAMP_FORMAT)


def manifest_name(archive: str) -> str:
    return archive[: -len(".tar.gz")] + ".json"


# --- stores: a directory or an S3-compatible bucket ---------------------------------------------------


class DirectoryStore:
    """<root>/<target>/<stamp>.tar.gz and .json. Archives are written as .partial and renamed once
    complete and synced, so a killed run never leaves something that looks like an archive."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return str(self.root)

    def _folder(self, target: str) -> Path:
        folder = self.root / target
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def work_dir(self, target: str) -> Path:
        """Scratch space on the same volume (the Grafana database copy)."""
        return self._folder(target)

    @contextlib.contextmanager
    def archive_writer(self, target: str, name: str) -> Iterator[BinaryIO]:
        final = self._folder(target) / name
        if final.exists():
            raise BackupError(f"{final} exists already; two runs in the same second?")
        partial = final.with_name(f".{name}.partial")
        handle = open(partial, "xb")
        try:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(partial, final)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise

    def put_manifest(self, target: str, name: str, manifest: dict) -> None:
        folder = self._folder(target)
        temporary = folder / f".{manifest_name(name)}.partial"
        temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, folder / manifest_name(name))

    def names(self, target: str) -> list[str]:
        folder = self.root / target
        return sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []

    def read_manifest(self, target: str, name: str) -> dict:
        return json.loads((self.root / target / manifest_name(name)).read_text())

    def delete(self, target: str, name: str) -> None:
        path = self.root / target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def download(self, target: str, name: str, destination: Path) -> None:
        shutil.copyfile(self.root / target / name, destination)


@dataclass(frozen=True)
class S3Credentials:
    key_id: str
    key_material: str  # the secret access key, read from a file

    def __repr__(self) -> str:
        return f"S3Credentials({self.key_id}, [hidden])"


def _uri_encode(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def canonical_query(query: dict[str, str]) -> str:
    pairs = sorted((_uri_encode(key), _uri_encode(value)) for key, value in query.items())
    return "&".join(f"{key}={value}" for key, value in pairs)


def sigv4_authorization(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload_sha256: str,
    credentials: S3Credentials,
    region: str,
    amz_date: str,
    service: str = "s3",
) -> str:
    """The Authorization header of a request signed with AWS Signature Version 4 (header-based).

    `headers` are every header that is signed (host and x-amz-* at least); `path` is the request path
    as sent, before encoding (S3 encodes each character once and keeps '/')."""
    canonical = sorted((name.lower().strip(), " ".join(str(value).split())) for name, value in headers.items())
    signed_headers = ";".join(name for name, _ in canonical)
    canonical_request = "\n".join(
        [
            method,
            _uri_encode(path, safe="/-_.~"),
            canonical_query(query),
            "".join(f"{name}:{value}\n" for name, value in canonical),
            signed_headers,
            payload_sha256,
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + credentials.key_material).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={credentials.key_id}/{scope},SignedHeaders={signed_headers},Signature={signature}"


# What an operator checks for the answers a wrong setting gets (the job's flags come from backup.s3.*).
S3_HINTS = {
    "SignatureDoesNotMatch": "the secret access key (backup.s3.secretAccessKey, --s3-secret-access-key-file) "
    "does not belong to the key ID, or the region (backup.s3.region, --s3-region) is not the bucket's",
    "InvalidAccessKeyId": "the access key ID (backup.s3.accessKeyId, --s3-access-key-id-file) is unknown to this endpoint",
    "AccessDenied": "the key may not do this in the bucket (backup.s3.bucket, --s3-bucket): it needs s3:PutObject, GetObject, "
    "ListBucket, DeleteObject and AbortMultipartUpload on it",
    "NoSuchBucket": "the bucket (backup.s3.bucket, --s3-bucket) does not exist at this endpoint",
    "AuthorizationHeaderMalformed": "the region (backup.s3.region, --s3-region) is not the bucket's",
    "RequestTimeTooSkewed": "this machine's clock is off by more than 15 minutes",
    "EntityTooSmall": "a multipart part was below S3's 5 MiB minimum",
}


class S3Error(BackupError):
    def __init__(self, method: str, key: str, status: int, body: bytes) -> None:
        code = re.search(rb"<Code>([^<]+)</Code>", body)
        reason = code.group(1).decode(errors="replace") if code else body[:200].decode(errors="replace")
        hint = S3_HINTS.get(reason)
        super().__init__(f"S3 {method} {key or '/'} answered {status} {reason}" + (f": {hint}" if hint else ""))
        self.status, self.code = status, reason


class S3Store:
    """Objects <prefix>/<target>/<stamp>.tar.gz and .json in a bucket, path-style."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        region: str,
        prefix: str,
        credentials: S3Credentials,
        ca_file: str | None = None,
        part_size: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise BackupError(f"--s3-endpoint {endpoint!r} is not an http(s) URL")
        if "@" in parsed.netloc:  # it would be logged and sent as the Host header
            raise BackupError("--s3-endpoint must not hold user information: give the key in the key files")
        part_size = part_size or PART_SIZE
        if part_size < MIN_PART_SIZE:
            raise BackupError(f"S3 part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes")
        self.scheme, self.netloc = parsed.scheme, parsed.netloc
        self.base_path = parsed.path.rstrip("/")
        self.bucket, self.region, self.credentials = bucket, region, credentials
        self.prefix = prefix.strip("/")
        # Without --s3-ca-file: the system's CA store (the image's ca-certificates; OpenSSL's
        # SSL_CERT_FILE, which -I leaves alone, can point it elsewhere).
        self.context = ssl.create_default_context(cafile=ca_file) if parsed.scheme == "https" else None
        self.trusted = ca_file or "the system's CA store"
        self.part_size, self.clock = part_size, clock

    def describe(self) -> str:
        return f"s3 bucket {self.bucket} at {self.scheme}://{self.netloc}, prefix {self.prefix or '/'}"

    def work_dir(self, target: str) -> Path | None:
        return None

    def _key(self, target: str, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, target, name) if part)

    def prepare(self, method: str, key: str, query: dict[str, str], body: bytes, headers: dict[str, str] | None, amz_date: str) -> tuple[str, dict[str, str]]:
        """The request line's target and every header of one signed request (tests check it with botocore)."""
        path = f"{self.base_path}/{self.bucket}" + (f"/{key}" if key else "")
        payload = hashlib.sha256(body).hexdigest()
        signed = {"host": self.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload, **(headers or {})}
        sent = {**signed, "authorization": sigv4_authorization(method, path, query, signed, payload, self.credentials, self.region, amz_date)}
        if body:
            sent["content-length"] = str(len(body))
        return _uri_encode(path, safe="/-_.~") + (f"?{canonical_query(query)}" if query else ""), sent

    def request(
        self, method: str, key: str, query: dict[str, str] | None = None, body: bytes = b"", headers: dict[str, str] | None = None, sink: BinaryIO | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One signed request, retried on connection errors and 5xx; raises S3Error on any other failure."""
        query = query or {}
        last: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            target, sent = self.prepare(method, key, query, body, headers, time.strftime(STAMP_FORMAT, time.gmtime(self.clock())))
            connection = (
                http.client.HTTPSConnection(self.netloc, timeout=300, context=self.context)
                if self.scheme == "https"
                else http.client.HTTPConnection(self.netloc, timeout=300)
            )
            try:
                connection.request(method, target, body=body or None, headers=sent)
                response = connection.getresponse()
                if sink is not None and 200 <= response.status < 300:
                    sink.seek(0)
                    sink.truncate()  # a retry starts the download over
                    shutil.copyfileobj(response, sink, 2**20)
                    data = b""
                else:
                    data = response.read()
                result = response.status, {name.lower(): value for name, value in response.getheaders()}, data
            except ssl.SSLCertVerificationError as error:
                raise BackupError(
                    f"S3 endpoint {self.scheme}://{self.netloc}: {error.verify_message}: its certificate is not "
                    f"trusted by {self.trusted} (an endpoint with a private CA: --s3-ca-file)"
                ) from None
            except (OSError, http.client.HTTPException) as error:
                last = error
            else:
                status = result[0]
                if 200 <= status < 300:
                    return result
                last = S3Error(method, key, status, result[2])
                if status < 500:
                    raise last
            finally:
                connection.close()
            if attempt < ATTEMPTS:
                time.sleep(attempt)
        if isinstance(last, S3Error):
            raise last
        raise BackupError(f"S3 {method} {key}: {last}")

    @contextlib.contextmanager
    def archive_writer(self, target: str, name: str) -> Iterator[BinaryIO]:
        upload = MultipartUpload(self, self._key(target, name), target)
        try:
            yield upload
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def put_manifest(self, target: str, name: str, manifest: dict) -> None:
        body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        self.request("PUT", self._key(target, manifest_name(name)), body=body, headers={"content-type": "application/json"})

    def names(self, target: str) -> list[str]:
        prefix = self._key(target) + "/"
        found: list[str] = []
        query = {"list-type": "2", "prefix": prefix}
        while True:
            _, _, body = self.request("GET", "", query=query)
            root = ElementTree.fromstring(body)
            found += [element.text[len(prefix) :] for element in root.iter(f"{S3_NS}Key") if element.text and element.text.startswith(prefix)]
            truncated = root.findtext(f"{S3_NS}IsTruncated") == "true"
            following = root.findtext(f"{S3_NS}NextContinuationToken")
            if not truncated or not following:
                return sorted(name for name in found if "/" not in name)
            query = {"list-type": "2", "prefix": prefix, "continuation-token": following}

    def read_manifest(self, target: str, name: str) -> dict:
        _, _, body = self.request("GET", self._key(target, manifest_name(name)))
        return json.loads(body)

    def delete(self, target: str, name: str) -> None:
        self.request("DELETE", self._key(target, name))

    def download(self, target: str, name: str, destination: Path) -> None:
        with open(destination, "xb") as handle:
            self.request("GET", self._key(target, name), sink=handle)


class MultipartUpload:
    """A file-like sink that uploads what is written in parts, without a local copy. Small objects
    (below one part) go up in a single PUT when closed. Logs its progress every PROGRESS_EVERY parts."""

    def __init__(self, store: S3Store, key: str, target: str) -> None:
        self.store, self.key, self.target = store, key, target
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[tuple[int, str]] = []
        self.sent, self.started = 0, time.monotonic()

    def _rate(self) -> str:
        return f"{self.sent / 2**20 / max(time.monotonic() - self.started, 1e-3):.1f} MiB/s"

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= self.store.part_size:
            with memoryview(self.buffer) as view:  # one copy of the part, not two
                part = bytes(view[: self.store.part_size])
            del self.buffer[: self.store.part_size]
            self._send(part)
        return len(data)

    def flush(self) -> None:
        pass

    def _send(self, part: bytes) -> None:
        if self.upload_id is None:
            _, _, body = self.store.request("POST", self.key, query={"uploads": ""})
            answer = ElementTree.fromstring(body)
            self.upload_id = answer.findtext(f"{S3_NS}UploadId") or answer.findtext("UploadId")
            if not self.upload_id:
                raise BackupError(f"S3 did not start a multipart upload of {self.key}")
        number = len(self.parts) + 1
        _, headers, _ = self.store.request("PUT", self.key, query={"partNumber": str(number), "uploadId": self.upload_id}, body=part)
        self.parts.append((number, headers.get("etag", "")))
        self.sent += len(part)
        if number % PROGRESS_EVERY == 0:
            event(self.target, "upload", f"{self.key}: part {number}, {mib(self.sent)} sent, {self._rate()}")

    def complete(self) -> None:
        if self.upload_id is None:
            self.store.request("PUT", self.key, body=bytes(self.buffer), headers={"content-type": "application/gzip"})
            self.sent = len(self.buffer)
            event(self.target, "upload", f"{self.key}: one PUT, {mib(self.sent)} sent, {self._rate()}")
            return
        if self.buffer:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        event(self.target, "upload", f"{self.key}: {len(self.parts)} parts, {mib(self.sent)} sent, {self._rate()}; completing")
        document = "".join(f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>" for number, etag in self.parts)
        body = f"<CompleteMultipartUpload>{document}</CompleteMultipartUpload>".encode()
        _, _, answer = self.store.request("POST", self.key, query={"uploadId": self.upload_id}, body=body)
        # S3 may answer 200 and report the failure in the body.
        if answer and ElementTree.fromstring(answer).tag.endswith("Error"):
            raise S3Error("POST", self.key, 200, answer)

    def abort(self) -> None:
        if self.upload_id is not None:
            with contextlib.suppress(Exception):
                self.store.request("DELETE", self.key, query={"uploadId": self.upload_id})


# --- archives -----------------------------------------------------------------------------------------


class _Digest:
    """Passes writes through to `sink`, counting bytes and hashing them."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink, self.size, self.hash = sink, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    # Open first, then describe the open file: a file replaced (renamed over) in between is read as one
    # consistent version, the one opened, whatever its size.
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        member = tarfile.TarInfo(arcname)
        member.size, member.mtime, member.mode = info.st_size, int(info.st_mtime), 0o644
        tar.addfile(member, handle)


def tree_members(root: Path) -> list[tuple[Path, str]]:
    """Every directory and regular file under `root`, relative, sorted; anything else is refused."""
    members = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = Path(directory).relative_to(root)
        for name in subdirectories:
            path = Path(directory) / name
            if path.is_symlink():
                raise BackupError(f"{path} is a symbolic link; a snapshot holds only files and directories")
            members.append((path, str(relative / name)))
        for name in sorted(files):
            path = Path(directory) / name
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise BackupError(f"{path} is not a regular file; a snapshot holds only files and directories")
            members.append((path, str(relative / name)))
    return members


def content_size(members: list[tuple[Path, str]]) -> int:
    return sum(path.stat().st_size for path, _ in members if path.is_file())


def write_archive(store: Any, target: str, kind: str, members: list[tuple[Path, str]], source: dict, when: float) -> dict:
    name = f"{stamp(when)}.tar.gz"
    started = time.monotonic()
    with store.archive_writer(target, name) as sink:
        digest = _Digest(sink)
        with gzip.GzipFile(filename="", mode="wb", fileobj=digest, compresslevel=GZIP_LEVEL, mtime=0) as compressed:
            with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path, arcname in members:
                    if path.is_dir():
                        directory = tarfile.TarInfo(arcname)
                        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, int(path.stat().st_mtime)
                        tar.addfile(directory)
                    else:
                        _add_file(tar, path, arcname)
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "target": target,
        "archive": name,
        "created": datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": digest.hash.hexdigest(),
        "size": digest.size,
        "members": len(members),
        "source": source,
    }
    store.put_manifest(target, name, manifest)
    event(
        target,
        "archive",
        f"{name} and its manifest in {store.describe()}: {digest.size} bytes ({mib(digest.size)}), "
        f"{len(members)} members, sha256 {manifest['sha256']}, {time.monotonic() - started:.1f} s",
    )
    return manifest


def complete_archives(names: list[str]) -> list[str]:
    present = set(names)
    return sorted(name for name in names if ARCHIVE_NAME.match(name) and manifest_name(name) in present)


# Everything a run writes into a target's folder: archives, manifests, their .partial forms and the
# scratch directory of the Grafana copy. Prune never touches any other name.
_OURS = re.compile(r"^(\.?\d{8}T\d{6}Z\.(tar\.gz|json)(\.partial)?|\.grafana-\w+)$")


def prune(store: Any, target: str, keep: int) -> list[str]:
    """Keep the `keep` newest complete archives of `target`; delete older ones and leftovers
    (partial files, archives without a manifest, manifests without an archive)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    names = store.names(target)
    kept = complete_archives(names)[-keep:]
    keep_names = set(kept) | {manifest_name(name) for name in kept}
    doomed = [name for name in names if _OURS.match(name) and name not in keep_names]
    for name in doomed:
        store.delete(target, name)
    event(target, "prune", f"kept {len(kept)} (keep {keep}): {', '.join(kept) or 'none'}; deleted {len(doomed)}: {', '.join(doomed) or 'none'}")
    return doomed


# --- sources --------------------------------------------------------------------------------------------


def _basic_auth(user: str, password_file: str) -> str:
    credential = Path(password_file).read_text().strip()
    return "Basic " + base64.b64encode(f"{user}:{credential}".encode()).decode()


def take_snapshot(url: str, user: str, password_file: str, ca_file: str | None, timeout: float = SNAPSHOT_TIMEOUT) -> str:
    """POST <url>/api/v1/admin/tsdb/snapshot (head included; `url` carries the route prefix); returns the snapshot's name."""
    parsed = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file) if parsed.scheme == "https" else None
    connection = (
        http.client.HTTPSConnection(parsed.netloc, timeout=timeout, context=context)
        if parsed.scheme == "https"
        else http.client.HTTPConnection(parsed.netloc, timeout=timeout)
    )
    try:
        connection.request(
            "POST",
            parsed.path.rstrip("/") + "/api/v1/admin/tsdb/snapshot?skip_head=false",
            headers={"Authorization": _basic_auth(user, password_file), "Content-Length": "0"},
        )
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise BackupError(f"cannot reach Prometheus at {url}: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise BackupError(f"Prometheus at {url} answered {response.status} to the snapshot request: {body[:200]!r}")
    name = json.loads(body).get("data", {}).get("name", "")
    if not SNAPSHOT_NAME.match(name):
        raise BackupError(f"Prometheus returned an unexpected snapshot name {name!r}")
    return name


def remove_snapshot(data_dir: Path, name: str) -> None:
    """Delete exactly <data_dir>/snapshots/<name>: a name Prometheus gives, never a link."""
    if not SNAPSHOT_NAME.match(name):
        raise BackupError(f"refusing to remove {name!r}: not a snapshot name")
    path = data_dir / "snapshots" / name
    if path.is_symlink():
        raise BackupError(f"refusing to remove {path}: it is a symbolic link")
    if path.exists():
        shutil.rmtree(path)


def remove_stale_snapshots(data_dir: Path, target: str) -> list[str]:
    """Snapshots a killed run left behind. The snapshots/ directory belongs to the backup job."""
    folder = data_dir / "snapshots"
    stale = sorted(entry.name for entry in folder.iterdir() if SNAPSHOT_NAME.match(entry.name)) if folder.is_dir() else []
    for name in stale:
        remove_snapshot(data_dir, name)
        event(target, "snapshot", f"removed {name}, left in {folder} by an earlier run")
    return stale


def backup_prometheus(args: argparse.Namespace, store: Any, when: float) -> dict:
    data_dir = Path(args.data_dir)
    if not (data_dir / "wal").is_dir() and not (data_dir / "snapshots").is_dir():
        raise BackupError(f"{data_dir} is not a Prometheus data directory (no wal/): mount the replica's data volume there")
    remove_stale_snapshots(data_dir, args.target)
    name = take_snapshot(args.url, args.user, args.password_file, args.ca_file)
    try:
        snapshot = data_dir / "snapshots" / name
        if not snapshot.is_dir():
            raise BackupError(
                f"Prometheus at {args.url} made snapshot {name}, but {snapshot} does not exist: --data-dir must be the data volume of that same replica"
            )
        members = tree_members(snapshot)
        event(args.target, "snapshot", f"Prometheus at {args.url} made {name}: {len(members)} entries, {content_size(members)} bytes")
        return write_archive(store, args.target, "prometheus", members, {"snapshot": name, "url": args.url}, when)
    finally:
        remove_snapshot(data_dir, name)


def backup_alertmanager(args: argparse.Namespace, store: Any, when: float) -> dict:
    data_dir = Path(args.data_dir)
    present = [(data_dir / name, name) for name in ALERTMANAGER_FILES if (data_dir / name).is_file()]
    if not present:
        raise BackupError(f"neither {' nor '.join(ALERTMANAGER_FILES)} is in {data_dir}: is it Alertmanager's --storage.path?")
    event(args.target, "snapshot", f"{', '.join(name for _, name in present)} in {data_dir}: {content_size(present)} bytes")
    return write_archive(store, args.target, "alertmanager", present, {"files": [name for _, name in present]}, when)


def copy_sqlite(source: Path, copy: Path) -> None:
    """An online, consistent copy through SQLite's backup API, reading `source` read-only."""
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        writer = sqlite3.connect(copy)
        try:
            reader.backup(writer)
            verdict = writer.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"the copy of {source} fails SQLite's integrity check: {verdict}")
        finally:
            writer.close()
    except sqlite3.Error as error:
        raise BackupError(f"cannot copy {source}: {error}") from None
    finally:
        reader.close()


def backup_grafana(args: argparse.Namespace, store: Any, when: float) -> dict:
    source = Path(args.data_dir) / GRAFANA_DB
    if not source.is_file():
        raise BackupError(f"{source} does not exist: is {args.data_dir} Grafana's data directory?")
    scratch = Path(tempfile.mkdtemp(prefix=".grafana-", dir=store.work_dir(args.target)))
    try:
        copy = scratch / GRAFANA_DB
        copy_sqlite(source, copy)
        event(args.target, "snapshot", f"online copy of {source}: {copy.stat().st_size} bytes, integrity check ok")
        return write_archive(store, args.target, "grafana", [(copy, GRAFANA_DB)], {"file": GRAFANA_DB}, when)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


BACKUPS: dict[str, Callable[[argparse.Namespace, Any, float], dict]] = {
    "prometheus": backup_prometheus,
    "alertmanager": backup_alertmanager,
    "grafana": backup_grafana,
}


# --- reporting ------------------------------------------------------------------------------------------


def metrics_text(values: dict[str, float]) -> str:
    lines = []
    for name, value in values.items():
        lines += [f"# TYPE {name} gauge", f"{name} {value!r}"]
    return "\n".join(lines) + "\n"


def result_metrics(success: bool, finished: float, duration: float, size: int | None) -> dict[str, float]:
    values = {"ngx_backup_last_run_success": 1.0 if success else 0.0, "ngx_backup_duration_seconds": round(duration, 3)}
    if success:
        values["ngx_backup_last_success_timestamp_seconds"] = round(finished, 3)
        values["ngx_backup_last_size_bytes"] = float(size or 0)
    return values


def push(pushgateway: str, target: str, values: dict[str, float], replace: bool, timeout: float = HTTP_TIMEOUT) -> None:
    """PUT replaces the target's whole group (a success); POST replaces only the metrics sent (a failure
    keeps the last success's time and size)."""
    parsed = urllib.parse.urlsplit(pushgateway)
    path = f"{parsed.path.rstrip('/')}/metrics/job/{PUSH_JOB}/target/{_uri_encode(target)}"
    body = metrics_text(values).encode()
    last: Exception | None = None
    for attempt in range(1, ATTEMPTS + 1):
        connection = (
            http.client.HTTPSConnection(parsed.netloc, timeout=timeout)
            if parsed.scheme == "https"
            else http.client.HTTPConnection(parsed.netloc, timeout=timeout)
        )
        try:
            connection.request("PUT" if replace else "POST", path, body=body, headers={"Content-Type": "text/plain; version=0.0.4"})
            response = connection.getresponse()
            answer = response.read()
            if 200 <= response.status < 300:
                return
            last = BackupError(f"the Pushgateway answered {response.status}: {answer[:200]!r}")
            if response.status < 500:
                break
        except (OSError, http.client.HTTPException) as error:
            last = error
        finally:
            connection.close()
        if attempt < ATTEMPTS:
            time.sleep(attempt)
    raise BackupError(f"cannot push to {public_url(pushgateway)}: {last}")


def public_url(url: str) -> str:
    """`url` without user information, for the log."""
    parsed = urllib.parse.urlsplit(url)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


def run_backup(args: argparse.Namespace) -> int:
    started = time.time()
    manifest: dict | None = None
    try:
        store = make_store(args)
        event(args.target, "start", f"{args.kind} backup of {args.data_dir} to {store.describe()}")
        manifest = BACKUPS[args.kind](args, store, started)
        prune(store, args.target, args.keep)
    except Exception as error:  # noqa: BLE001 - every failure must still be reported as one
        event(args.target, "error", str(error))
    finished = time.time()
    success = manifest is not None
    status = EXIT_OK if success else EXIT_FAILED
    if args.pushgateway:
        values = result_metrics(success, finished, finished - started, manifest["size"] if manifest else None)
        try:
            push(args.pushgateway, args.target, values, replace=success)
            event(args.target, "push", f"{'success' if success else 'failure'} ({', '.join(values)}) to {public_url(args.pushgateway)}")
        except BackupError as error:
            event(args.target, "push", f"FAILED, the result was not reported: {error}")
            status = EXIT_UNREPORTED if success else EXIT_FAILED
    else:
        event(args.target, "push", "skipped: no --pushgateway")
    event(args.target, "done", f"{'ok' if success else 'FAILED'} in {time.time() - started:.1f} s, exit status {status}")
    return status


# --- restore --------------------------------------------------------------------------------------------


def verify(archive: Path, manifest: dict) -> None:
    digest, size = hashlib.sha256(), 0
    with open(archive, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
            size += len(block)
    if size != manifest.get("size") or digest.hexdigest() != manifest.get("sha256"):
        raise BackupError(
            f"{archive} does not match its manifest (size {size} vs {manifest.get('size')}, "
            f"sha256 {digest.hexdigest()} vs {manifest.get('sha256')}): it is damaged or not the archive the manifest describes"
        )


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"archive member {name!r} would land outside the target directory")
    return path


def _checked(member: tarfile.TarInfo) -> bool:
    _safe_name(member.name)
    if not (member.isfile() or member.isdir()):
        raise BackupError(f"archive member {member.name!r} is neither a file nor a directory (links are never restored)")
    return True


def restore(archive: Path, into: Path, manifest_path: Path | None = None) -> dict:
    """Verify `archive` against its manifest, then unpack it into `into`.

    Prometheus: `into` must be empty (or not exist): restored blocks next to an old WAL or old blocks
    would overlap. Alertmanager and Grafana: no file of the archive may exist in `into` already. Only
    directories and regular files are unpacked, never over an existing file."""
    manifest_path = manifest_path or archive.with_name(manifest_name(archive.name))
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"cannot read the manifest {manifest_path}: {error}") from None
    if manifest.get("format") != FORMAT or manifest.get("kind") not in KINDS:
        raise BackupError(f"{manifest_path} is not a manifest of this program (format {manifest.get('format')!r})")
    verify(archive, manifest)
    # Two sequential passes over the stream: check everything first, then unpack.
    with tarfile.open(archive, "r|gz") as tar:
        members = [(member.name, member.isdir()) for member in tar if _checked(member)]
    if into.exists() and not into.is_dir():
        raise BackupError(f"{into} exists and is not a directory")
    if manifest["kind"] == "prometheus" and into.exists() and any(into.iterdir()):
        raise BackupError(
            f"{into} is not empty: restore a Prometheus snapshot into an empty directory "
            "(move the old data away first; blocks next to an old WAL would overlap)"
        )
    clashes = [name for name, is_dir in members if not is_dir and (into / name).exists()]
    if clashes:
        raise BackupError(f"{into} already has {', '.join(clashes)}; move it aside first (restore never overwrites)")
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            _checked(member)
            destination = into / _safe_name(member.name)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with open(destination, "xb") as handle:
                    shutil.copyfileobj(tar.extractfile(member), handle, 2**20)
    log(f"restored {manifest['kind']} archive {archive.name} of {manifest['target']} ({len(members)} members) into {into}")
    return manifest


# --- command line ---------------------------------------------------------------------------------------


def _read(path: str | None, what: str) -> str:
    if not path:
        raise BackupError(f"{what} is required with --s3-endpoint")
    return Path(path).read_text().strip()


def make_store(args: argparse.Namespace) -> Any:
    if getattr(args, "s3_endpoint", None):
        if not args.s3_bucket:
            raise BackupError("--s3-bucket is required with --s3-endpoint")
        credentials = S3Credentials(
            _read(args.s3_access_key_id_file, "--s3-access-key-id-file"), _read(args.s3_secret_access_key_file, "--s3-secret-access-key-file")
        )
        return S3Store(args.s3_endpoint, args.s3_bucket, args.s3_region, args.s3_prefix, credentials, args.s3_ca_file)
    if not getattr(args, "dest", None):
        raise BackupError("give a destination: --dest DIR or the --s3-* options")
    return DirectoryStore(args.dest)


def _store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where archives are (one of)")
    group.add_argument("--dest", help="a directory (volume); archives go to DEST/<target>/")
    group.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (path-style requests)")
    group.add_argument("--s3-bucket")
    group.add_argument("--s3-region", default="us-east-1")
    group.add_argument("--s3-prefix", default="", help="key prefix, e.g. the environment")
    group.add_argument("--s3-access-key-id-file")
    group.add_argument("--s3-secret-access-key-file")
    group.add_argument("--s3-ca-file", help="CA bundle for an endpoint with a private certificate")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    for kind in KINDS:
        command = commands.add_parser(kind, help=f"back up {kind}")
        command.set_defaults(kind=kind)
        command.add_argument("--target", required=True, help="what is backed up, e.g. prometheus-0 (a folder and a label)")
        command.add_argument("--data-dir", required=True, help="the service's data volume, as mounted here")
        command.add_argument("--keep", type=int, default=7, help="complete archives kept per target")
        command.add_argument("--pushgateway", help="Pushgateway URL that receives the result")
        if kind == "prometheus":
            command.add_argument("--url", required=True, help="the replica's URL (its own, never a load balancer), with the route prefix it serves under")
            command.add_argument("--user", required=True)
            command.add_argument("--password-file", required=True)
            command.add_argument("--ca-file", help="CA that issued Prometheus's certificate")
        _store_options(command)
    listing = commands.add_parser("list", help="list the complete archives of a target")
    listing.add_argument("--target", required=True)
    _store_options(listing)
    fetch = commands.add_parser("fetch", help="download an archive and its manifest from the store")
    fetch.add_argument("--target", required=True)
    fetch.add_argument("--archive", help="archive name (default: the newest complete one)")
    fetch.add_argument("--to", required=True, help="directory to download into")
    _store_options(fetch)
    unpack = commands.add_parser("restore", help="verify an archive and unpack it into a fresh directory")
    unpack.add_argument("archive", type=Path)
    unpack.add_argument("--into", required=True, type=Path)
    unpack.add_argument("--manifest", type=Path, help="default: the .json next to the archive")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "target", None) is not None and not TARGET_NAME.match(args.target):
        log(f"--target {args.target!r} must be lower-case letters, digits and '-', like prometheus-0")
        return EXIT_USAGE
    if args.command in KINDS:
        if args.keep < 1:
            log("--keep must be at least 1")
            return EXIT_USAGE
        return run_backup(args)
    try:
        if args.command == "restore":
            restore(args.archive, args.into, args.manifest)
            return EXIT_OK
        store = make_store(args)
        complete = complete_archives(store.names(args.target))
        if args.command == "list":
            for name in complete:
                manifest = store.read_manifest(args.target, name)
                print(f"{name}\t{manifest.get('created')}\t{manifest.get('size')} bytes\tsha256 {manifest.get('sha256')}")
            return EXIT_OK
        name = args.archive or (complete[-1] if complete else None)
        if name is None or name not in complete:
            raise BackupError(f"no complete archive {name or ''} of {args.target} in {store.describe()}")
        destination = Path(args.to)
        destination.mkdir(parents=True, exist_ok=True)
        store.download(args.target, name, destination / name)
        store.download(args.target, manifest_name(name), destination / manifest_name(name))
        print(destination / name)
        return EXIT_OK
    except (BackupError, OSError) as error:
        log(f"FAILED: {error}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
