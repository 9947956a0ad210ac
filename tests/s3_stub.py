"""Enough of S3 for ops/backup.py, as a `respond` function for tests/http_stub.StubServer: single PUT,
multipart upload, list (v2, two keys a page), get, delete. It checks every request's payload hash and
AWS Signature V4 with the program's own signer (itself checked against AWS's published examples in
tests/test_backup.py) and refuses any that does not match."""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from ops import backup as program
from tests.http_stub import Recorded, StubServer

KEY_ID, KEY_MATERIAL, REGION, BUCKET = "AKIDSTUB", "stub/key+material", "eu-test-1", "ngx-backups"


@dataclass
class S3Stub:
    """Enough of S3 for the program: single PUT, multipart upload, list (v2), get, delete. It refuses
    any request whose payload hash or signature does not match what it received."""

    objects: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, dict[int, bytes]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    server: StubServer | None = None  # the server it answers for (set by the test's fixture)

    def respond(self, request: Recorded):
        split = urllib.parse.urlsplit(request.path)
        path = urllib.parse.unquote(split.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        payload = hashlib.sha256(request.body).hexdigest()
        signed_names = re.search(r"SignedHeaders=([^,]+)", request.headers.get("authorization", ""))
        if request.headers.get("x-amz-content-sha256") != payload or not signed_names:
            self.rejected.append(f"{request.method} {path}: payload hash")
            return 400, {}, b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>"
        signed = {name: request.headers[name] for name in signed_names.group(1).split(";")}
        expected = program.sigv4_authorization(request.method, path, query, signed, payload,
                                               program.S3Credentials(KEY_ID, KEY_MATERIAL), REGION, request.headers["x-amz-date"])
        if request.headers["authorization"] != expected:
            self.rejected.append(f"{request.method} {path}: signature")
            return 403, {}, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
        bucket, _, key = path.lstrip("/").partition("/")
        if bucket != BUCKET:
            return 404, {}, b"<Error><Code>NoSuchBucket</Code></Error>"
        if request.method == "PUT" and "uploadId" in query:
            self.uploads[query["uploadId"]][int(query["partNumber"])] = request.body
            return 200, {"ETag": f'"{hashlib.md5(request.body).hexdigest()}"'}, b""
        if request.method == "PUT":
            self.objects[key] = request.body
            return 200, {"ETag": '"x"'}, b""
        if request.method == "POST" and "uploads" in query:
            upload = f"upload-{len(self.uploads) + 1}"
            self.uploads[upload] = {}
            return 200, {}, (f'<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                             f"<Bucket>{BUCKET}</Bucket><Key>{escape(key)}</Key><UploadId>{upload}</UploadId>"
                             "</InitiateMultipartUploadResult>").encode()
        if request.method == "POST" and "uploadId" in query:
            parts = self.uploads.pop(query["uploadId"])
            listed = [int(number) for number in re.findall(rb"<PartNumber>(\d+)</PartNumber>", request.body)]
            assert listed == sorted(parts), (listed, sorted(parts))
            self.objects[key] = b"".join(parts[number] for number in listed)
            return 200, {}, b'<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
        if request.method == "DELETE" and "uploadId" in query:
            self.uploads.pop(query["uploadId"], None)
            return 204, {}, b""
        if request.method == "DELETE":
            self.objects.pop(key, None)
            return 204, {}, b""
        if request.method == "GET" and query.get("list-type") == "2":
            keys = sorted(k for k in self.objects if k.startswith(query.get("prefix", "")))
            # Two keys per page, so the program must follow continuation tokens.
            start = int(query.get("continuation-token", "0"))
            page, following = keys[start:start + 2], start + 2
            contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{len(self.objects[k])}</Size></Contents>" for k in page)
            more = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{following}</NextContinuationToken>" \
                if following < len(keys) else "<IsTruncated>false</IsTruncated>"
            return 200, {}, f'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{contents}{more}</ListBucketResult>'.encode()
        if request.method == "GET" and key in self.objects:
            return 200, {}, self.objects[key]
        return 404, {}, b"<Error><Code>NoSuchKey</Code></Error>"
