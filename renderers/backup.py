"""The backup jobs as data: which runs there are, each one's command line, and their timings.

One run per thing whose data lives on one replica's volume: every Prometheus replica (each keeps its
own TSDB), and replica 0 of Alertmanager (silences and the notification log are gossiped to every
replica, so one copy is all of them) and of Grafana. Each run is a job of its own on both backends (a
CronJob on Kubernetes, a container started by scripts/backup-dev.sh on Docker), because on Kubernetes
a ReadWriteOnce claim can only be read on the node its replica runs on.

The program the runs execute is ops/backup.py itself, delivered as a rendered file, so what runs in
the stack is exactly what tests/test_backup.py and tests/live/test_restore.py test.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import addresses
from renderers import auth, paths
from settings import Settings
from settings.cron import longest_gap_seconds
from topology import ALERTMANAGER, BACKUP, GRAFANA, PROMETHEUS, PUSHGATEWAY, SERVICES

PROGRAM_SOURCE = Path(__file__).resolve().parent.parent / "ops" / "backup.py"
PROGRAM_FILE = "backup.py"
PROGRAM_PATH = paths.config_path(BACKUP, PROGRAM_FILE)
# Where a run's archive volume is mounted (target pvc).
ARCHIVE_DIR = "/backups"
S3_KEY_ID_FILE = paths.secret_file("s3-access-key-id")
S3_KEY_FILE = paths.secret_file("s3-secret-access-key")

# A run the scheduler could not start within this long is skipped (and BackupTooOld waits for it).
START_DEADLINE_SECONDS = 15 * 60
# A run still going after this long is stopped and counts as failed; a snapshot of a full volume is
# archived in minutes (it is read and gzip'd once, at level 1).
RUN_DEADLINE_SECONDS = 2 * 3600
# Failed attempts retried within one scheduled run (a pod each, so every failure keeps its logs).
RETRIES = 2
# Finished jobs kept for `kubectl logs` (each keeps its pod).
HISTORY = 3
# ops/backup.py exits with this when the backup is done but its result could not be pushed: retrying
# would only repeat the backup, so the job fails at once.
EXIT_UNREPORTED = 3
KINDS = {PROMETHEUS: "prometheus", ALERTMANAGER: "alertmanager", GRAFANA: "grafana"}


@dataclass(frozen=True)
class BackupRun:
    target: str  # "prometheus-0": the pod a run reads from, its archives' folder and its metrics' label
    service: str
    replica: int
    args: tuple[str, ...]  # the whole command line
    # Prometheus: the run removes its snapshot from the data volume after archiving it; Prometheus has
    # no API for that. Alertmanager and Grafana data are only read.
    writes_data: bool


def render_backup_program() -> str:
    return PROGRAM_SOURCE.read_text()


def _replicas(settings: Settings, service: str) -> int:
    return settings.prometheus.replicas if service == PROMETHEUS else 1


def _store_args(settings: Settings) -> list[str]:
    if settings.backup.target == "pvc":
        return [f"--dest={ARCHIVE_DIR}"]
    s3 = settings.backup.s3
    return [f"--s3-endpoint={s3.endpoint}", f"--s3-bucket={s3.bucket}", f"--s3-region={s3.region}",
            f"--s3-prefix={settings.environment}", f"--s3-access-key-id-file={S3_KEY_ID_FILE}",
            f"--s3-secret-access-key-file={S3_KEY_FILE}"]


def _source_args(settings: Settings, service: str, replica: int) -> list[str]:
    if service != PROMETHEUS:
        return []
    # The replica itself, by its stable name: a load-balanced name could snapshot another replica
    # than the one whose volume this run reads.
    host = addresses.replica_hosts(settings, PROMETHEUS)[replica]
    return [f"--url=https://{host}:{SERVICES[PROMETHEUS].port('web').number}", f"--user={auth.BACKUP_USER}",
            f"--password-file={paths.password_file(auth.BACKUP_USER)}", f"--ca-file={paths.TLS_CA}"]


def backup_runs(settings: Settings) -> list[BackupRun]:
    runs = []
    for service, kind in KINDS.items():
        for replica in range(_replicas(settings, service)):
            target = f"{service}-{replica}"
            args = ["python3", "-I", "-B", PROGRAM_PATH, kind, f"--target={target}",
                    f"--data-dir={paths.DATA_DIRS[service]}", f"--keep={settings.backup.keep}",
                    f"--pushgateway={addresses.url(settings, PUSHGATEWAY)}",
                    *_source_args(settings, service, replica), *_store_args(settings)]
            runs.append(BackupRun(target, service, replica, tuple(args), writes_data=service == PROMETHEUS))
    return runs


def targets(settings: Settings) -> list[str]:
    return [run.target for run in backup_runs(settings)]


def stale_after_seconds(settings: Settings) -> int:
    """How old the last good backup of a target may get before it is late: the longest gap the
    schedule leaves between two runs, plus the time a run may wait to start and then take."""
    return longest_gap_seconds(settings.backup.schedule) + START_DEADLINE_SECONDS + RUN_DEADLINE_SECONDS
