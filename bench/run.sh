#!/usr/bin/env bash
# The benchmarks on a fresh machine, in one command: install what they run (scripts/setup.sh: Debian's
# prometheus, promtool, alertmanager, redis and the pinned venv), then bench/run.py. Run as root.
# Arguments go to bench/run.py (e.g. `bench/run.sh --quick`, `bench/run.sh --parts latency`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python bench/run.py "$@"
