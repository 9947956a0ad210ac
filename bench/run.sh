#!/usr/bin/env bash
# The benchmarks on a fresh machine, in one command: install what they run (scripts/setup.sh: Debian's
# prometheus, promtool, alertmanager, redis and the pinned venv), then `python -m bench.run`. Run as root.
# Arguments go to bench.run (e.g. `bench/run.sh --quick`, `bench/run.sh --parts latency`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python -m bench.run "$@"
