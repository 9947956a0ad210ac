#!/usr/bin/env bash
# The main job: set up, select (or create) the stack and deploy it. Usage: scripts/up.sh [dev|prod]
# Needs the Pulumi CLI, and for dev a Docker engine, for prod a kubeconfig (see docs/deploying-dev.md, docs/deploying-prod.md).
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
scripts/setup.sh
command -v pulumi >/dev/null || { echo "error: the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/" >&2; exit 1; }
venv/bin/python synth.py --stack "$stack" >/dev/null
pulumi stack select --create "$stack"
exec pulumi up --stack "$stack"
