"""The backup program and each run's command line (the plan of runs is backup_plan.py).

The program the runs execute is ops/backup.py itself, delivered as a rendered file, so what runs in
the stack is exactly what tests/test_backup.py and tests/live/test_restore.py test.
"""

from __future__ import annotations

from pathlib import Path

import addresses
from backup_plan import BackupRun
from renderers import auth, paths
from settings import Settings
from topology import BACKUP, PROMETHEUS, PUSHGATEWAY

PROGRAM_SOURCE = Path(__file__).resolve().parent.parent / "ops" / "backup.py"
PROGRAM_FILE = "backup.py"
PROGRAM_PATH = paths.config_path(BACKUP, PROGRAM_FILE)
# Where a run's archive volume is mounted (target pvc).
ARCHIVE_DIR = "/backups"
S3_KEY_ID_FILE = paths.secret_file("s3-access-key-id")
S3_KEY_FILE = paths.secret_file("s3-secret-access-key")


def render_backup_program() -> str:
    return PROGRAM_SOURCE.read_text()


def _store_args(settings: Settings) -> list[str]:
    if settings.backup.target == "pvc":
        return [f"--dest={ARCHIVE_DIR}"]
    s3 = settings.backup.s3
    return [
        f"--s3-endpoint={s3.endpoint}",
        f"--s3-bucket={s3.bucket}",
        f"--s3-region={s3.region}",
        f"--s3-prefix={settings.environment}",
        f"--s3-access-key-id-file={S3_KEY_ID_FILE}",
        f"--s3-secret-access-key-file={S3_KEY_FILE}",
    ]


def _source_args(settings: Settings, service: str, replica: int) -> list[str]:
    if service != PROMETHEUS:
        return []
    # The replica itself, by its stable name: a load-balanced name could snapshot another replica
    # than the one whose volume this run reads.
    host = addresses.replica_hosts(settings, PROMETHEUS)[replica]
    return [
        f"--url={addresses.base_url(settings, PROMETHEUS, on_host=host)}",
        f"--user={auth.BACKUP_USER}",
        f"--password-file={paths.password_file(auth.BACKUP_USER)}",
        f"--ca-file={paths.TLS_CA}",
    ]


def run_args(settings: Settings, run: BackupRun) -> tuple[str, ...]:
    """The whole command line of one run."""
    return (
        "python3",
        "-I",
        "-B",
        PROGRAM_PATH,
        run.kind,
        f"--target={run.target}",
        f"--data-dir={paths.DATA_DIRS[run.service]}",
        f"--keep={settings.backup.keep}",
        f"--pushgateway={addresses.url(settings, PUSHGATEWAY)}",
        *_source_args(settings, run.service, run.replica),
        *_store_args(settings),
    )
