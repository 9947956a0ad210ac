#!/usr/bin/env bash
# Installs what the tests need: Debian's real tools (apt-get, so root or the packages already there),
# venv/ with the program and test tools (requirements-test.txt) and checkov's own venv
# (requirements-checkov.txt), every Python package from a hashed lock. Deploying needs none of this:
# scripts/up.sh installs only the program. Idempotent: a second run installs nothing.
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
me=setup
. scripts/lib.sh

# Real tools the tests run against: promtool/amtool/nginx check files, the live tests run the servers.
packages="prometheus prometheus-alertmanager prometheus-pushgateway nginx openssl prometheus-node-exporter redis-server
          prometheus-redis-exporter prometheus-nginx-exporter util-linux iproute2 curl restic"
missing=""
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  say "apt: installing${missing} (Debian's packages; a few minutes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  # Debian starts packaged daemons on install; tests start their own on loopback, so stop these.
  say "apt: stopping the daemons Debian started (the tests run their own)"
  for service in prometheus prometheus-alertmanager prometheus-pushgateway prometheus-node-exporter redis-server prometheus-redis-exporter prometheus-nginx-exporter nginx; do
    (command -v systemctl >/dev/null && systemctl stop "$service" 2>/dev/null) || service "$service" stop >/dev/null 2>&1 || true
  done
fi

python=$(find_python)
# uv (pinned with its hashes in the test lock) installs both locks in seconds where pip takes minutes.
UV=$(bootstrap_uv "$python" venv requirements-test.txt)
install_lock "$python" venv requirements-test.txt

# checkov (Kubernetes manifest checks) pins packaging<24, which pulumi refuses: it gets a venv of its
# own, linked into ours so tests find it next to the interpreter.
install_lock "$python" venv/checkov requirements-checkov.txt
ln -sf ../checkov/bin/checkov venv/bin/checkov
