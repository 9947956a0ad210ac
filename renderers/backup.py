"""The backup steps' files and command lines (the plan of runs is backup_plan.py).

Two programs run: ops/backup.py (ours: the snapshot, the SQLite copy, the snapshot's removal, the
result metrics) in the Python image, and ops/restic-step.sh (restic backup; retention and check) in
restic's image, each delivered as a rendered file, so what runs in the stack is exactly what
tests/test_backup.py and tests/live/test_restore.py test.
"""

from __future__ import annotations

from pathlib import Path

import addresses
from backup_plan import BackupRun
from renderers import auth, paths
from settings import Settings
from topology import BACKUP, PROMETHEUS, PUSHGATEWAY

OPS = Path(__file__).resolve().parent.parent / "ops"
PROGRAM_FILE = "backup.py"
STEP_FILE = "restic-step.sh"
PROGRAM_PATH = paths.config_path(BACKUP, PROGRAM_FILE)
STEP_PATH = paths.config_path(BACKUP, STEP_FILE)
# The scratch directory a run's steps share (an emptyDir; a volume on Docker).
STAGE_DIR = "/stage"
# Where the repository volume is mounted in the restic steps (target pvc).
REPOSITORY_DIR = "/repository"
PASSWORD_FILE = paths.secret_file("restic-password")
# An AWS shared credentials file: restic (minio-go) reads it through AWS_SHARED_CREDENTIALS_FILE, so the
# key reaches the container as a file, never as an environment variable.
S3_CREDENTIALS_FILE = paths.secret_file("s3-credentials")
S3_CREDENTIALS_ENV = "AWS_SHARED_CREDENTIALS_FILE"


def render_backup_program() -> str:
    return (OPS / PROGRAM_FILE).read_text()


def render_restic_step() -> str:
    return (OPS / STEP_FILE).read_text()


def render_s3_credentials(key_id: str, secret_key: str) -> str:
    return f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n"


def repository(settings: Settings) -> str:
    """restic's repository string: one repository per stack."""
    if settings.backup.target == "pvc":
        return REPOSITORY_DIR
    s3 = settings.backup.s3
    return f"s3:{s3.endpoint.rstrip('/')}/{s3.bucket}/{settings.environment}"


def restic_options(settings: Settings) -> tuple[str, ...]:
    """restic's global options in every restic step (and in the restore procedures)."""
    options = ("-r", repository(settings), f"--password-file={PASSWORD_FILE}", "--no-cache")
    if settings.backup.target == "s3":
        options += ("-o", f"s3.region={settings.backup.s3.region}")
    return options


def restic_env(settings: Settings) -> dict[str, str]:
    return {S3_CREDENTIALS_ENV: S3_CREDENTIALS_FILE} if settings.backup.target == "s3" else {}


def _python(*args: str) -> tuple[str, ...]:
    return ("python3", "-I", "-B", PROGRAM_PATH, *args)


def _source_args(settings: Settings, run: BackupRun) -> list[str]:
    if run.service != PROMETHEUS:
        return []
    # The replica itself, by its stable name: a load-balanced name could snapshot another replica
    # than the one whose volume this run reads.
    host = addresses.replica_hosts(settings, PROMETHEUS)[run.replica]
    return [
        f"--url={addresses.base_url(settings, PROMETHEUS, on_host=host)}",
        f"--user={auth.BACKUP_USER}",
        f"--password-file={paths.password_file(auth.BACKUP_USER)}",
        f"--ca-file={paths.TLS_CA}",
    ]


def stage_args(settings: Settings, run: BackupRun) -> tuple[str, ...]:
    """Step 1 (Python image): the snapshot or copy."""
    data = f"--data-dir={paths.DATA_DIRS[run.service]}"
    return _python("stage", run.kind, f"--target={run.target}", data, f"--stage={STAGE_DIR}", *_source_args(settings, run))


def restic_backup_args(settings: Settings, run: BackupRun) -> tuple[str, ...]:
    """Step 2 (restic image): restic backup of what step 1 staged."""
    return ("sh", STEP_PATH, "backup", STAGE_DIR, run.target, "--", *restic_options(settings))


def report_args(settings: Settings, run: BackupRun) -> tuple[str, ...]:
    """Step 3 (Python image): the snapshot's removal and the result."""
    data = f"--data-dir={paths.DATA_DIRS[run.service]}"
    return _python("report", f"--target={run.target}", data, f"--stage={STAGE_DIR}", f"--pushgateway={addresses.url(settings, PUSHGATEWAY)}")


def check_restic_args(settings: Settings) -> tuple[str, ...]:
    """The check's restic step: retention, then restic check of a share of the data."""
    b = settings.backup
    return ("sh", STEP_PATH, "check", STAGE_DIR, str(b.keep), b.check_read_data_subset, "--", *restic_options(settings))


def check_report_args(settings: Settings) -> tuple[str, ...]:
    return _python("report-check", f"--stage={STAGE_DIR}", f"--pushgateway={addresses.url(settings, PUSHGATEWAY)}")
