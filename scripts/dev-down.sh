#!/usr/bin/env bash
# npm run dev:down [-- <pulumi destroy options>]: removes the dev stack's services; its data volumes are kept.
set -euo pipefail
me=dev-down

usage() {
  cat <<'EOF2'
usage: npm run dev:down [-- <pulumi destroy options>]
       bash scripts/dev-down.sh [--help] [<pulumi destroy options>]

Destroys what npm run dev:up created (pulumi destroy of the dev stack, with the same project state in
.railyard/state and the same engine: DOCKER_HOST, else the current docker context). The databases' and the
edge's data volumes are kept (Pulumi never deletes them); the script lists them at the end with the command
that deletes them. The swarm, the dev network and the stack's state stay too, so npm run dev:up starts again
from the same data.

exit codes: 0 down (or nothing to stop), 2 bad arguments, 10 Pulumi CLI missing and not installable,
            11 Docker engine not answering; otherwise pulumi destroy's code.
EOF2
}

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
dev_script_args "$@"

if [ -z "$(ls -A .railyard/state 2>/dev/null)" ]; then
  echo "$me: no state in .railyard/state: nothing to stop"
  exit 0
fi
ensure_pulumi
use_project_backend
if ! pulumi stack select --non-interactive dev >/dev/null 2>&1; then
  echo "$me: no dev stack in .railyard/state: nothing to stop"
  exit 0
fi
use_docker_engine
prefix=$(pulumi config get railyard:prefix --stack dev 2>/dev/null) || prefix=dev
pulumi destroy --stack dev --yes --non-interactive "$@"

echo
echo "$me: the dev stack's services are gone. Kept on $DOCKER_HOST (railyard.stack=$prefix):"
volumes=$(docker volume ls --quiet --filter "label=railyard.stack=$prefix")
networks=$(docker network ls --format '{{.Name}}' --filter "label=railyard.stack=$prefix")
if [ -n "$volumes" ]; then
  echo "  data volumes: $(tr '\n' ' ' <<<"$volumes")"
  echo "  delete the data for good: docker volume rm $(tr '\n' ' ' <<<"$volumes")"
else
  echo "  no data volumes"
fi
if [ -n "$networks" ]; then
  echo "  network: $(tr '\n' ' ' <<<"$networks")(remove: docker network rm $(tr '\n' ' ' <<<"$networks"))"
fi
echo "  the state in .railyard/state (rm -rf .railyard/state forgets the dev stack)"
echo "Start again with: npm run dev:up"
