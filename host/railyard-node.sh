#!/usr/bin/env bash
# railyard-node: join this machine to a railyard stack's swarm, or leave it. Runs ON the joining node.
set -euo pipefail
RAILYARD_SCRIPT=railyard-node
# The shared library lives beside the script; over SSH it is fed before this script on stdin (`bash -s`).
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-node.sh join --name NAME --manager HOST[:PORT] [--advertise-addr IP] [--timeout S]  < token
       railyard-node.sh leave --name NAME
       railyard-node.sh ports --manager HOST[:PORT] [--timeout S]

Runs on a machine joining a railyard stack's swarm (the main host, a manager, reads the token and sets labels).
  join   reads the swarm's join token from the first line of stdin (docker swarm join-token -q worker on the
         manager; never an argument), checks the engine and the ports toward the manager, and joins as a
         worker unless this node already is a member of the manager's swarm; a node in ANOTHER swarm is refused,
         never forced. Prints this node's swarm ID (the only line on stdout).
         The join goes to the Engine API (curl on the docker socket, or DOCKER_HOST tcp://) so the token is in
         no process's arguments: the node needs curl.
  leave  `docker swarm leave` (nothing when not in a swarm). A manager is refused: demote it first.
  ports  only the port checks of a join.
Ports: PORT (@default 2377) is the manager's swarm port, checked over TCP, and 7946/tcp (gossip) too. The
swarm's UDP ports, 7946/udp (gossip) and 4789/udp (VXLAN, the overlay network's traffic), cannot be probed
without a responder on the other end: open them in every firewall between the nodes (README: More than one
machine); a node that joins but whose tasks cannot reach the others usually has 4789/udp blocked.
Over SSH railyard runs it as `bash -s -- join ARGS` with railyard-lib.sh, this script and the token on stdin.

Arguments: NAME a lower-case node name (a-z, 0-9, inner -, at most 30); HOST an IPv4/IPv6 address or host
name; IP an address literal; S seconds to wait for each port (@default 5).

Exit codes:
  0   joined (or already a member), left (or not in a swarm), ports answer
  2   bad arguments
  3   no join token on stdin, or not one (SWMTKN-1-…)
  10  docker is not installed
  11  the Docker engine does not answer
  12  curl is not installed (the join sends the token to the engine's API with it)
  13  this node is in another swarm (leave it first: docker swarm leave)
  14  this node is a manager: it cannot leave before it is demoted (docker node demote, on another manager)
  15  this node's swarm is locked, pending or in error
  20  the manager's swarm port (HOST:PORT, 2377/tcp) does not answer from here
  21  the manager's gossip port (HOST:7946/tcp) does not answer from here
  22  the engine refused the join (its message follows)
USAGE
}

action="" name="" manager="" advertise="" wait_s=5
manager_host="" manager_port=2377

parse_args() {
  [ $# -gt 0 ] || { usage >&2; fail 2 "an action is needed: join, leave or ports"; }
  case "$1" in
    join|leave|ports) action=$1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) unknown_argument "$1" ;;
  esac
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) opt_value name "$@"; shift 2 ;;
      --manager) opt_value manager "$@"; shift 2 ;;
      --advertise-addr) opt_value advertise "$@"; shift 2 ;;
      --timeout) opt_value wait_s "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  if [ "$action" != ports ]; then check --name "$name" "a lower-case node name (a-z, 0-9, inner -, at most 30)" matches '^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$'; fi
  [ "$action" = leave ] || check --manager "$manager" "HOST[:PORT] (an IPv4 address, [IPv6] or host name; port 1 to 65535)" split_manager
  [ "$action" = join ] || [ -z "$advertise" ] || fail 2 "--advertise-addr is for join only"
  [ -z "$advertise" ] || check --advertise-addr "$advertise" "an IPv4 or IPv6 address" is_ip
  check --timeout "$wait_s" "whole seconds from 1 to 300" is_int_in 1 300
}

# split_manager VALUE: HOST[:PORT] into manager_host and manager_port (an IPv6 address in brackets with a port).
split_manager() {
  local v=$1 v6='^\[([^]]+)\](:([0-9]+))?$' v4='^([^:]+)(:([0-9]+))?$'
  if [[ $v =~ $v6 ]]; then
    manager_host=${BASH_REMATCH[1]} manager_port=${BASH_REMATCH[3]:-2377}
    is_ipv6 "$manager_host" || return 1
  elif is_ipv6 "$v"; then
    manager_host=$v manager_port=2377
  elif [[ $v =~ $v4 ]]; then
    manager_host=${BASH_REMATCH[1]} manager_port=${BASH_REMATCH[3]:-2377}
    if [[ $manager_host =~ ^[0-9.]+$ ]]; then is_ipv4 "$manager_host" || return 1; else is_domain "$manager_host" || return 1; fi
  else
    return 1
  fi
  is_port "$manager_port"
}

# The manager as `docker swarm join` and the Engine API write it: HOST:PORT, an IPv6 address in brackets.
manager_addr() {
  if [[ $manager_host == *:* ]]; then printf '[%s]:%s' "$manager_host" "$1"; else printf '%s:%s' "$manager_host" "$1"; fi
}

# read_token: the join token from the first line of stdin (after the script, when fed with it to `bash -s`).
read_token() {
  local re='^SWMTKN-1-[0-9a-z]{20,}-[0-9a-z]{20,}$'
  token=""
  # The first line that is not empty (fed after the script, a blank line may come first).
  while [ -z "$token" ] && IFS= read -r token; do token=${token%$'\r'}; done
  token=${token%$'\r'}
  [ -n "$token" ] || fail 3 "no join token on stdin; on the manager: docker swarm join-token -q worker | ssh NODE bash railyard-node.sh join ..."
  # The token is never printed, not even when malformed.
  [[ $token =~ $re ]] || fail 3 "the first line of stdin is not a swarm join token (SWMTKN-1-…); it is not shown"
}

# tcp_open HOST PORT: whether a TCP connection to HOST:PORT opens within wait_s seconds (bash's /dev/tcp).
tcp_open() {
  # shellcheck disable=SC2016  # expanded by the inner bash, from its own arguments
  timeout "$wait_s" bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

check_ports() {
  tcp_open "$manager_host" "$manager_port" ||
    fail 20 "the manager's swarm port $(manager_addr "$manager_port")/tcp does not answer from this node; open it in the firewalls between the nodes (and check the manager's address)"
  tcp_open "$manager_host" 7946 ||
    fail 21 "the manager's gossip port $(manager_addr 7946)/tcp does not answer from this node; open 7946/tcp and 7946/udp, and 4789/udp, between the nodes"
  echo "railyard-node: $(manager_addr "$manager_port")/tcp and $(manager_addr 7946)/tcp answer (7946/udp and 4789/udp cannot be probed: keep them open)" >&2
}

# The swarm state of this node: inactive, active, locked, pending or error.
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# engine_post PATH: POSTs stdin (JSON) to the local engine's API; prints the answer's body, status 1 unless 2xx.
engine_post() {
  local target=(--unix-socket /var/run/docker.sock "http://localhost$1") host=${DOCKER_HOST:-}
  case "$host" in
    unix://*) target=(--unix-socket "${host#unix://}" "http://localhost$1") ;;
    tcp://*) target=("http://${host#tcp://}$1") ;;
    "") ;;
    *) fail 22 "DOCKER_HOST $(q "$host") is neither unix:// nor tcp://; join by hand or unset it" ;;
  esac
  local out code
  out=$(curl --silent --show-error --max-time 120 -X POST -H 'Content-Type: application/json' --data-binary @- \
    -w '\n%{http_code}' "${target[@]}" 2>&1) || { printf '%s\n' "$out"; return 1; }
  code=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  [[ $code == 2?? ]]
}

join_swarm() {
  local state managers body answer
  state=$(swarm_state)
  case "$state" in
    locked|pending|error) fail 15 "this node's swarm is $state; repair it (docker info) or leave it (docker swarm leave --force) first" ;;
    active)
      managers=$(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')
      if [[ " $managers " == *" $(manager_addr "$manager_port") "* ]]; then
        echo "railyard-node: $name already is a member of the manager's swarm" >&2
        docker info --format '{{.Swarm.NodeID}}'
        return 0
      fi
      fail 13 "this node is in another swarm (its managers: $(q "${managers% }")); railyard does not force it out: docker swarm leave, then run again"
      ;;
  esac
  command -v curl >/dev/null 2>&1 || fail 12 "curl is not installed on this node; the join sends the token to the engine's API with it (Debian: apt-get install curl)"
  check_ports
  body="{\"ListenAddr\":\"0.0.0.0:2377\",\"RemoteAddrs\":[$(json_str "$(manager_addr "$manager_port")")],\"JoinToken\":$(json_str "$token")"
  [ -z "$advertise" ] || body+=",\"AdvertiseAddr\":$(json_str "$advertise")"
  body+="}"
  answer=$(engine_post /swarm/join <<<"$body") || fail 22 "the engine refused the join: ${answer//[[:cntrl:]]/ } (a token rotated since railyard read it: pulumi up --replace the node's -token command)"
  echo "railyard-node: $name joined the swarm of $(manager_addr "$manager_port")" >&2
  docker info --format '{{.Swarm.NodeID}}'
}

leave_swarm() {
  local state
  state=$(swarm_state)
  if [ "$state" = inactive ]; then
    echo "railyard-node: $name is not in a swarm; nothing to leave" >&2
    return 0
  fi
  # A demotion on the main host reaches this node's engine a moment later: wait up to 10 s before refusing.
  local until=$((SECONDS + 10))
  while [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = "true" ]; do
    ((SECONDS < until)) || fail 14 "$name is a manager; demote it first (on another manager: docker node demote <node>), then run again"
    sleep 1
  done
  docker swarm leave >/dev/null
  echo "railyard-node: $name left the swarm" >&2
}

main() {
  parse_args "$@"
  case "$action" in
    join) read_token; check_engine node; join_swarm ;;
    leave) check_engine node; leave_swarm ;;
    ports) check_ports ;;
  esac
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty;
# then `exit` ends bash before it could read the token line that follows the script as a command.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
  exit 0
fi
