#!/usr/bin/env bash
# The test command: sets everything up (idempotent) and runs every test. Extra arguments go to pytest
# (e.g. `scripts/test.sh -m "not slow"` for the quick ones).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python -m pytest "$@"
