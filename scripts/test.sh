#!/usr/bin/env bash
# The test command: sets everything up (idempotent) and runs every test. Extra arguments go to one
# pytest run instead (e.g. `scripts/test.sh -m "not slow"` for the quick ones, `scripts/test.sh tests/live`).
#
# Without arguments the suite runs as two pytest runs side by side: the live scenarios (marker `live`;
# in order, in one process, since they share its live stack) mostly wait on rendered intervals while
# the others compute in two xdist workers, a test file to a worker at a time (--dist loadfile: a file's
# module fixtures, such as the promtool runs, are built once). The live run's output follows the
# others'; the exit status is non-zero when either failed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -gt 0 ]; then
  exec venv/bin/python -m pytest "$@"
fi
live_log=$(mktemp)
venv/bin/python -m pytest -m live > "$live_log" 2>&1 &
live=$!
trap 'kill "$live" 2>/dev/null; rm -f "$live_log"' INT TERM
rest_status=0
venv/bin/python -m pytest -m "not live" -n 2 --dist loadfile || rest_status=$?
live_status=0
wait "$live" || live_status=$?
echo
echo "=== the live tests (run beside the others) ==="
cat "$live_log"
rm -f "$live_log"
echo "test: the others exited $rest_status, the live tests $live_status" >&2
[ "$rest_status" -eq 0 ] && [ "$live_status" -eq 0 ]
