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
                             [--node-labels L[,L...]] [--multi-node] [--encrypted]

Prepares this host for a railyard stack:
  1. checks that the Docker engine is installed and answers;
  2. runs `docker swarm init` only when this node is not in a swarm yet;
  3. refuses a swarm of more than one node unless --multi-node (the stack declares railyard:nodes, and its
     databases, edge and services are placed by node labels); labels this node railyard.node=host and
     railyard.<L>=true for each L of --node-labels (@default data,edge,app), removing the others of data, edge,
     app; with --multi-node checks that the engine listens on the swarm ports (2377/tcp, 7946/tcp and udp)
     when `ss` is installed and the engine is on this machine (DOCKER_HOST unset or unix://); firewalls
     between the machines are checked by railyard-node.sh, from each node;
  4. creates the stack's attachable overlay network (labelled railyard.stack=STACK; with --encrypted, IPsec
     between nodes: --opt encrypted) unless it exists; an existing one is used as it is, never changed;
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
      railyard stack (its railyard.stack label names another STACK), or its encryption differs from
      --encrypted (railyard:encryptNetwork: changing it means recreating the network, README: More than one
      machine)
  14  the host directories cannot be created (create DIR as root and give it to this user)
  15  this node's swarm is locked, pending or in error
  16  this node's swarm has more than one node: railyard places each database with its volume on this one
      node without a placement constraint (one would restart it on the next update), so another node could
      start it on an empty volume; use a single-node swarm (or declare the other nodes: --multi-node)
      A swarm whose other nodes all carry railyard's railyard.node label, and which runs no other railyard
      stack, is this stack's own nodes being removed (railyard:nodes emptied): they are drained at once (the
      same `pulumi up` then retires, leaves and removes them) and the bootstrap goes on, with a warning
  17  --multi-node, and the engine does not listen on the manager's swarm port 2377/tcp
  18  --multi-node, and the swarm also runs another railyard stack (a network labelled railyard.stack=OTHER):
      its unplaced databases and edge could start on the new nodes; a stack with nodes needs its swarm to itself
  19  without --multi-node, a database of this stack is placed on another node than this one (its data is
      there): move it to the main host first (README: Moving a database to another node), then remove the nodes
USAGE
}

stack="" network="" data_dir="" advertise="" node_labels="data,edge,app" multi_node=false encrypted=false

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack) opt_value stack "$@"; shift 2 ;;
      --network) opt_value network "$@"; shift 2 ;;
      --data-dir) opt_value data_dir "$@"; shift 2 ;;
      --advertise-addr) opt_value advertise "$@"; shift 2 ;;
      --node-labels) opt_value node_labels "$@"; shift 2 ;;
      --multi-node) multi_node=true; shift ;;
      --encrypted) encrypted=true; shift ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --stack "$stack" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  check --network "$network" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  check --data-dir "$data_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  [ -z "$advertise" ] || check --advertise-addr "$advertise" "an IPv4 or IPv6 address" is_ip
  check --node-labels "$node_labels" "data, edge or app, comma-separated, each once" is_label_list
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
  local nodes others
  nodes=$(docker info --format '{{.Swarm.Nodes}}')
  others=$(other_stacks)
  if $multi_node; then
    [ -z "$others" ] ||
      fail 18 "this swarm also runs railyard stack(s) $(q "$others"): their databases and edge declare no placement and could start on this stack's nodes (a database on an empty volume); give a stack with railyard:nodes a swarm of its own"
  else
    databases_here
    [ "$nodes" = 1 ] || leaving_nodes "$others" ||
      fail 16 "this node's swarm has $(q "$nodes") nodes; railyard keeps each database on this node with its volume and declares no placement, so use a single-node swarm (or declare the others in railyard:nodes)"
  fi
  label_node
  if $multi_node; then check_listening; fi
}

# other_stacks: the other railyard stacks on this swarm (their networks' railyard.stack labels), space-separated.
other_stacks() {
  docker network ls --filter label=railyard.stack --format '{{.Label "railyard.stack"}}' |
    awk -v me="$stack" '$0 != "" && $0 != me && !seen[$0]++' | paste -sd ' ' -
}

# databases_here: without --multi-node, every database of this stack must be free to run on this node: one whose
# placement names another node (railyard.node==X) has its data there (exit 19).
databases_here() {
  local id spec
  while read -r id; do
    [ -n "$id" ] || continue
    spec=$(docker service inspect --format '{{.Spec.Name}} {{join .Spec.TaskTemplate.Placement.Constraints " "}}' "$id" 2>/dev/null) || continue
    if [[ " ${spec#* } " =~ \ node\.labels\.railyard\.node==([a-z0-9-]+)\  ]] && [ "${BASH_REMATCH[1]}" != host ]; then
      fail 19 "database ${spec%% *} is placed on node ${BASH_REMATCH[1]}, where its data is; move it to the main host first (README: Moving a database to another node), then remove railyard:nodes"
    fi
  done < <(docker service ls -q --filter "label=railyard.stack=$stack" --filter label=railyard.role=database 2>/dev/null || true)
}

# leaving_nodes OTHERS: true when every other node of the swarm carries railyard.node (this stack's nodes, being
# removed from railyard:nodes) and no other railyard stack runs here; drains them at once, with a warning.
leaving_nodes() {
  [ -z "$1" ] || return 1
  local me id name ids=()
  me=$(docker info --format '{{.Swarm.NodeID}}')
  while read -r id; do
    [ "$id" != "$me" ] || continue
    name=$(docker node inspect --format '{{index .Spec.Labels "railyard.node"}}' "$id" 2>/dev/null) || return 1
    [ -n "$name" ] && [ "$name" != host ] || return 1
    ids+=("$id")
  done < <(docker node ls -q)
  ((${#ids[@]} > 0)) || return 1
  for id in "${ids[@]}"; do docker node update --availability drain "$id" >/dev/null; done
  echo "railyard-bootstrap: warning: ${#ids[@]} node(s) of this stack are no longer in railyard:nodes: drained now; this pulumi up retires them, makes them leave and removes them" >&2
}

# This node's labels: railyard.node=host, railyard.<L>=true for each of --node-labels, the others removed.
label_node() {
  local id l args=(--label-add railyard.node=host)
  id=$(docker info --format '{{.Swarm.NodeID}}')
  for l in data edge app; do
    if [[ ,$node_labels, == *",$l,"* ]]; then args+=(--label-add "railyard.$l=true")
    elif [ -n "$(docker node inspect --format "{{index .Spec.Labels \"railyard.$l\"}}" "$id")" ]; then args+=(--label-rm "railyard.$l"); fi
  done
  docker node update "${args[@]}" "$id" >/dev/null
}

# The swarm ports other nodes need on this manager, as far as this host can tell (`ss`): 2377/tcp must listen;
# 7946 is reported when missing. Firewalls on the way are checked from each node (railyard-node.sh).
check_listening() {
  case "${DOCKER_HOST:-}" in
    ""|unix://*) ;;
    *)
      echo "railyard-bootstrap: the engine is at $(q "$DOCKER_HOST"), not on this machine; its swarm ports were not checked" >&2
      return 0
      ;;
  esac
  if ! command -v ss >/dev/null 2>&1; then
    echo "railyard-bootstrap: ss is not installed; the swarm ports (2377/tcp, 7946/tcp+udp, 4789/udp) were not checked" >&2
    return 0
  fi
  listens tcp 2377 || fail 17 "the engine does not listen on 2377/tcp (the swarm's manager port): other nodes cannot join; check dockerd's --listen-addr / docker swarm init --listen-addr"
  listens tcp 7946 || echo "railyard-bootstrap: warning: nothing listens on 7946/tcp (swarm gossip) yet" >&2
  listens udp 7946 || echo "railyard-bootstrap: warning: nothing listens on 7946/udp (swarm gossip) yet" >&2
  echo "railyard-bootstrap: swarm ports listening here; open 2377/tcp, 7946/tcp+udp and 4789/udp between the nodes" >&2
}

# listens tcp|udp PORT: a socket of this host listens on PORT (any address).
listens() {
  local flag=-Hltn
  [ "$1" = tcp ] || flag=-Hlun
  ss "$flag" | awk -v p=":$2" '{ n = split($4, a, ":"); if (":" a[n] == p) found = 1 } END { exit !found }'
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
    local opt has=false
    # `--opt encrypted` is stored with an empty value: the key's presence is what counts.
    opt=$(docker network inspect --format '{{range $k, $v := .Options}}{{$k}} {{end}}' "$network")
    [[ " $opt " != *" encrypted "* ]] || has=true
    [ "$has" = "$encrypted" ] ||
      fail 13 "network $network is $($has || printf 'not ')encrypted, railyard:encryptNetwork says $encrypted; changing it means recreating the network (README: More than one machine)"
  else
    local create=(docker network create --driver overlay --attachable --label "railyard.stack=$stack")
    if $encrypted; then create+=(--opt encrypted); fi
    "${create[@]}" "$network" >/dev/null
    echo "railyard-bootstrap: created overlay network $network$($encrypted && printf ' (encrypted)')"
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
  check_engine host
  join_swarm
  ensure_network
  make_dirs
  echo "railyard-bootstrap: host ready for stack $stack (network $network, data $data_dir/$stack)"
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
