#!/bin/sh
# The restic step of the backups, run in restic's image (POSIX sh: the image's busybox). ops/backup.py
# says where it sits; the stack delivers it as a rendered file (renderers/backup.py).
#
#   restic-step.sh backup STAGE TARGET -- RESTIC-GLOBAL-OPTIONS...
#       `restic backup` of the directory named in STAGE/source, as host TARGET.
#   restic-step.sh check STAGE KEEP SUBSET -- RESTIC-GLOBAL-OPTIONS...
#       `restic forget --group-by host --keep-last KEEP --prune`, then `restic check --read-data-subset=SUBSET`.
#
# Both first make sure the repository exists: `restic init` only where restic's answer says the
# repository's config is not there (no such file; no such key). Any other answer (a wrong password:
# "wrong password or no key found", an unreachable or damaged repository) fails the step: an existing repository is never initialised again.
#
# It never exits non-zero once it has started: its result goes to STAGE/restic.status (0, or 1 with the
# one-line cause in STAGE/restic.error) for the report step, which pushes it (on Kubernetes a failed init
# container would end the pod before the report ran). restic's own output goes to the log as it comes.
set -u
if [ $# -lt 3 ]; then echo "usage: restic-step.sh backup STAGE TARGET -- OPTIONS | check STAGE KEEP SUBSET -- OPTIONS" >&2; exit 2; fi
mode=$1
stage=$(cd "$2" && pwd) || exit 2  # absolute: the backup runs from inside the staged directory
shift 2
case $mode in
  backup) who=$1; shift ;;
  check) [ $# -ge 2 ] || { echo "usage: restic-step.sh check STAGE KEEP SUBSET -- OPTIONS" >&2; exit 2; }; who=repository keep=$1 subset=$2; shift 2 ;;
  *) echo "restic-step.sh: unknown mode $mode" >&2; exit 2 ;;
esac
if [ "${1:-}" = "--" ]; then shift; fi
# restic 0.14 has no --retry-lock: a step that finds the repository locked (the check's exclusive lock,
# or a backup's while the check starts) waits and tries again, up to LOCK_TRIES times LOCK_WAIT seconds.
LOCK_TRIES=${LOCK_TRIES:-40}
LOCK_WAIT=${LOCK_WAIT:-30}
errors=$stage/restic.stderr

say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) backup: $who restic: $*" >&2; }
last_error() { grep -v '^[[:space:]]*$' "$errors" | grep -v '^Is there a repository' | tail -n 1 | sed 's/^Fatal: //'; }
finish() {
  if [ "$1" = 0 ]; then say "ok"; else say "FAILED: $2"; printf '%s\n' "$2" > "$stage/restic.error"; fi
  echo "$1" > "$stage/restic.status"
  exit 0
}
# restic "$@", its stderr kept in $errors and copied to the log; retried while the repository is locked.
run_restic() {
  tries=0
  while :; do
    restic "$@" 2> "$errors"
    rc=$?
    cat "$errors" >&2
    if [ "$rc" -ne 0 ] && grep -q "repository is already locked" "$errors" && [ "$tries" -lt "$LOCK_TRIES" ]; then
      tries=$((tries + 1))
      say "the repository is locked by another run; trying again in $LOCK_WAIT s ($tries/$LOCK_TRIES)"
      sleep "$LOCK_WAIT"
      continue
    fi
    return "$rc"
  done
}

rm -f "$stage/restic.status" "$stage/restic.error" "$stage/restic.summary.json" "$stage/init.stderr"
date +%s > "$stage/restic.started"
if [ "$mode" = backup ] && [ ! -s "$stage/source" ]; then
  say "skipped: nothing was staged (the report step says why)"
  finish 1 "nothing was staged"
fi

# The repository: opened, or created where there is none. restic 0.14 asks "Is there a repository at
# the following location?" after any failure to read `config` (a refused connection, a denied request),
# so only a config that is really not there (a file: no such file; S3: no such key) leads to init.
if ! run_restic "$@" cat config > /dev/null; then
  if grep -Eq "unable to open config file: .*(no such file or directory|The specified key does not exist|NoSuchKey)" "$errors"; then
    say "no repository yet: restic init"
    if ! run_restic "$@" init > /dev/null; then
      cp "$errors" "$stage/init.stderr"
      # Another run may have created it meanwhile: then it opens now, with our password or not at all.
      if ! run_restic "$@" cat config > /dev/null; then
        cp "$stage/init.stderr" "$errors"
        finish 1 "restic init: $(last_error)"
      fi
    fi
  else
    finish 1 "cannot open the repository: $(last_error)"
  fi
fi
# A run killed mid-way (deadline, OOM, node drain) leaves its lock, and restic 0.14 waits on it for good:
# `unlock` (without --remove-all) removes only locks that are stale (a dead process, or over 30 minutes
# unrefreshed; a live restic refreshes its lock every 5 minutes).
run_restic "$@" unlock > /dev/null || finish 1 "restic unlock: $(last_error)"

if [ "$mode" = backup ]; then
  source=$(cat "$stage/source")
  # Backed up as "." from inside it: the snapshot holds the files at its root, whatever the directory's name.
  cd "$source" || finish 1 "cannot enter $source"
  run_restic "$@" backup --json --quiet --host "$who" --tag ngx-backup . > "$stage/restic.out" || finish 1 "restic backup: $(last_error)"
  grep '"message_type":"summary"' "$stage/restic.out" | tail -n 1 > "$stage/restic.summary.json"
  finish 0
fi

run_restic "$@" forget --group-by host --keep-last "$keep" --prune > /dev/null || finish 1 "restic forget: $(last_error)"
run_restic "$@" check --read-data-subset="$subset" > /dev/null || finish 1 "restic check: $(last_error)"
finish 0
