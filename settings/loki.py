"""Loki's settings: retention and volume, replicas and their ring, and where chunks and index live.

`storage.type` filesystem (the default) keeps everything on the pod's volume, as before; s3, gcs and
azure put the TSDB index and the chunks in a bucket, which is what lets Loki run more than one replica
(each replica's volume then only holds its WAL and caches). `check_loki` holds the cross-checks; every
refusal names the key and the fix on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from settings import validators as v
from settings.errors import SettingsError
from settings.schema import Secret, section, setting

# Google Cloud Storage's bucket names (dotted names may be longer; the stack does not need them).
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")

FILESYSTEM, S3, GCS, AZURE = "filesystem", "s3", "gcs", "azure"
STORAGE_TYPES = (FILESYSTEM, S3, GCS, AZURE)
# The annotation each cloud's workload identity reads from the ServiceAccount (its value is
# loki.storage.workloadIdentity): EKS IAM roles for service accounts, GKE Workload Identity, Azure
# AD Workload Identity. AKS also needs the pod label below before its webhook injects the token.
WORKLOAD_IDENTITY_ANNOTATIONS = {
    S3: "eks.amazonaws.com/role-arn",
    GCS: "iam.gke.io/gcp-service-account",
    AZURE: "azure.workload.identity/client-id",
}
AZURE_WORKLOAD_IDENTITY_LABEL = ("azure.workload.identity/use", "true")
# The first schema period of every stack (renderers/loki.py). A fixed date in the past keeps the file
# byte-identical on every run; a new period is only ever ADDED after it (loki.storage.since).
FIRST_PERIOD = "2024-01-01"
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
# Ingesters acknowledge a push once a quorum (RF/2 + 1) of the stream's replicas has it; more than 3
# copies only costs memory and object-store writes.
MAX_REPLICATION_FACTOR = 3


@dataclass(frozen=True)
class LokiStorageSettings:
    type: str = setting(
        "type",
        v.one_of(*STORAGE_TYPES),
        "Where the TSDB index and chunks live: filesystem (the data volume; one replica only), s3, gcs or azure (a bucket; required for replicas > 1).",
        FILESYSTEM,
    )
    bucket: str | None = setting("bucket", v.text, "Bucket (s3, gcs) or blob container (azure) that holds index/ and chunks; required unless filesystem.", None)
    endpoint: str | None = setting(
        "endpoint",
        v.https_url,
        "s3 only: https URL of an S3-compatible endpoint (MinIO, Ceph, R2); unset means AWS S3 in `region` (https://s3.<region>.amazonaws.com).",
        None,
    )
    region: str | None = setting("region", v.text, "s3 only: region requests are signed for (AWS Signature V4); required with s3.", None)
    path_style: bool = setting(
        "pathStyle", v.flag, "s3 only: path-style requests (https://endpoint/bucket/key), which MinIO and most S3-compatible stores need.", False
    )
    access_key_id: str | None = setting(
        "accessKeyId", v.text, "s3 only: access key ID allowed to get, put, list and delete objects in `bucket`; not with workloadIdentity.", None
    )
    secret_access_key: Secret | None = setting("secretAccessKey", v.text, "s3 only: secret access key of accessKeyId.", None, secret=True)
    service_account_key: Secret | None = setting(
        "serviceAccountKey",
        v.text,
        "gcs only: JSON key of a Google service account with roles/storage.objectAdmin on `bucket`; not with workloadIdentity.",
        None,
        secret=True,
    )
    account_name: str | None = setting("accountName", v.text, "azure only: storage account that holds the `bucket` container; required with azure.", None)
    workload_identity: str | None = setting(
        "workloadIdentity",
        v.text,
        "Kubernetes only, instead of static credentials: the cloud identity Loki's ServiceAccount is bound to, written to its annotation "
        "(s3: IAM role ARN, eks.amazonaws.com/role-arn; gcs: service account e-mail, iam.gke.io/gcp-service-account; "
        "azure: managed identity client ID, azure.workload.identity/client-id). The only credential azure accepts.",
        None,
    )

    since: str | None = setting(
        "since",
        lambda value, key: _day(value, key),
        "First day (YYYY-MM-DD, UTC) the bucket is used, for a stack that already has logs on its volume: a new schema period starts that day "
        "and the filesystem period before it stays readable until retention removes it (docs/operations.md). Unset: the bucket holds every period.",
        None,
    )

    @property
    def object_store(self) -> bool:
        return self.type != FILESYSTEM


@dataclass(frozen=True)
class LokiSettings:
    retention: str = setting("retention", v.duration, "Log retention enforced by the compactor.", docker="168h", kubernetes="720h")
    storage_size: str = setting(
        "storageSize",
        v.volume_size,
        "Size of each replica's data volume (everything with filesystem storage; WAL and caches otherwise).",
        docker="10Gi",
        kubernetes="50Gi",
    )
    tenant: str = setting("tenant", v.k8s_name, "Loki tenant (X-Scope-OrgID) the stack writes and reads.", "ngx")
    replicas: int = setting(
        "replicas", v.positive_int, "Loki replicas (Kubernetes, object storage only), joined in a memberlist ring; the Docker stack runs one.", 1
    )
    replication_factor: int | None = setting(
        "replicationFactor",
        v.positive_int,
        f"Copies of each stream the ingesters keep (a push needs a quorum of them); at most replicas; unset means min(replicas, {MAX_REPLICATION_FACTOR}).",
        None,
    )
    zone_aware: bool = setting(
        "zoneAware",
        v.flag,
        "Spread replicas evenly across zones (topology.kubernetes.io/zone) as well as nodes; with replicationFactor equal to replicas every zone then holds every stream.",
        False,
    )
    storage: LokiStorageSettings = section("storage", LokiStorageSettings, "Where Loki keeps its index and chunks.")

    @property
    def effective_replication_factor(self) -> int:
        return self.replication_factor if self.replication_factor is not None else min(self.replicas, MAX_REPLICATION_FACTOR)


_ONLY_FOR = {
    "endpoint": (S3,),
    "region": (S3,),
    "accessKeyId": (S3,),
    "secretAccessKey": (S3,),
    "serviceAccountKey": (GCS,),
    "accountName": (AZURE,),
}


def _day(value: object, key: str) -> str:
    day = v.text(value, key)
    if not _DATE.match(day) or day <= FIRST_PERIOD:
        raise SettingsError(key, f"{value!r} is not a day after {FIRST_PERIOD}; write it as YYYY-MM-DD, a day in the future (UTC) when you switch")
    return day


def check_loki(loki: LokiSettings, platform: str) -> None:
    """Cross-checks of the loki section (settings.parse calls it after every value is valid)."""
    storage = loki.storage
    key = "loki.storage"
    given = {
        "endpoint": storage.endpoint,
        "region": storage.region,
        "accessKeyId": storage.access_key_id,
        "secretAccessKey": storage.secret_access_key,
        "serviceAccountKey": storage.service_account_key,
        "accountName": storage.account_name,
    }
    for name, types in _ONLY_FOR.items():
        if given[name] is not None and storage.type not in types:
            raise SettingsError(f"{key}.{name}", f"applies only to loki.storage.type {' or '.join(types)}, not {storage.type}; unset it")
    if storage.type == FILESYSTEM:
        for name, value in (("bucket", storage.bucket), ("workloadIdentity", storage.workload_identity), ("since", storage.since)):
            if value is not None:
                raise SettingsError(f"{key}.{name}", "is set, but loki.storage.type is filesystem; set loki.storage.type to s3, gcs or azure, or unset it")
        if loki.replicas > 1:
            raise SettingsError(
                "loki.replicas",
                f"is {loki.replicas}, but filesystem storage lives on one pod's volume that other replicas cannot read; "
                "set loki.storage.type to s3, gcs or azure (docs/operations.md says how to migrate), or set loki.replicas to 1",
            )
    else:
        _check_object_store(storage, platform)
        if storage.since is not None and loki.replicas > 1:
            raise SettingsError(
                "loki.replicas",
                f"is {loki.replicas} while loki.storage.since keeps a filesystem period on one pod's volume; stay at 1 replica until "
                "since plus loki.retention has passed, then unset loki.storage.since and raise loki.replicas",
            )
    if platform == "docker" and loki.replicas != 1:
        raise SettingsError("loki.replicas", f"is {loki.replicas}, but a Docker stack runs one replica per service; set it to 1 or use platform kubernetes")
    if loki.effective_replication_factor > loki.replicas:
        raise SettingsError("loki.replicationFactor", f"is {loki.replication_factor}, more than loki.replicas {loki.replicas}; lower it or raise loki.replicas")
    if loki.zone_aware and platform != "kubernetes":
        raise SettingsError("loki.zoneAware", "applies only on platform kubernetes (Docker has no zones); unset it")


def _check_object_store(storage: LokiStorageSettings, platform: str) -> None:
    key = "loki.storage"
    kind = storage.type
    if storage.bucket is None:
        raise SettingsError(f"{key}.bucket", f"is required with loki.storage.type {kind}; set the bucket (azure: the blob container) Loki writes to")
    if kind == S3:
        v.s3_bucket(storage.bucket, f"{key}.bucket")
    elif kind == GCS and not _GCS_BUCKET.match(storage.bucket):
        raise SettingsError(
            f"{key}.bucket",
            f"{storage.bucket!r} is not a GCS bucket name: 3-63 lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
        )
    if storage.workload_identity is not None and platform != "kubernetes":
        raise SettingsError(
            f"{key}.workloadIdentity", "applies only on platform kubernetes (a Docker container has no cloud identity); give static credentials"
        )
    static = {S3: storage.access_key_id or storage.secret_access_key, GCS: storage.service_account_key, AZURE: None}[kind]
    if kind == S3:
        if storage.region is None:
            raise SettingsError(
                f"{key}.region", "is required with loki.storage.type s3; set the region the bucket is in (us-east-1 for most S3-compatible stores)"
            )
        if (storage.access_key_id is None) != (storage.secret_access_key is None):
            missing = "secretAccessKey" if storage.secret_access_key is None else "accessKeyId"
            raise SettingsError(f"{key}.{missing}", "is required when the other half of the S3 key pair is set; set both, or neither with workloadIdentity")
        if storage.endpoint is not None and urlparse(storage.endpoint).path not in ("", "/"):
            raise SettingsError(f"{key}.endpoint", f"{storage.endpoint!r} has a path; give the endpoint alone (the bucket goes in loki.storage.bucket)")
    if kind == AZURE and storage.account_name is None:
        raise SettingsError(f"{key}.accountName", "is required with loki.storage.type azure; set the storage account that holds the container")
    if static and storage.workload_identity is not None:
        raise SettingsError(f"{key}.workloadIdentity", "and static credentials are both set; keep one (workload identity needs no stored secret)")
    if not static and storage.workload_identity is None:
        fix = {
            S3: "set loki.storage.accessKeyId and (with --secret) secretAccessKey, or loki.storage.workloadIdentity to an IAM role ARN",
            GCS: "set loki.storage.serviceAccountKey (with --secret) or loki.storage.workloadIdentity to a Google service account e-mail",
            # Loki 3.5 reads an Azure account key only from its config text or an expanded environment
            # variable; the stack keeps credentials out of both, so Azure goes through workload identity.
            AZURE: "set loki.storage.workloadIdentity to the client ID of a managed identity with Storage Blob Data Contributor on the container (AKS workload identity)",
        }[kind]
        raise SettingsError(f"{key}.workloadIdentity", f"is required: loki.storage.type {kind} has no credentials; {fix}")


def object_store_port(storage: LokiStorageSettings) -> int:
    """The TCP port Loki reaches the object store on (HTTPS: 443 unless the endpoint names one)."""
    if storage.type == S3 and storage.endpoint is not None:
        return urlparse(storage.endpoint).port or 443
    return 443
