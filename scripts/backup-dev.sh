#!/usr/bin/env bash
# Back up the dev stack (Docker) once: Prometheus (TSDB snapshot), Alertmanager (silences, notification
# log) and Grafana (its database), each as a restic snapshot (host <target>) in the stack's repository
# (the Docker volume ngx-backup-repository, or the bucket of backup.s3). `pulumi up` creates, per target,
# one container per step (stage, restic, report) and never starts them; this starts each target's
# steps in order, waits for each, and exits non-zero if any run failed. Every run pushes its result to
# the Pushgateway, so BackupTooOld/BackupFailed alert about dev as they do about prod.
#
#   scripts/backup-dev.sh          back up every target
#   scripts/backup-dev.sh check    the repository's retention (restic forget --prune) and restic check
#
# Docker has no scheduler: run both from the host's crontab, at backup.schedule and backup.checkSchedule
# (UTC), e.g.
#   0 3 * * *  /path/to/ngx-monitoring/scripts/backup-dev.sh >> /var/log/ngx-backup.log 2>&1
#   0 6 * * *  /path/to/ngx-monitoring/scripts/backup-dev.sh check >> /var/log/ngx-backup.log 2>&1
# Restores: docs/operations.md, "Restore".
set -euo pipefail

# The step containers carry these labels (components/docker/job.py); the check's run is "repository".
check_run=repository
steps_of() {
  docker ps --all --filter "label=ngx-monitoring/job-run=$1" --filter "label=app.kubernetes.io/instance=ngx-monitoring" \
    --format '{{.Label "ngx-monitoring/job-step"}} {{.Names}}' | sort | cut -d' ' -f2
}
all_runs=$(docker ps --all --filter "label=ngx-monitoring/job-step" --filter "label=app.kubernetes.io/instance=ngx-monitoring" \
  --format '{{.Label "ngx-monitoring/job-run"}}' | sort -u)
if [ -z "$all_runs" ]; then
  echo "backup-dev: no backup containers found; deploy the dev stack first (scripts/up.sh dev)" >&2
  exit 1
fi
if [ "${1:-}" = check ]; then
  runs=$check_run
else
  runs=$(printf '%s\n' $all_runs | grep -vx "$check_run")
fi

failed=()
for run in $runs; do
  echo "backup-dev: $run"
  # -a streams the step's log here and returns its exit status; the steps before the last record a
  # failure for the last one to report, so only the last one's status says whether the run failed
  # (3: backed up, but not reported). A step before the last that exits non-zero was killed or could
  # not start: the last step still runs, and reports the run as failed (the alerts see it).
  steps=$(steps_of "$run")
  if [ -z "$steps" ]; then
    failed+=("$run (no step containers: redeploy the dev stack, scripts/up.sh dev)")
    continue
  fi
  last=$(printf '%s\n' $steps | tail -n 1)
  for step in $steps; do
    if ! docker start -a "$step"; then
      failed+=("$step")
      if [ "$step" != "$last" ]; then
        docker start -a "$last" || failed+=("$last")
      fi
      break
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "backup-dev: failed: ${failed[*]} (docker logs <name> shows why)" >&2
  exit 1
fi
echo "backup-dev: done"
