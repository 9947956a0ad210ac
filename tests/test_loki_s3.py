"""Loki's S3 settings against a real S3 protocol endpoint (moto's server behind TLS, tests/s3_moto.py).

Loki itself cannot run here. What this proves: with exactly what the stack renders for Loki (the
`storage_config.aws` block: endpoint, region, path-style, bucket; the shared credentials file and the
variable that names it), an S3 client configured the way Loki's is (AWS SDK default credential chain,
https because `insecure` is false, path-style addressing from `s3forcepathstyle`) authenticates, and can
write, list, read and delete objects in Loki's layout: the TSDB index under `index/<table>/<tenant>/`
(tables named by the rendered prefix and day period) and chunks under `<tenant>/<fingerprint>/`.
A wrong secret in the file is refused, so the file really is what authenticates.

What it cannot prove: that Loki's Go SDK (aws-sdk-go v1) resolves the same file exactly as botocore
does (both follow AWS's documented shared-credentials format and variable), the contents Loki writes,
or its compactor's behaviour; nor an IAM policy, since moto checks API names rather than IAM actions.
"""

from __future__ import annotations

import time

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from renderers import loki, loki_storage
from settings import parse
from tests.s3_moto import BUCKET, REGION, MotoS3


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    yield server
    server.close()


def _settings(bucket, secret: str | None = None):
    storage = {
        "type": "s3",
        "bucket": BUCKET,
        "region": REGION,
        "endpoint": bucket.endpoint,
        "pathStyle": True,
        "accessKeyId": bucket.key_id,
        "secretAccessKey": secret or bucket.key_material,
    }
    return parse({"platform": "docker", "loki": {"storage": storage}}, stack="dev", secret_keys=["loki"])


def _loki_client(settings, tmp_path, monkeypatch, ca_file: str):
    """An S3 client configured from the rendered files only, as Loki's SDK configures itself."""
    aws = yaml.safe_load(loki.render_loki_config(settings))["storage_config"]["aws"]
    ((path, text),) = loki_storage.credential_files(settings.loki.storage).items()
    local = tmp_path / path.rsplit("/", 1)[1]
    local.write_text(text)
    ((variable, mounted),) = loki_storage.credential_env(settings.loki.storage).items()
    assert mounted == path
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(local))
    session = boto3.session.Session()  # the default chain: it finds the key in the shared credentials file
    return aws, session.client(
        "s3",
        endpoint_url=("http://" if aws["insecure"] else "https://") + aws["endpoint"],
        region_name=aws["region"],
        verify=ca_file,
        config=Config(s3={"addressing_style": "path" if aws["s3forcepathstyle"] else "virtual"}, retries={"max_attempts": 1}),
    )


def test_the_rendered_settings_write_and_list_lokis_layout_in_the_bucket(moto, tmp_path, monkeypatch):
    bucket = moto.fresh_bucket()
    settings = _settings(bucket)
    aws, client = _loki_client(settings, tmp_path, monkeypatch, bucket.ca_file)
    assert aws["bucketnames"] == BUCKET
    (period,) = yaml.safe_load(loki.render_loki_config(settings))["schema_config"]["configs"]
    day = int(time.time() // 86400)  # period 24h: one table per day since the epoch
    assert period["index"]["period"] == "24h"
    tenant = settings.loki.tenant
    index_key = f"index/{period['index']['prefix']}{day}/{tenant}/1700000000-ingester-0-1.tsdb.gz"
    chunk_key = f"{tenant}/1a2b3c4d5e6f7a8b/18bd0a3e000:18bd0b28600:5f3e2a1b"
    for key in (index_key, chunk_key, "index/delete_requests/delete_requests.gz"):
        client.put_object(Bucket=aws["bucketnames"], Key=key, Body=b"loki")
    listed = lambda prefix: [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]  # noqa: E731
    assert listed("index/") == sorted(["index/delete_requests/delete_requests.gz", index_key])
    assert listed(f"{tenant}/") == [chunk_key]
    assert client.get_object(Bucket=BUCKET, Key=chunk_key)["Body"].read() == b"loki"
    client.delete_object(Bucket=BUCKET, Key=chunk_key)  # what compactor retention does to an expired chunk
    assert bucket.keys(f"{tenant}/") == []


def test_a_wrong_secret_in_the_credentials_file_is_refused(moto, tmp_path, monkeypatch):
    bucket = moto.fresh_bucket()
    _, client = _loki_client(_settings(bucket, secret="not-the-secret"), tmp_path, monkeypatch, bucket.ca_file)
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        client.put_object(Bucket=BUCKET, Key="index/x", Body=b"x")
