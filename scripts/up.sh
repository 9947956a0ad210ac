#!/usr/bin/env bash
# Deploys a stack: scripts/up.sh dev (Docker) | scripts/up.sh prod (Kubernetes); docs/deploying-dev.md, docs/deploying-prod.md.
# First checks, in seconds and before installing anything, that everything deploying needs is there:
# the Pulumi CLI, for dev a reachable Docker engine, for prod a kubeconfig with a current context, and
# Python 3.11. Then: venv/ with the program's locked dependencies (requirements.txt, hashes checked;
# no test tools, no root), the offline validation (synth), `pulumi stack select --create`, `pulumi up`.
# Runs on Linux and macOS (bash 3.2). Messages go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
me=up
. scripts/lib.sh

usage() {
  echo "usage: scripts/up.sh STACK   (dev: Docker on this machine; prod: the cluster of the current kubeconfig context)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
stack=$1
case "$stack" in
  dev) backend=docker ;;
  prod) backend=kubernetes ;;
  *) echo "up: unknown stack '$stack'" >&2; usage ;;
esac

# Every missing prerequisite is reported, not only the first, so one run says all there is to fix.
missing=0
problem() { say "error: $*"; missing=$((missing + 1)); }

if ! command -v pulumi >/dev/null 2>&1; then
  problem "the Pulumi CLI is not installed (no \`pulumi\` on PATH): install it from https://www.pulumi.com/docs/install/"
fi

if [ "$backend" = docker ]; then
  if ! command -v docker >/dev/null 2>&1; then
    problem "the Docker CLI is not installed (no \`docker\` on PATH), and stack dev runs on Docker: install Docker Engine (Linux) or Docker Desktop (macOS) from https://docs.docker.com/get-docker/"
  elif ! docker_error=$(docker info 2>&1 >/dev/null); then
    problem "the Docker engine is not reachable (\`docker info\` failed: $(echo "$docker_error" | tail -n 1)): start Docker Desktop or the docker service (Linux: sudo systemctl start docker), make sure your user may use it, or point DOCKER_HOST at a running engine"
  fi
fi

# The Kubernetes provider deploys to the current context of the default kubeconfig.
current_context() {
  if command -v kubectl >/dev/null 2>&1; then
    kubectl config current-context 2>/dev/null
    return
  fi
  # Without kubectl: the first file of KUBECONFIG (a PATH-like list) that sets current-context.
  local files file context
  files=${KUBECONFIG:-$HOME/.kube/config}
  local IFS=:
  for file in $files; do
    [ -f "$file" ] || continue
    context=$(sed -n 's/^current-context:[[:space:]]*//p' "$file" | tr -d "\"'" | head -n 1)
    if [ -n "$context" ]; then
      echo "$context"
      return
    fi
  done
  return 1
}
if [ "$backend" = kubernetes ]; then
  if context=$(current_context) && [ -n "$context" ]; then
    say "stack prod deploys to the Kubernetes context '$context'"
  else
    problem "no usable kubeconfig: stack prod needs a kubeconfig with a current context (looked at ${KUBECONFIG:-$HOME/.kube/config}); get one from your cluster's admin or provider, then \`kubectl config use-context NAME\` (or set KUBECONFIG to its path)"
  fi
fi

python=$(find_python) || missing=$((missing + 1))

if [ "$missing" -gt 0 ]; then
  say "nothing was installed or deployed; fix the above and run scripts/up.sh $stack again"
  exit 1
fi

install_lock "$python" venv requirements.txt

# Offline validation: the whole program under mocks, before Pulumi touches any state. Its output
# (capacity estimate and warnings) goes to stderr, where it stays visible.
synth_out=$(mktemp -d "${TMPDIR:-/tmp}/ngx-synth.XXXXXX")
say "validating stack $stack offline (synth.py)"
if ! venv/bin/python synth.py --stack "$stack" --out "$synth_out" >&2; then
  rm -rf "$synth_out"
  say "error: synth found a problem in stack $stack (above); nothing was deployed"
  exit 1
fi
rm -rf "$synth_out"

pulumi stack select --create "$stack"
exec pulumi up --stack "$stack"
