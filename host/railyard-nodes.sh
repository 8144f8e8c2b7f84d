#!/usr/bin/env bash
# railyard-nodes: a joined node's labels, availability and role, and its removal, from the main host (a manager).
set -euo pipefail
RAILYARD_SCRIPT=railyard-nodes
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-nodes.sh apply --name NAME --id ID --labels L[,L...] --role worker|manager
                               --availability active|drain [--timeout S]
       railyard-nodes.sh retire --name NAME --id ID [--timeout S]
       railyard-nodes.sh forget --name NAME [--timeout S]
       railyard-nodes.sh database-node --service SERVICE --node NODE [--move-from FROM]

Runs on the main host (a swarm manager) for a node railyard:nodes declares:
  apply   labels the node railyard.node=NAME and railyard.<L>=true for each L of data, edge, app (removing the
          ones it no longer has), promotes or demotes it to ROLE, and sets its availability. With drain it
          then waits until no task runs on it any more (Swarm moves them to other nodes), at most S seconds.
          Another node still labelled railyard.node=NAME (NAME's machine before its address changed) is removed
          when down; when up it is unlabelled, drained and demoted, and left in the swarm with a warning.
  retire  before the node leaves: drain it, wait until no task runs there (at most S seconds), demote it when
          it is a manager. A node the swarm no longer knows is already retired.
  forget  after the node left (railyard-node.sh leave, on it): waits until the swarm sees it down (at most S
          seconds), then `docker node rm` each node labelled railyard.node=NAME that is down.
  database-node
          before a database's Swarm service is updated: the node its data is on now is the node its running
          service is constrained to (node.labels.railyard.node==X; none: host, the single-node stacks'). NODE
          (railyard:databases.<db>.node) other than X is refused unless FROM is X: the database would start on
          NODE with an empty volume (Swarm does not move volumes). No such service yet: nothing to check.
Swarm itself refuses to demote the last manager, and a demotion that would lose the quorum.

Arguments: NAME, NODE and FROM lower-case node names (a-z, 0-9, inner -, at most 30; the main host is host);
SERVICE a Swarm service name; ID the node's swarm ID (25 lower-case
letters and digits, `docker node ls`); L data, edge or app, comma-separated, each once; S whole seconds from 1
to 86400 (@default 600).

Exit codes:
  0   done
  2   bad arguments
  10  docker is not installed
  11  the Docker engine does not answer
  12  this node is not a swarm manager
  30  no node with that ID in the swarm (apply)
  31  tasks still run on the drained node after S seconds (they are listed)
  32  the promotion or demotion was refused (Swarm's message follows)
  33  the node is still up after S seconds (forget): it did not leave the swarm
  34  the database's data is on another node than NODE, and FROM does not name it (database-node)
  35  the node ID already carries another name (railyard.node=OTHER): a node is renamed by removing it from
      railyard:nodes (pulumi up), then adding it under the new name (apply)
USAGE
}

action="" name="" id="" labels="" role="" availability="" wait_s=600 service="" node="" move_from=""
NODE_NAME='^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$'

parse_args() {
  [ $# -gt 0 ] || { usage >&2; fail 2 "an action is needed: apply, retire, forget or database-node"; }
  case "$1" in
    apply|retire|forget|database-node) action=$1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) unknown_argument "$1" ;;
  esac
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) opt_value name "$@"; shift 2 ;;
      --id) opt_value id "$@"; shift 2 ;;
      --labels) opt_value labels "$@"; shift 2 ;;
      --role) opt_value role "$@"; shift 2 ;;
      --availability) opt_value availability "$@"; shift 2 ;;
      --timeout) opt_value wait_s "$@"; shift 2 ;;
      --service) opt_value service "$@"; shift 2 ;;
      --node) opt_value node "$@"; shift 2 ;;
      --move-from) opt_value move_from "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  if [ "$action" = database-node ]; then
    [ -z "$name$id$labels$role$availability" ] || fail 2 "database-node takes --service, --node and --move-from only"
    check --service "$service" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
    check --node "$node" "a lower-case node name (a-z, 0-9, inner -, at most 30)" matches "$NODE_NAME"
    [ -z "$move_from" ] || check --move-from "$move_from" "a lower-case node name other than --node" is_move_from
    return 0
  fi
  [ -z "$service$node$move_from" ] || fail 2 "--service, --node and --move-from are for database-node only"
  check --name "$name" "a lower-case node name (a-z, 0-9, inner -, at most 30)" matches "$NODE_NAME"
  if [ "$action" != forget ]; then
    check --id "$id" "a swarm node ID (25 lower-case letters and digits)" matches '^[a-z0-9]{25}$'
  elif [ -n "$id" ]; then
    fail 2 "--id is not for forget (it finds the node by its railyard.node label)"
  fi
  if [ "$action" = apply ]; then
    check --labels "$labels" "data, edge or app, comma-separated, each once" is_label_list
    check --role "$role" "worker or manager" matches '^(worker|manager)$'
    check --availability "$availability" "active or drain" matches '^(active|drain)$'
  else
    [ -z "$labels$role$availability" ] || fail 2 "--labels, --role and --availability are for apply only"
  fi
  check --timeout "$wait_s" "whole seconds from 1 to 86400" is_int_in 1 86400
}

# is_move_from VALUE: a node name other than --node.
is_move_from() { [[ $1 =~ $NODE_NAME && $1 != "$node" ]]; }

check_manager() {
  check_engine host
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = "true" ] || fail 12 "this host is not a swarm manager; run it on the main host"
}

# node_field FORMAT: FORMAT (a Go template over `docker node inspect`) of node $id; status 1 when there is none.
node_field() { docker node inspect --format "$1" "$id" 2>/dev/null; }

set_labels() {
  local l args=(--label-add "railyard.node=$name")
  for l in data edge app; do
    if [[ ,$labels, == *",$l,"* ]]; then args+=(--label-add "railyard.$l=true")
    elif [ -n "$(node_field "{{index .Spec.Labels \"railyard.$l\"}}")" ]; then args+=(--label-rm "railyard.$l"); fi
  done
  docker node update "${args[@]}" "$id" >/dev/null
}

# set_role ROLE: promote or demote node $id unless it has ROLE already.
set_role() {
  local now out
  now=$(node_field '{{.Spec.Role}}')
  [ "$now" != "$1" ] || return 0
  if [ "$1" = manager ]; then out=$(docker node promote "$id" 2>&1) || fail 32 "promoting $name refused: $(plain "$out")"
  else out=$(docker node demote "$id" 2>&1) || fail 32 "demoting $name refused: $(plain "$out")"; fi
  echo "railyard-nodes: $name is now a $1" >&2
}

# plain TEXT: TEXT on one line, control characters (newlines too) as spaces: the engine's words in a message.
plain() { local t=${1//[[:cntrl:]]/ }; printf '%s' "${t% }"; }

# running_tasks: "<task> <service>" of each task still running on node $id.
running_tasks() {
  docker node ps --format '{{.Name}} {{.CurrentState}}' "$id" 2>/dev/null | awk '$2 == "Running" { print $1 }' | sort -u
}

# drain_and_wait: availability drain, then wait until no task runs on the node (at most wait_s seconds).
drain_and_wait() {
  local left deadline=$((SECONDS + wait_s))
  docker node update --availability drain "$id" >/dev/null
  while left=$(running_tasks) && [ -n "$left" ]; do
    ((SECONDS < deadline)) || fail 31 "tasks still run on $name after ${wait_s}s of drain: $(plain "$left"); Swarm has not stopped them yet (docker node ps $id)"
    sleep 1
  done
  echo "railyard-nodes: $name is drained (no task runs there)" >&2
}

# Another node still labelled railyard.node=NAME is the machine NAME was before (its address changed): one that is
# down is removed; one that is up keeps no railyard label and no task, is demoted, and is left for its owner to
# take out of the swarm (railyard cannot reach it any more).
disown_previous() {
  local other state l
  while read -r other state; do
    if [ -z "$other" ] || [ "$other" = "$id" ]; then continue; fi
    if [ "$state" = down ]; then
      # Swarm removes a manager only once demoted (a down one too).
      [ "$(docker node inspect --format '{{.Spec.Role}}' "$other" 2>/dev/null)" != manager ] || docker node demote "$other" >/dev/null 2>&1 || true
      local out
      out=$(docker node rm --force "$other" 2>&1) || fail 32 "removing $name's previous machine ($other, down) was refused: $(plain "$out")"
      echo "railyard-nodes: removed $name's previous machine ($other, down) from the swarm" >&2
      continue
    fi
    local keep=$id rm=(--label-rm railyard.node)
    id=$other
    for l in data edge app; do [ -z "$(node_field "{{index .Spec.Labels \"railyard.$l\"}}")" ] || rm+=(--label-rm "railyard.$l"); done
    docker node update "${rm[@]}" "$id" >/dev/null
    drain_and_wait
    set_role worker
    id=$keep
    echo "railyard-nodes: warning: $name's previous machine ($other) is still in the swarm, drained and unlabelled; on it: docker swarm leave, then here: docker node rm $other" >&2
  done <<<"$(named_nodes)"
}

apply_node() {
  node_field '{{.ID}}' >/dev/null || fail 30 "no node $id in this swarm (did $name join? docker node ls)"
  local was
  was=$(node_field '{{index .Spec.Labels "railyard.node"}}')
  [[ -z "$was" || "$was" == "$name" ]] ||
    fail 35 "this machine ($id) is node $(q "$was") of the stack, not $name: rename a node by removing $(q "$was") from railyard:nodes (pulumi up: it drains and leaves), then adding it as $name"
  disown_previous
  set_labels
  set_role "$role"
  if [ "$availability" = drain ]; then drain_and_wait
  else docker node update --availability active "$id" >/dev/null; fi
  echo "railyard-nodes: $name ($id) labelled $labels, $role, $availability" >&2
}

retire_node() {
  if ! node_field '{{.ID}}' >/dev/null; then
    echo "railyard-nodes: no node $id in this swarm; $name is already gone" >&2
    return 0
  fi
  local now
  now=$(node_field '{{index .Spec.Labels "railyard.node"}}')
  if [[ -n "$now" && "$now" != "$name" ]]; then
    echo "railyard-nodes: node $id is $(q "$now") now, not $name: left as it is" >&2
    return 0
  fi
  drain_and_wait
  set_role worker
}

# Each node labelled railyard.node=NAME, as "<id> <state>".
named_nodes() {
  local ids
  ids=$(docker node ls -q) || return 1
  [ -z "$ids" ] || xargs docker node inspect --format "{{.ID}} {{index .Spec.Labels \"railyard.node\"}} {{.Status.State}}" <<<"$ids" |
    awk -v n="$name" '$2 == n { print $1, $3 }'
}

forget_node() {
  local deadline=$((SECONDS + wait_s)) nodes up
  while :; do
    nodes=$(named_nodes)
    up=$(awk '$2 != "down" { print $1 }' <<<"$nodes")
    [ -n "$up" ] || break
    ((SECONDS < deadline)) || fail 33 "$name ($(q "$up")) is still up after ${wait_s}s: it did not leave; on it: docker swarm leave, then run again"
    sleep 1
  done
  if [ -z "$nodes" ]; then
    echo "railyard-nodes: no node labelled railyard.node=$name; nothing to remove" >&2
    return 0
  fi
  local down _state
  while read -r down _state; do
    docker node rm "$down" >/dev/null
    echo "railyard-nodes: removed $name ($down) from the swarm" >&2
  done <<<"$nodes"
}

# The node a database's data is on: its running service's railyard.node constraint (none: host).
database_node() {
  local constraints now="" c re='^node\.labels\.railyard\.node[[:space:]]*==[[:space:]]*([a-z0-9-]+)$'
  if ! constraints=$(service_field "$service" '{{range .Spec.TaskTemplate.Placement.Constraints}}{{println .}}{{end}}'); then
    echo "railyard-nodes: no service $service yet; nothing to check" >&2
    return 0
  fi
  while IFS= read -r c; do
    if [[ $c =~ $re ]]; then now=${BASH_REMATCH[1]}; fi
  done <<<"$constraints"
  now=${now:-host}
  if [ "$now" = "$node" ]; then
    echo "railyard-nodes: $service's data is on $node" >&2
  elif [ "$now" = "$move_from" ]; then
    echo "railyard-nodes: $service moves from $now to $node (moveFrom: $now); its data must be restored there" >&2
  else
    fail 34 "$service's data is on node $now; with node: $node it would start on an empty volume there. README 'Moving a database to another node': dump, set moveFrom: $now, deploy, restore, remove moveFrom"
  fi
}

main() {
  parse_args "$@"
  check_manager
  case "$action" in
    apply) apply_node ;;
    retire) retire_node ;;
    forget) forget_node ;;
    database-node) database_node ;;
  esac
}

if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
