#!/usr/bin/env bash
# Installs what the program and its tests need: Debian's real tools and a pinned Python venv.
# Idempotent: a second run installs nothing. Run as root (apt-get) or with the packages present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real tools the tests run against: promtool/amtool/nginx check files, the live tests run the servers.
packages=(prometheus prometheus-alertmanager prometheus-pushgateway nginx openssl prometheus-node-exporter redis-server
          prometheus-redis-exporter prometheus-nginx-exporter util-linux iproute2 curl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts packaged daemons on install; tests start their own on loopback, so stop these.
  for service in prometheus prometheus-alertmanager prometheus-pushgateway prometheus-node-exporter redis-server prometheus-redis-exporter prometheus-nginx-exporter nginx; do
    (command -v systemctl >/dev/null && systemctl stop "$service" 2>/dev/null) || service "$service" stop >/dev/null 2>&1 || true
  done
fi

python=${PYTHON:-python3}
if [ ! -x venv/bin/python ]; then
  "$python" -m venv venv
fi
stamp=venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$wanted" > "$stamp"
fi

# checkov (Kubernetes manifest checks) pins packaging<24, which pulumi refuses: it gets a venv of its
# own, linked into ours so tests find it next to the interpreter.
if [ ! -x venv/checkov/bin/checkov ]; then
  "$python" -m venv venv/checkov
  venv/checkov/bin/pip install -q --disable-pip-version-check checkov==3.3.30
fi
ln -sf ../checkov/bin/checkov venv/bin/checkov
