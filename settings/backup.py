"""The backup section of the settings (`backup.*`): when backups run, the restic repository they go to,
and its retention and check. ops/backup.py and ops/restic-step.sh are what runs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from settings import validators as v
from settings.cron import cron
from settings.errors import SettingsError
from settings.schema import Secret, section, setting

# What restic 0.14's `check --read-data-subset` takes and reads afresh each time: a percentage of the packs
# (above 0, at most 100) or a size, both drawn at random. Its third form, n/t, reads the same group of
# packs every time, so a schedule of it would never verify the rest: not offered.
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_SIZE = re.compile(r"^[1-9]\d*[KMGT]$")


def read_data_subset(value: object, key: str) -> str:
    text = v.text(value, key)
    percent = _PERCENT.match(text)
    if (percent and 0 < float(percent.group(1)) <= 100) or _SIZE.match(text):
        return text
    raise SettingsError(key, f"{text!r} is not a restic --read-data-subset this stack uses; give a percentage above 0 and at most 100 (5%) or a size (500M)")


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = setting("endpoint", v.https_url, "S3-compatible endpoint (https), e.g. https://s3.eu-west-1.amazonaws.com.")
    bucket: str = setting("bucket", v.s3_bucket, "Bucket; the stack's restic repository is <environment>/ in it.")
    region: str = setting("region", v.text, "Region of the bucket (restic -o s3.region).", "us-east-1")
    access_key_id: str = setting("accessKeyId", v.text, "Access key ID allowed to put, list, get and delete objects in the bucket, nothing else.")
    secret_access_key: Secret = setting("secretAccessKey", v.text, "Secret access key of accessKeyId.", secret=True)


@dataclass(frozen=True)
class BackupSettings:
    schedule: str = setting(
        "schedule", cron, "When backups run: five-field cron in UTC (the CronJobs; on Docker, the host's crontab runs scripts/backup-dev.sh).", "0 3 * * *"
    )
    keep: int = setting(
        "keep",
        v.positive_int,
        "restic snapshots kept per backed-up target (restic forget --keep-last), applied by the repository check before it checks.",
        7,
    )
    target: str = setting(
        "target",
        v.one_of("pvc", "s3"),
        "Where the stack's restic repository is: pvc (one volume: a PersistentVolumeClaim, ReadWriteMany on Kubernetes; a Docker volume on dev) or s3 (backup.s3).",
        "pvc",
    )
    storage_size: str = setting(
        "storageSize",
        v.volume_size,
        "The repository volume (target pvc); must hold `keep` snapshots of up to prometheus.retentionSize per Prometheus replica before deduplication.",
        docker="60Gi",
        kubernetes="75Gi",
    )
    check_schedule: str = setting(
        "checkSchedule",
        cron,
        "When the repository's retention (restic forget --prune) and restic check run: five-field cron in UTC, away from backup.schedule.",
        "0 6 * * *",
    )
    check_read_data_subset: str = setting(
        "checkReadDataSubset",
        read_data_subset,
        "Share of the repository's data each check reads and verifies, drawn at random each time (restic check --read-data-subset): 5% or 500M.",
        "5%",
    )
    s3: S3Settings | None = section("s3", S3Settings, "S3-compatible bucket (target s3).", optional=True)


def repository_need_bytes(replicas: int, retention_size: str, retention_time: str, keep: int, schedule: str) -> int:
    """What the repository volume must hold for the Prometheus snapshots, before restic's compression.

    restic stores each TSDB block once, however many snapshots hold it (blocks are immutable), and
    every replica's blocks are its own. So each replica costs its live data once (up to retentionSize)
    plus the blocks its oldest kept snapshot still holds after retention deleted them: the data of the
    time the `keep` snapshots span (keep x the longest gap of the schedule), as a share of the retention
    time, and never more than keep - 1 further copies."""
    from settings.cron import longest_gap_seconds

    span = keep * longest_gap_seconds(schedule)
    extra = min(keep - 1, span / v.duration_seconds(retention_time))
    return int(replicas * v.prometheus_size_bytes(retention_size) * (1 + extra))
