#!/usr/bin/env bash
# Back up the dev stack (Docker) once: Prometheus (TSDB snapshot), Alertmanager (silences, notification
# log) and Grafana (its database), each to its own Docker volume ngx-backup-<target> (or the bucket of
# backup.s3). `pulumi up` creates one container per target and never starts them; this starts each
# one, waits for it and exits non-zero if any failed. Every run pushes its result to the Pushgateway,
# so BackupTooOld/BackupFailed alert about dev as they do about prod.
#
# Docker has no scheduler: run this from the host's crontab at backup.schedule (UTC), e.g.
#   0 3 * * *  /path/to/ngx-monitoring/scripts/backup-dev.sh >> /var/log/ngx-backup.log 2>&1
# (`pulumi config get --path backup.schedule` prints the schedule). Restores: docs/operations.md, "Restore".
set -euo pipefail

# The run containers carry this label (components/docker/job.py); the first run is Prometheus's.
runs=$(docker ps --all --filter "label=ngx-monitoring/job-run" --filter "label=app.kubernetes.io/instance=ngx-monitoring" \
  --format '{{.Names}}' | sort)
if [ -z "$runs" ]; then
  echo "backup-dev: no backup containers found; deploy the dev stack first (scripts/up.sh dev)" >&2
  exit 1
fi

failed=()
for run in $runs; do
  echo "backup-dev: $run"
  # -a streams the run's log here and returns its exit status (3: backed up, but not reported).
  if ! docker start -a "$run"; then
    failed+=("$run")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "backup-dev: failed: ${failed[*]} (docker logs <name> shows why)" >&2
  exit 1
fi
echo "backup-dev: done"
