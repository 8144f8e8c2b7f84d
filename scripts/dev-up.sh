#!/usr/bin/env bash
# npm run dev:up [-- <pulumi up options>]: the dev stack (Pulumi.dev.yaml) on this machine's Docker engine.
set -euo pipefail
me=dev-up

usage() {
  cat <<'EOF'
usage: npm run dev:up [-- <pulumi up options, e.g. --refresh>]
       bash scripts/dev-up.sh [--help] [<pulumi up options>]

Brings the dev stack up on the Docker engine that `docker` uses here (DOCKER_HOST, else the current docker
context), then prints the URLs where the app answers. Sets up what is missing by itself:
  - node_modules (npm ci);
  - the Pulumi CLI: when none is on PATH, Pulumi's official installer puts it in .railyard/pulumi
    (PATH and shell files untouched; offline, it fails with exit 10 and the command to run by hand);
  - the state: in .railyard/state (git-ignored), given to each command through PULUMI_BACKEND_URL,
    so your own `pulumi login` is never changed; no account, no passphrase.
Stop it with npm run dev:down.

exit codes: 0 up, 2 bad arguments, 10 Pulumi CLI missing and not installable, 11 Docker engine not answering,
            12 npm missing; otherwise the failing command's code (e.g. pulumi up's).
EOF
}

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
dev_script_args "$@"

ensure_node_modules
ensure_pulumi
use_project_backend
use_docker_engine
echo "$me: engine $DOCKER_HOST, state .railyard/state, pulumi $(pulumi version)"
pulumi stack select --create --non-interactive dev
pulumi up --stack dev --yes --non-interactive "$@"

# Where the app answers: the program's `urls` output, else its `domains` output and the edge's HTTP port.
urls=$(pulumi stack output urls --json --stack dev 2>/dev/null) || urls=
if [ -n "$urls" ] && [ "$urls" != null ]; then
  list=$(node -e 'for (const u of JSON.parse(process.argv[1])) console.log(u)' "$urls")
else
  domains=$(pulumi stack output domains --json --stack dev 2>/dev/null) || domains='{}'
  port=$(pulumi config get --path railyard:edge.httpPort --stack dev 2>/dev/null) || port=80
  list=$(node -e '
    const [domains, port] = [JSON.parse(process.argv[1] || "{}"), process.argv[2]];
    for (const d of Object.keys(domains ?? {})) console.log("http://" + d + (port === "80" ? "" : ":" + port) + "/");
  ' "$domains" "$port")
fi

echo
if [ -z "$list" ]; then
  echo "$me: the dev stack is up; no service has domains, so nothing is published through the edge."
else
  echo "$me: the dev stack is up. The app answers at:"
  while IFS= read -r url; do echo "  $url"; done <<<"$list"
  first=$(head -n 1 <<<"$list")
  case $DOCKER_HOST in
    unix://*)
      name=${first#http://}
      name=${name%%[:/]*}
      echo "*.localhost names resolve to this machine (loopback) in curl and in browsers: curl -i $first"
      echo "(tools that ask DNS need a line in /etc/hosts, e.g. 127.0.0.1 $name)"
      ;;
    *)
      engine=${DOCKER_HOST#*://}
      engine=${engine#*@}
      engine=${engine%%[:/]*}
      echo "The engine is $DOCKER_HOST: the edge answers on $engine, not on this machine's loopback."
      echo "From here: curl --connect-to ::$engine: $first"
      ;;
  esac
fi
echo "Stop it with: npm run dev:down (data volumes are kept)"
