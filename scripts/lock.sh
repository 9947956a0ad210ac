#!/usr/bin/env bash
# Regenerates every lock file from its .in file, with the hash of every distribution, for the Python
# in .python-version on Linux, macOS and Windows alike (uv's universal resolution):
#   requirements.in          -> requirements.txt          (the program: scripts/up.sh, Pulumi, CI deploys)
#   requirements-test.in     -> requirements-test.txt     (program + test tools: scripts/setup.sh)
#   requirements-checkov.in  -> requirements-checkov.txt  (checkov's own venv)
#   policy/requirements.in   -> policy/requirements.txt   (the policy pack's venv)
# Versions already in a lock are kept unless an .in pin asks otherwise; `scripts/lock.sh --upgrade`
# moves every unpinned transitive dependency to its newest release. Needs uv (requirements-test.txt
# installs it into venv/ via scripts/setup.sh; any uv on PATH works too). tests/test_dependencies.py
# fails while a lock is out of step with its .in file.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x venv/bin/uv ]; then
  uv=$PWD/venv/bin/uv
elif command -v uv >/dev/null 2>&1; then
  uv=$(command -v uv)
else
  echo "lock: uv not found: run scripts/setup.sh (it installs the pinned uv into venv/) or see https://docs.astral.sh/uv/" >&2
  exit 1
fi
upgrade=""
case "${1:-}" in
  "") ;;
  --upgrade) upgrade=--upgrade ;;
  *) echo "usage: scripts/lock.sh [--upgrade]" >&2; exit 2 ;;
esac
python_version=$(cat .python-version)

# Each command is written into its lock's header, where Renovate's pip-compile manager reads it to
# refresh the lock: plain `uv pip compile` lines, run in the lock's own directory.
compile() {  # compile DIRECTORY IN OUT
  echo "lock: $1/$3 from $2" >&2
  (cd "$1" && "$uv" pip compile --quiet --universal --python-version "$python_version" --generate-hashes \
    $upgrade "$2" --output-file "$3")
}

# The program first: the test lock takes it as a constraint (-c requirements.txt).
compile . requirements.in requirements.txt
compile . requirements-test.in requirements-test.txt
compile . requirements-checkov.in requirements-checkov.txt
compile policy requirements.in requirements.txt
echo "lock: done; scripts/setup.sh installs the new locks" >&2
