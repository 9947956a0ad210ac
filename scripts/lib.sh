# Shared by scripts/up.sh and scripts/setup.sh (sourced, not run). Portable to macOS's bash 3.2 and
# BSD tools: no mapfile, no associative arrays, no sha256sum (hashes come from Python's hashlib).
# The caller sets `me` (the prefix of its messages) and runs from the repository root.

# Progress and problems go to stderr, so a caller's stdout stays clean and nothing hides them.
say() { echo "$me: $*" >&2; }

# The Python the locks are compiled for (.python-version: major.minor).
wanted_python=$(cat .python-version)

python_version() {  # python_version PYTHON -> "3.11" (nothing if PYTHON does not run)
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# Prints the interpreter to build venvs with: $PYTHON if set, else python<.python-version>, else
# python3. Fails (saying why) when there is none or it is older than 3.11; warns when it is not the
# version the locks are tested with, since a pinned package may then lack a wheel.
find_python() {
  if [ -n "${PYTHON:-}" ]; then
    usable_python "$PYTHON" && return 0
    say "PYTHON=$PYTHON does not run: point it at a Python $wanted_python interpreter"
    return 1
  fi
  usable_python "python$wanted_python" && return 0
  usable_python python3 && return 0
  say "no Python found (tried python$wanted_python, python3): install Python $wanted_python from https://www.python.org/downloads/ (or pyenv, or \`uv python install $wanted_python\`), or set PYTHON=/path/to/python$wanted_python"
  return 1
}

usable_python() {  # usable_python CANDIDATE: prints its path; 1 if it does not run; exits if too old
  local version
  version=$(python_version "$1")
  [ -n "$version" ] || return 1
  case "$version" in
    2.*|3.[0-9]|3.10)
      say "$1 is Python $version; the program needs $wanted_python: install it (https://www.python.org/downloads/, pyenv, or \`uv python install $wanted_python\`) and set PYTHON=/path/to/python$wanted_python"
      exit 1 ;;
  esac
  if [ "$version" != "$wanted_python" ]; then
    say "warning: $1 is Python $version; the lock files are tested with $wanted_python (.python-version). If an install fails, install $wanted_python and set PYTHON=/path/to/python$wanted_python"
  fi
  command -v "$1"
}

file_sha256() {  # file_sha256 PYTHON FILE
  "$1" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$2"
}

# install_lock PYTHON VENV LOCK: makes VENV (no root needed) and installs the hashed LOCK into it
# with --require-hashes, so a changed or substituted download is refused. A stamp of the lock's
# hash makes a second run install nothing; it does not remove packages a lock no longer lists.
# With $UV set (scripts/setup.sh), uv installs instead of pip: the same hashes, in seconds.
install_lock() {
  local python=$1 venv=$2 lock=$3 stamp wanted
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $python"
    "$python" -m venv "$venv"
  fi
  stamp="$venv/.$(basename "$lock").sha256"
  wanted=$(file_sha256 "$venv/bin/python" "$lock")
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    if [ -n "${UV:-}" ]; then
      say "installing $lock into $venv (uv pip --require-hashes)"
      "$UV" pip install --quiet --require-hashes --python "$venv/bin/python" -r "$lock"
    else
      say "installing $lock into $venv (pip --require-hashes; a few minutes the first time)"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
    fi
    echo "$wanted" > "$stamp"
  fi
}

# bootstrap_uv PYTHON VENV LOCK: puts the uv that LOCK pins (with its hashes) into VENV with pip and
# prints its path; only the tests' setup uses it (deploying installs the program with pip alone).
bootstrap_uv() {
  local python=$1 venv=$2 lock=$3 pin
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $python"
    "$python" -m venv "$venv"
  fi
  if [ ! -x "$venv/bin/uv" ]; then
    pin="$venv/.uv-requirement.txt"
    # The `uv==...` line and its hash continuation lines, exactly as the lock has them.
    awk '/^uv==/{on=1} on{print} on && !/\\$/{exit}' "$lock" > "$pin"
    say "installing uv into $venv (pip --require-hashes, from $lock)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$pin" || return 1
  fi
  # In $(...) `set -e` is off: say it here, or the caller would fail later on a missing uv.
  [ -x "$venv/bin/uv" ] || { say "uv was not installed into $venv: $lock must pin uv (scripts/lock.sh)"; return 1; }
  echo "$venv/bin/uv"
}
