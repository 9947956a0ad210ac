"""The backup plan as data: which runs there are and the timings every run is held to.

One run per thing whose data lives on one replica's volume: every Prometheus replica (each keeps its
own TSDB), and replica 0 of Alertmanager (silences and the notification log are gossiped to every
replica, so one copy is all of them) and of Grafana. Each run is a job of its own on both backends (a
CronJob on Kubernetes, a container started by scripts/backup-dev.sh on Docker), because on Kubernetes
a ReadWriteOnce claim can only be read on the node its replica runs on.

The alerts (alerting/meta.py) and the job specs (components/specs.py) read this plan; each run's
command line is rendered by renderers/backup.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from settings import Settings
from settings.cron import longest_gap_seconds
from topology import ALERTMANAGER, GRAFANA, PROMETHEUS

# A run the scheduler could not start within this long is skipped (and BackupTooOld waits for it).
START_DEADLINE_SECONDS = 15 * 60
# A run still going after this long is stopped and counts as failed: restic reads a full volume once and
# uploads only what the repository does not hold yet; the first run uploads everything.
RUN_DEADLINE_SECONDS = 2 * 3600
# Failed attempts retried within one scheduled run (a pod each, so every failure keeps its logs).
RETRIES = 2
# Finished jobs kept for `kubectl logs` (each keeps its pod).
HISTORY = 3
# The run that applies the repository's retention and checks it (on backup.checkSchedule): the target
# label of its result (ops/backup.py CHECK_TARGET) and the name of its CronJob / containers.
CHECK_RUN = "repository"
# The user restic runs as in every step, whatever the data's owner: the repository is written by one
# user only (the nobody of the Prometheus and Alertmanager images, which also owns their data).
RESTIC_UID = RESTIC_GID = 65534
# ops/backup.py exits with this when the backup is done but its result could not be pushed: retrying
# would only repeat the backup, so the job fails at once.
EXIT_UNREPORTED = 3
# The services backed up, and the kind of backup ops/backup.py makes of each.
KINDS = {PROMETHEUS: "prometheus", ALERTMANAGER: "alertmanager", GRAFANA: "grafana"}


@dataclass(frozen=True)
class BackupRun:
    target: str  # "prometheus-0": the pod a run reads from, its restic host (--host) and its metrics' label
    service: str
    replica: int
    # Prometheus: the run removes its snapshot from the data volume once restic has read it; Prometheus has
    # no API for that. Alertmanager and Grafana data are only read.
    writes_data: bool

    @property
    def kind(self) -> str:
        return KINDS[self.service]


def _replicas(settings: Settings, service: str) -> int:
    return settings.prometheus.replicas if service == PROMETHEUS else 1


def backup_runs(settings: Settings) -> list[BackupRun]:
    return [
        BackupRun(f"{service}-{replica}", service, replica, writes_data=service == PROMETHEUS)
        for service in KINDS
        for replica in range(_replicas(settings, service))
    ]


def targets(settings: Settings) -> list[str]:
    return [run.target for run in backup_runs(settings)]


def stale_after_seconds(settings: Settings) -> int:
    """How old the last good backup of a target may get before it is late: the longest gap the
    schedule leaves between two runs, plus the time a run may wait to start and then take."""
    return longest_gap_seconds(settings.backup.schedule) + START_DEADLINE_SECONDS + RUN_DEADLINE_SECONDS


def check_stale_after_seconds(settings: Settings) -> int:
    """As stale_after_seconds, for the repository's check on backup.checkSchedule."""
    return longest_gap_seconds(settings.backup.check_schedule) + START_DEADLINE_SECONDS + RUN_DEADLINE_SECONDS
