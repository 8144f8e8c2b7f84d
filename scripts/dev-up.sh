#!/usr/bin/env bash
# Brings the dev stack up on this machine's Docker engine: local Pulumi state, no passphrase, no cloud account.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pulumi >/dev/null 2>&1 || { echo "dev-up: the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/)" >&2; exit 10; }
docker info >/dev/null 2>&1 || { echo "dev-up: the Docker engine does not answer; start dockerd first" >&2; exit 11; }
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
mkdir -p .railyard/state
pulumi login "file://$PWD/.railyard/state"
[ -d node_modules ] || npm ci
pulumi stack select --create dev
pulumi up --stack dev --yes "$@"
