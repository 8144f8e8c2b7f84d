#!/usr/bin/env bash
# railyard-bootstrap: prepare a host for a railyard stack. Idempotent: run it as often as you like.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: railyard-bootstrap.sh --stack NAME --network NAME --data-dir DIR [--advertise-addr IP]

Prepares this host for a railyard stack:
  1. checks that the Docker engine is installed and answers;
  2. runs `docker swarm init` only when this node is not in a swarm yet;
  3. labels this node railyard.data=true (databases are placed on the node that holds their volumes);
  4. creates the stack's attachable overlay network unless it exists;
  5. creates the stack's host directories under DIR/STACK (backups, scripts, builds), mode 0700.

Exit codes:
  0   the host is ready
  2   bad arguments
  10  docker is not installed
  11  the Docker engine does not answer
  12  this node is in a swarm but is not a manager
  13  a network of that name exists but is not an attachable overlay network
  14  the host directories cannot be created (create DIR as root and give it to this user)
  15  this node's swarm is locked, pending or in error
USAGE
}

fail() {
  local code=$1
  shift
  echo "railyard-bootstrap: $*" >&2
  exit "$code"
}

stack="" network="" data_dir="" advertise=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack=${2-}; shift 2 || fail 2 "--stack needs a value" ;;
    --network) network=${2-}; shift 2 || fail 2 "--network needs a value" ;;
    --data-dir) data_dir=${2-}; shift 2 || fail 2 "--data-dir needs a value" ;;
    --advertise-addr) advertise=${2-}; shift 2 || fail 2 "--advertise-addr needs a value" ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail 2 "unknown argument: $1" ;;
  esac
done
[[ "$stack" =~ ^[a-z][a-z0-9-]*$ ]] || fail 2 "--stack must be a lower-case name, got '$stack'"
[[ "$network" =~ ^[a-z][a-z0-9-]*$ ]] || fail 2 "--network must be a lower-case name, got '$network'"
[[ "$data_dir" =~ ^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?/?$ && ! "$data_dir" =~ (^|/)\.\.(/|$) ]] || fail 2 "--data-dir must be an absolute path, got '$data_dir'"

command -v docker >/dev/null 2>&1 || fail 10 "docker is not installed on this host; install Docker Engine (Debian: apt-get install docker.io) and run again"
docker info >/dev/null 2>&1 || fail 11 "the Docker engine does not answer (is dockerd running? does this user have access to its socket?)"

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case "$state" in
  locked|pending|error) fail 15 "this node's swarm is $state; unlock or repair it (docker swarm unlock / docker info)" ;;
esac
if [ "$state" != "active" ]; then
  init=(docker swarm init)
  if [ -n "$advertise" ]; then init+=(--advertise-addr "$advertise"); fi
  "${init[@]}" >/dev/null
  echo "railyard-bootstrap: initialised a single-node swarm"
fi
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = "true" ] || fail 12 "this node is a swarm worker; run railyard against a manager node"

node_id=$(docker info --format '{{.Swarm.NodeID}}')
docker node update --label-add railyard.data=true "$node_id" >/dev/null

# An exact-name match (`docker network inspect NAME` would also accept an ID prefix; the name filter is a substring).
if docker network ls --format '{{.Name}}' | grep -Fxq -- "$network"; then
  shape=$(docker network inspect --format '{{.Driver}} {{.Attachable}}' "$network")
  [ "$shape" = "overlay true" ] || fail 13 "network $network exists as '$shape', expected 'overlay true'; remove or rename it"
else
  docker network create --driver overlay --attachable --label "railyard.stack=$stack" "$network" >/dev/null
  echo "railyard-bootstrap: created overlay network $network"
fi

for dir in backups scripts builds; do
  mkdir -p "$data_dir/$stack/$dir" 2>/dev/null ||
    fail 14 "cannot create $data_dir/$stack/$dir as $(id -un); as root: install -d -o $(id -un) $data_dir"
done
chmod 700 "$data_dir/$stack"
echo "railyard-bootstrap: host ready for stack $stack (network $network, data $data_dir/$stack)"
