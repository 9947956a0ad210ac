"""A real S3 protocol endpoint for tests: moto's server (the WSGI application `moto_server` runs), in a
thread on 127.0.0.1, behind TLS with a certificate of a throwaway CA.

It authenticates every request (moto's IAM authentication, switched on through its /moto-api/reset-auth
endpoint): an unknown key ID gets InvalidAccessKeyId and a wrong signature SignatureDoesNotMatch, the
signature being recomputed by botocore's S3 signer inside moto. It enforces S3's rules the program must
follow, such as the 5 MiB minimum of every multipart part but the last (EntityTooSmall at completion).
Tests reach it only through its S3 and /moto-api/ HTTP endpoints, as they would a `moto_server` process.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from tests.certs import ThrowawayCA

REGION, BUCKET, USER = "eu-west-1", "ngx-backups", "ngx-backup"
# s3:* on the bucket only. Not the job's least privilege (docs/operations.md, "Where"): moto checks
# the API operation's name (s3:ListObjectsV2, s3:UploadPart) where IAM checks its action (s3:ListBucket,
# s3:PutObject), so a policy faithful to IAM would be refused here.
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args) -> None:
        pass


@dataclass
class Bucket:
    """An empty bucket and the key of an IAM user allowed POLICY on it; `client` (boto3) inspects it."""

    endpoint: str
    ca_file: str
    key_id: str
    key_material: str
    client: object

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def sha256(self, key: str) -> str:
        return hashlib.sha256(self.get(key)).hexdigest()

    def put(self, key: str, body: bytes = b"x") -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=body)

    def unfinished_uploads(self) -> list[str]:
        return [upload["Key"] for upload in self.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


class MotoS3:
    def __init__(self, workdir: Path) -> None:
        ca = ThrowawayCA(workdir)
        self.ca_file = str(workdir / "ca.crt")
        self.server = make_server(
            "127.0.0.1",
            0,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=ca.server_context("s3", ["localhost"], ["127.0.0.1"]),
        )
        self.endpoint = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _moto_api(self, path: str, body: bytes = b"") -> None:
        connection = http.client.HTTPSConnection(self.endpoint.removeprefix("https://"), timeout=30, context=ssl.create_default_context(cafile=self.ca_file))
        try:
            connection.request("POST", path, body=body)
            response = connection.getresponse()
            assert response.status == 200, (path, response.status, response.read())
            response.read()
        finally:
            connection.close()

    def _client(self, service: str, key_id: str = "AKIASETUP", key_material: str = "setup"):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            verify=self.ca_file,
            aws_access_key_id=key_id,
            aws_secret_access_key=key_material,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def fresh_bucket(self) -> Bucket:
        """Forget every bucket and user, then make the bucket and the user, then authenticate everything."""
        self._moto_api("/moto-api/reset-auth", b"inf")
        self._moto_api("/moto-api/reset")
        iam = self._client("iam")
        iam.create_user(UserName=USER)
        key = iam.create_access_key(UserName=USER)["AccessKey"]
        iam.put_user_policy(UserName=USER, PolicyName="backups", PolicyDocument=json.dumps(POLICY))
        self._client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        self._moto_api("/moto-api/reset-auth", b"0")
        return Bucket(self.endpoint, self.ca_file, key["AccessKeyId"], key["SecretAccessKey"], self._client("s3", key["AccessKeyId"], key["SecretAccessKey"]))

    def close(self) -> None:
        self._moto_api("/moto-api/reset-auth", b"inf")
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
