#!/usr/bin/env bash
# railyard-bootstrap: prepare a host for a railyard stack. Idempotent: run it as often as you like.
set -euo pipefail
RAILYARD_SCRIPT=railyard-bootstrap
# The shared library lives beside the script; over SSH it is fed before this script on stdin (`bash -s`).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-bootstrap.sh --stack NAME --network NAME --data-dir DIR [--advertise-addr IP]

Prepares this host for a railyard stack:
  1. checks that the Docker engine is installed and answers;
  2. runs `docker swarm init` only when this node is not in a swarm yet;
  3. refuses a swarm of more than one node (databases stay on the node that holds their volumes) and labels
     this node railyard.data=true;
  4. creates the stack's attachable overlay network (labelled railyard.stack=STACK) unless it exists; an
     existing one is used as it is, never changed;
  5. creates the stack's host directories under DIR/STACK (backups, scripts, builds, state), mode 0700, owned by
     this user (the backup jobs write their state there as root; the gate and migrations as this user).

Arguments: STACK and the network NAME are lower-case names (letters, digits and inner hyphens, at most 63
characters, starting with a letter); DIR an absolute path without `..`; IP an IPv4 or IPv6 address literal.
Over SSH railyard runs it as `bash -s -- ARGS` with railyard-lib.sh and this script on stdin.

Exit codes:
  0   the host is ready
  2   bad arguments
  10  docker is not installed
  11  the Docker engine does not answer
  12  this node is in a swarm but is not a manager
  13  a network of that name exists but is not an attachable overlay network, or it belongs to another
      railyard stack (its railyard.stack label names another STACK)
  14  the host directories cannot be created (create DIR as root and give it to this user)
  15  this node's swarm is locked, pending or in error
  16  this node's swarm has more than one node: railyard places each database with its volume on this one
      node without a placement constraint (one would restart it on the next update), so another node could
      start it on an empty volume; use a single-node swarm
USAGE
}

stack="" network="" data_dir="" advertise=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack) opt_value stack "$@"; shift 2 ;;
      --network) opt_value network "$@"; shift 2 ;;
      --data-dir) opt_value data_dir "$@"; shift 2 ;;
      --advertise-addr) opt_value advertise "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --stack "$stack" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  check --network "$network" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  check --data-dir "$data_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  [ -z "$advertise" ] || check --advertise-addr "$advertise" "an IPv4 or IPv6 address" is_ip
}

check_engine() {
  command -v docker >/dev/null 2>&1 || fail 10 "docker is not installed on this host; install Docker Engine (Debian: apt-get install docker.io) and run again"
  docker info >/dev/null 2>&1 || fail 11 "the Docker engine does not answer (is dockerd running? does this user have access to its socket?)"
}

# A single-node swarm (initialised unless this node is in one); this node must be its manager.
join_swarm() {
  local state init
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
  local nodes
  nodes=$(docker info --format '{{.Swarm.Nodes}}')
  [ "$nodes" = 1 ] || fail 16 "this node's swarm has $(q "$nodes") nodes; railyard keeps each database on this node with its volume and declares no placement, so use a single-node swarm"
  docker node update --label-add railyard.data=true "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
}

# The stack's network: created (labelled) when missing; an existing one is only checked, never changed.
ensure_network() {
  local shape owner
  # An exact-name match (`docker network inspect NAME` would also accept an ID prefix; the name filter is a substring).
  if docker network ls --format '{{.Name}}' | grep -Fxq -- "$network"; then
    shape=$(docker network inspect --format '{{.Driver}} {{.Attachable}}' "$network")
    [ "$shape" = "overlay true" ] || fail 13 "network $network exists as '$shape', expected 'overlay true'; remove or rename it"
    owner=$(docker network inspect --format '{{index .Labels "railyard.stack"}}' "$network")
    [[ -z "$owner" || "$owner" == "$stack" ]] ||
      fail 13 "network $network belongs to railyard stack $(q "$owner"), not $stack; give this stack its own network"
  else
    docker network create --driver overlay --attachable --label "railyard.stack=$stack" "$network" >/dev/null
    echo "railyard-bootstrap: created overlay network $network"
  fi
}

make_dirs() {
  local dir
  for dir in backups scripts builds state; do
    mkdir -p "$data_dir/$stack/$dir" 2>/dev/null ||
      fail 14 "cannot create $data_dir/$stack/$dir as $(id -un); as root: install -d -o $(id -un) $data_dir"
  done
  chmod 700 "$data_dir/$stack"
}

main() {
  parse_args "$@"
  check_engine
  join_swarm
  ensure_network
  make_dirs
  echo "railyard-bootstrap: host ready for stack $stack (network $network, data $data_dir/$stack)"
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
