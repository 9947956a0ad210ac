"""The parts of loki.yaml that follow from loki.storage and loki.replicas: schema periods, the object
store client, the ring and the credentials' files (pure; renderers/loki.py assembles the file).

Credentials never enter loki.yaml (a ConfigMap) or the command line. Loki 3.5's S3 client falls back
to the AWS SDK's default chain when `access_key_id` is unset, which reads the shared credentials file
named by AWS_SHARED_CREDENTIALS_FILE, or the web identity token that EKS injects; its GCS client uses
Google's default credentials, a key file named by GOOGLE_APPLICATION_CREDENTIALS or GKE's metadata
server. So a static key reaches Loki as a secret file, and workload identity needs nothing at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import addresses
from renderers import paths
from settings import Settings
from settings.loki import AZURE, FILESYSTEM, FIRST_PERIOD, GCS, S3, LokiStorageSettings
from topology import LOKI, SERVICES, clustered

# period_config.object_store names (Loki 3.5 reference: "aws (alias s3), azure, gcs, ... filesystem").
OBJECT_STORE_NAMES = {FILESYSTEM: "filesystem", S3: "s3", GCS: "gcs", AZURE: "azure"}
# storage_config block of each client.
CLIENT_BLOCKS = {S3: "aws", GCS: "gcs", AZURE: "azure"}
# Tables are one day long: compactor retention counts in days (renderers/loki.py).
INDEX_PERIOD = "24h"
# The files static credentials are mounted as, and the variable that points each SDK at its file.
S3_CREDENTIALS_FILE = paths.secret_file("loki-s3-credentials")
GCS_KEY_FILE = paths.secret_file("loki-gcs-key.json")
CREDENTIAL_FILE_ENV = {S3: ("AWS_SHARED_CREDENTIALS_FILE", S3_CREDENTIALS_FILE), GCS: ("GOOGLE_APPLICATION_CREDENTIALS", GCS_KEY_FILE)}


def _period(start: str, store: str) -> dict[str, Any]:
    return {"from": start, "store": "tsdb", "object_store": OBJECT_STORE_NAMES[store], "schema": "v13", "index": {"prefix": "index_", "period": INDEX_PERIOD}}


def schema_periods(storage: LokiStorageSettings) -> list[dict[str, Any]]:
    """One period on the chosen store; with `since`, the filesystem period before it stays, so the
    chunks already on the volume stay readable until retention has deleted them."""
    if storage.since is not None:
        return [_period(FIRST_PERIOD, FILESYSTEM), _period(storage.since, storage.type)]
    return [_period(FIRST_PERIOD, storage.type)]


def s3_endpoint(storage: LokiStorageSettings) -> str:
    """host[:port] of the S3 endpoint (Loki adds https:// itself while `insecure` is false)."""
    if storage.endpoint is None:
        return f"s3.{storage.region}.amazonaws.com"
    return urlparse(storage.endpoint).netloc


def client_config(storage: LokiStorageSettings) -> dict[str, Any]:
    """storage_config.<aws|gcs|azure> for the bucket; {} for filesystem."""
    if storage.type == S3:
        # Always TLS (endpoint is https); no keys here: the SDK reads them from its file (module docstring).
        return {
            CLIENT_BLOCKS[S3]: {
                "bucketnames": storage.bucket,
                "endpoint": s3_endpoint(storage),
                "region": storage.region,
                "s3forcepathstyle": storage.path_style,
                "insecure": False,
            }
        }
    if storage.type == GCS:
        return {CLIENT_BLOCKS[GCS]: {"bucket_name": storage.bucket}}
    if storage.type == AZURE:
        # Workload identity only (settings/loki.py says why): the token file AKS's webhook mounts.
        return {CLIENT_BLOCKS[AZURE]: {"account_name": storage.account_name, "container_name": storage.bucket, "use_federated_token": True}}
    return {}


def delete_request_store(storage: LokiStorageSettings) -> str:
    """Where the compactor keeps delete requests: the store of the newest period, the one retention
    keeps working on."""
    return OBJECT_STORE_NAMES[storage.type]


def ring(settings: Settings) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the common block's ring settings, the memberlist block or None)."""
    loki = settings.loki
    if not clustered(settings, LOKI):
        # A single process: the rings never leave memory, and the instance advertises loopback
        # instead of guessing a network interface (which fails on some container runtimes).
        return {"replication_factor": 1, "instance_addr": "127.0.0.1", "ring": {"kvstore": {"store": "inmemory"}}}, None
    port = SERVICES[LOKI].port("memberlist").number
    # The headless Service lists every replica, ready or not (publish_not_ready_addresses), so a
    # starting replica finds the ring before it is ready itself. Each replica advertises its pod IP
    # (Loki's default: the first private interface).
    headless = f"{addresses.headless(LOKI)}.{addresses.namespace(settings, LOKI)}.svc"
    common = {"replication_factor": loki.effective_replication_factor, "ring": {"kvstore": {"store": "memberlist"}}}
    return common, {"join_members": [f"dns+{headless}:{port}"], "bind_port": port}


def credential_files(storage: LokiStorageSettings) -> dict[str, str]:
    """In-container path -> file text of the static credentials (empty with workload identity). The
    values are revealed secrets: callers must wrap them in Output.secret at once."""
    if storage.type == S3 and storage.access_key_id is not None and storage.secret_access_key is not None:
        text = f"[default]\naws_access_key_id = {storage.access_key_id}\naws_secret_access_key = {storage.secret_access_key.reveal()}\n"
        return {S3_CREDENTIALS_FILE: text}
    if storage.type == GCS and storage.service_account_key is not None:
        return {GCS_KEY_FILE: storage.service_account_key.reveal()}
    return {}


def credential_env(storage: LokiStorageSettings) -> dict[str, str]:
    """Environment that points the SDK at its credential file (a path, never the credential)."""
    if not credential_files(storage):
        return {}
    name, path = CREDENTIAL_FILE_ENV[storage.type]
    return {name: path}
