#!/usr/bin/env bash
# The test command: sets everything up (idempotent) and runs every test. Extra arguments go to pytest
# (e.g. `scripts/test.sh -m "not slow"` for the quick ones, `scripts/test.sh -n 0` for one process).
# Two workers: the live scenarios (one worker, in order: tests/conftest.py) mostly wait on intervals
# while the other worker runs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
