#!/usr/bin/env bash
# railyard-gate: after a service update, let the release take traffic only when it is really healthy; otherwise
# roll the service back, show why, and fail.
set -euo pipefail
RAILYARD_SCRIPT=railyard-gate
# The shared library lives beside the script (or was fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
railyard_dir=${BASH_SOURCE[0]%/*}
[ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
if ! declare -F railyard_lib >/dev/null; then
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi
# The release store, where a failed gate of a release is recorded (absent beside a copy of the gate alone: nothing is).
if ! declare -F railyard_releases >/dev/null && [ -r "$railyard_dir/railyard-releases.sh" ]; then
  # shellcheck source=host/railyard-releases.sh
  source "$railyard_dir/railyard-releases.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-gate.sh --service NAME --image IMAGE [--release HASH] [--state-dir DIR]
                        [--port PORT --path PATH] [--url URL [--host HOST]]
                        [--attempts N] [--interval SECONDS] [--stable SECONDS] [--since EPOCH] [--insecure]
       railyard-gate.sh --settle --service NAME [--timeout SECONDS]

Waits up to N attempts (default 30) × INTERVAL seconds (default 5), watching every half second, until every
replica of Swarm service NAME runs the declared release and answers its health check. The release's tasks are
those whose env holds RAILYARD_RELEASE=HASH (--release, as railyard deploys); without --release,
those whose task template (the whole container spec: image, command, env, secrets, health check…; resources,
restart policy, logging, networks; not placement, which Swarm changes without replacing tasks) is the service's
current one, whose image must be IMAGE. On each attempt:
  - a task of the release that failed, was rejected or exited since EPOCH (default: when the update started)
    fails the gate at once, without waiting out the attempts; so does Swarm rolling the update back itself;
    a task whose container the engine lost (an engine restart, "No such container") or whose node was lost
    (orphaned) is not the release's failure: the gate waits for Swarm to start it again;
  - a task of the release counts as up only once it has run for --stable SECONDS (default 5): a release that
    crashes a few seconds after it starts (an import error in a worker with no health check) fails the gate
    instead of passing it;
  - with --port/--path, every running task of the release is probed from inside (curl or wget on 127.0.0.1); a
    bad component fails the gate at once, unless the engine restarted during this run (what the tasks depend on
    restarts too: it is then waited on within the attempts). A task on another node of the swarm (its container
    is not on this one) is probed at its address on the stack's overlay network, from a running container on
    this node attached to that network that has curl or wget (one of the same service first, else any, e.g.
    the edge's Caddy), else from a throwaway container of IMAGE when IMAGE is on this node (docker run --rm
    --pull never: nothing is pulled); when there is neither, the gate says so once and takes Swarm's own health
    check for that task (it counts once Swarm runs it);
  - with --url, the service is probed as users reach it (through the edge; --host sets the Host header and
    TLS name, --insecure accepts the origin certificate).
A probe passes on HTTP 200 and, when the body is JSON with component statuses (status, database, redis,
queue, cache, db), only when each is ok/healthy/up/pass (absent/disabled components are ignored).
While the engine does not answer (it restarts), the gate waits within its attempts.

A failed release always ends with an explanation: for each failed task (the newest 5) the reason — crash
(exit code; out of memory), unhealthy (its health check, with the check's last output), rejected (Swarm's
error, e.g. no such image), exited 0 — and its last 50 log lines (from any node: docker service logs); for a
task that ran on another node, what only its container knew there (out of memory, the check's output) is
not shown, and the reason names the node, whoever rolled it back (this gate, or Swarm's
failure action before or while the gate ran). With --state-dir the explanation is recorded in
DIR/gate-NAME-HASH.txt (DIR is created if missing); a later run for the same release, which still does not
serve, fails (43) and prints what failed the first time (from Swarm's task history while it holds the tasks,
else from the record).
On failure the service is rolled back (docker service rollback) and waited on until the previous release runs
every replica. Never to a release Swarm rolled back from: when the declared release serves because Swarm (or
a gate) rolled back to it, a re-run judges its tasks, passes when they are healthy and fails without rolling
back when they are not. When Swarm rolled the declared release back only because the engine killed its tasks
(every failed task is engine-lost), the gate applies the declared release again (docker service rollback) and
judges it.
Only a service railyard deployed (it carries a railyard.stack label) is gated: any other is refused (2) before
anything is changed.

--settle: for services whose updates Swarm alone judges (the edge, its front, databases: no probe of their own,
their failure action rollback or pause). The provider's convergeConfig returns as soon as every replica runs,
while Swarm may still roll the update back within its monitor window; this waits up to SECONDS (default 300)
until Swarm's update of NAME is completed (or there is none) and every replica runs the service's current spec.
It fails when Swarm rolled the update back (44: after waiting for the previous release to run again) or paused
it or its rollback (45), printing Swarm's message and, for each task that failed since the update started (the
newest 5), its reason and last 50 log lines. It never rolls back itself.

Arguments: NAME a Swarm service name (lower-case letters, digits and inner hyphens, at most 63 characters,
starting with a letter); HASH 12 lower-case hex digits; DIR an absolute path; PORT 1 to 65535, given together
with PATH; URL http[s]://HOST[:PORT][/PATH]; --host and --insecure only with --url; N 1 to 999; SECONDS above 0
(decimals allowed, e.g. 0.5). With --settle only --service and --timeout (whole seconds, 1 to 86400).

Exit codes:
  0   every running task runs the release and is healthy (--settle: Swarm completed the update, all replicas run)
  2   bad arguments, no service NAME, NAME has no railyard.stack label, or DIR cannot be made (nothing changed)
  40  a task of the release failed or exited, or Swarm rolled it back (before or while this gate ran): rolled back
  41  not healthy within the attempts (rolled back, unless the previous spec is a release Swarm rolled back from)
  42  the rollback did not bring the previous release back within 120 s, or there is none (a first deploy), or
      the Docker engine (or its swarm manager) did not answer within 120 s
  43  the service does not run the declared release: an earlier run reported its failure (or, without
      --state-dir, it was rolled back before this run); prints what failed; nothing is changed
  44  --settle: Swarm rolled the update back (also when it did so before this run)
  45  --settle: Swarm paused the update or its rollback (the service may run a mix: fix it, deploy again)
  46  --settle: not settled within SECONDS (Swarm still updating, or replicas not running)
  47  Swarm rolled the release back only because the engine lost its tasks (an engine restart), and the service
      keeps no copy of it to apply again: not a failure of the release; `pulumi up` again applies it
USAGE
}

service="" image="" release="" state_dir="" port="" path="" url="" host="" attempts=30 interval=5 stable=5 since="" insecure=0 settle=0 settle_timeout=""
# Options of the health gate that --settle does not take (it waits on Swarm's own update).
gate_only=()
# The service's ID, once it is known to be railyard's (docker commands use it: a name can also match an ID prefix).
sid=""
# The declared release (--release, or the hash of its whole task template) and the one the service's spec holds.
want="" serving=""
# 1 when the declared release serves because Swarm (or a gate) rolled another back to it: never rolled back from.
rolled_back_to=0
# 1 once this run saw the engine restart (it did not answer, or it lost tasks of the release): what the tasks depend
# on restarts too, so a bad component status is then waited on within the attempts, not a failure at once.
engine_restarted=0

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --image) opt_value image "$@"; gate_only+=("$1"); shift 2 ;;
      --release) opt_value release "$@"; gate_only+=("$1"); shift 2 ;;
      --state-dir) opt_value state_dir "$@"; gate_only+=("$1"); shift 2 ;;
      --port) opt_value port "$@"; gate_only+=("$1"); shift 2 ;;
      --path) opt_value path "$@"; gate_only+=("$1"); shift 2 ;;
      --url) opt_value url "$@"; gate_only+=("$1"); shift 2 ;;
      --host) opt_value host "$@"; gate_only+=("$1"); shift 2 ;;
      --attempts) opt_value attempts "$@"; gate_only+=("$1"); shift 2 ;;
      --interval) opt_value interval "$@"; gate_only+=("$1"); shift 2 ;;
      --stable) opt_value stable "$@"; gate_only+=("$1"); shift 2 ;;
      --since) opt_value since "$@"; gate_only+=("$1"); shift 2 ;;
      --insecure) insecure=1; gate_only+=("$1"); shift ;;
      --settle) settle=1; shift ;;
      --timeout) opt_value settle_timeout "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --service "$service" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
  if [ "$settle" = 1 ]; then
    [ "${#gate_only[@]}" -eq 0 ] || fail 2 "${gate_only[0]} cannot be used with --settle (it waits on Swarm's own update)"
    settle_timeout=${settle_timeout:-300}
    check --timeout "$settle_timeout" "whole seconds, 1 to 86400" is_int_in 1 86400
    return 0
  fi
  [ -z "$settle_timeout" ] || fail 2 "--timeout needs --settle"
  check --image "$image" "an image reference ([registry[:port]/]path[:tag][@digest])" is_image
  [ -z "$release" ] || check --release "$release" "12 lower-case hex digits (a RAILYARD_RELEASE value)" matches '^[0-9a-f]{12}$'
  [ -z "$state_dir" ] || check --state-dir "$state_dir" "an absolute path (letters, digits, . _ - between slashes)" is_abs_path
  [ -z "$port" ] || check --port "$port" "a port number (1 to 65535)" is_port
  [ -z "$path" ] || check --path "$path" "an HTTP path (/, then letters, digits and ._~%/?=&-)" is_http_path
  [[ -z "$port" || -n "$path" ]] || fail 2 "--port needs --path"
  [[ -z "$path" || -n "$port" ]] || fail 2 "--path needs --port"
  [ -z "$url" ] || check --url "$url" "an http(s) URL (http[s]://HOST[:PORT][/PATH], PORT 1 to 65535)" is_url
  [ -z "$host" ] || check --host "$host" "a lower-case domain" is_domain
  [[ -z "$host" || -n "$url" ]] || fail 2 "--host needs --url"
  [[ "$insecure" = 0 || -n "$url" ]] || fail 2 "--insecure needs --url"
  check --attempts "$attempts" "1 to 999" is_int_in 1 999
  check --interval "$interval" "seconds above 0 (at most 99999, up to 3 decimals)" is_seconds
  check --stable "$stable" "whole seconds, 0 to 3600" is_int_in 0 3600
  [ -z "$since" ] || check --since "$since" "a Unix time in seconds" is_int_in 0 9999999999
}

# Whether docker cannot connect to the engine, or the engine answers but its swarm manager does not yet (right
# after a restart: "the swarm does not have a leader"). Either may be a restart; any other failure is left to the
# command that meets it.
engine_unreachable() {
  local out
  if ! out=$(docker version --format '{{.Server.Version}}' 2>&1); then
    [[ "$out" =~ Cannot\ connect|error\ during\ connect|connection\ refused ]]
    return
  fi
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null || true)" = false ]
}

# Waits (up to 120 s) while docker cannot connect to the engine.
wait_engine() {
  local deadline=$((SECONDS + 120)) said=0
  while engine_unreachable; do
    [ "$SECONDS" -lt "$deadline" ] || fail 42 "the Docker engine (or its swarm manager) did not answer within 120 s"
    [ "$said" = 1 ] || { echo "railyard-gate: the Docker engine does not answer (restarting?); waiting" >&2; said=1; }
    engine_restarted=1
    sleep 1
  done
}

# again CMD…: sets again_out to CMD's output, running it again (for up to 120 s) while it fails because the engine
# does not answer (it restarts: engine_restarted=1); the status of its last run.
again_out=""
again() {
  local try
  for try in $(seq 1 120); do
    again_out=$("$@") && return 0
    engine_unreachable || return 1
    engine_restarted=1
    [ "$try" -gt 1 ] || echo "railyard-gate: the Docker engine does not answer (restarting?); waiting" >&2
    sleep 1
  done
  return 1
}

# Only a service railyard deployed (it carries a railyard.stack label) is gated, and so maybe rolled back.
require_railyard_service() {
  local info stack
  again service_field "$service" '{{.ID}} {{index .Spec.Labels "railyard.stack"}}' || fail 2 "no Swarm service named $service"
  info=$again_out
  read -r sid stack <<<"$info"
  [ -n "$stack" ] ||
    fail 2 "$service has no railyard.stack label: railyard-gate gates and rolls back only services railyard deployed (nothing is changed)"
}

# Swarm's state of the last update: updating, completed, rollback_started, rollback_completed, paused… ("" if none).
update_state() { docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$sid" 2>/dev/null || true; }

# Whether a task's image is IMAGE (Swarm may append @sha256:… to what was declared).
runs_image() { [[ "$1" == "$image" || "$1" == "$image@"* ]]; }

# A task template as the key reads it: its container spec whole (image, command, env, secrets, configs, mounts,
# health check, labels…), resources, restart policy, logging, networks and forced-update counter. Not its placement:
# Swarm keeps running tasks whose placement alone changed (their view keeps the old one).
TEMPLATE='{{json .ContainerSpec}}|{{with .Resources}}{{json .}}{{end}}|{{with .RestartPolicy}}{{json .}}{{end}}|{{with .LogDriver}}{{json .}}{{end}}|{{with .Networks}}{{json .}}{{end}}|{{.ForceUpdate}}'

# A container spec's RAILYARD_RELEASE=… entry of its env (nothing when it has none).
RELEASE_VAR='{{range .Env}}{{if eq (printf "%.17s" .) "RAILYARD_RELEASE="}}{{.}}{{end}}{{end}}'

# The key of a template read with TEMPLATE (one line on stdin): a hash. `docker service inspect` fills in Swarm's
# defaults where the stored template has none (stop grace period 10 s, empty DNS config and resources, restart
# policy any with a 5 s delay); a task's view is the stored template as is. So those default values are dropped
# from either side.
template_key() {
  sed -E 's/,"StopGracePeriod":10000000000//; s/,"DNSConfig":\{\}//; s/\|\{\}\|/||/;
    s/("RestartPolicy"|\|)(\{"Condition":"[a-z-]+"),"Delay":5000000000/\1\2/; s/\|\{"Condition":"any","MaxAttempts":0\}\|/||/' |
    md5sum | cut -c1-12
}

# The release of the service's Spec or PreviousSpec (WHICH): its RAILYARD_RELEASE with --release, else the
# key of its task template; "" when there is none; status 1 when the engine does not answer.
spec_key() {
  local which=$1 out
  if [ -n "$release" ]; then
    out=$(docker service inspect --format "{{with .$which}}{{with .TaskTemplate.ContainerSpec}}$RELEASE_VAR{{end}}{{end}}" "$sid" 2>/dev/null) || return 1
    printf '%s\n' "${out#RAILYARD_RELEASE=}"
    return 0
  fi
  out=$(docker service inspect --format "{{with .$which}}{{with .TaskTemplate}}$TEMPLATE{{end}}{{end}}" "$sid" 2>/dev/null) || return 1
  [ -z "$out" ] || template_key <<<"$out"
}

# One line per task: ID STATE DESIRED CREATED(epoch) RELEASE IMAGE ERR (one docker inspect for all tasks), RELEASE
# read as spec_key reads it, ERR Swarm's error (- when none; it may hold spaces: last).
task_lines() {
  local ids id state desired created img err key fmt="{{with .Spec}}$TEMPLATE{{end}}"
  [ -z "$release" ] || fmt="{{with .Spec.ContainerSpec}}$RELEASE_VAR{{end}}-"
  mapfile -t ids < <(docker service ps -q --no-trunc "$sid" 2>/dev/null || true)
  [ "${#ids[@]}" -gt 0 ] || return 0
  while IFS=$'\t' read -r id state desired created img err key; do
    if [ -n "$release" ]; then key=${key#RAILYARD_RELEASE=}; key=${key%-}; key=${key:--}; else key=$(template_key <<<"$key"); fi
    echo "$id $state $desired $created $key $img $err"
  done < <(docker inspect 2>/dev/null --format "{{.ID}}	{{.Status.State}}	{{.DesiredState}}	{{.CreatedAt.Unix}}	{{.Spec.ContainerSpec.Image}}	{{with .Status.Err}}{{.}}{{else}}-{{end}}	$fmt" "${ids[@]}")
}

# Whether a task ended by the engine's doing, not the release's (STATE ERR): an engine restart removes every task's
# container ("No such container"), a lost node orphans its tasks.
engine_lost() { [[ "$1" == orphaned || "$2" == "No such container"* ]]; }

# Whether a task in STATE (desired DESIRED) is a failure of its release: it failed, was rejected or exited (a
# service's process must keep running), or was shut down while Swarm wanted it running.
ended_badly() { [[ "$1" =~ ^(failed|rejected|complete)$ || ("$1" == shutdown && "$2" != shutdown) ]]; }

# Health of a JSON body: no component status other than ok/healthy/up/pass (absent/disabled ignored).
# (A body that is not JSON has no statuses and passes on its HTTP 200.)
body_ok() {
  local bad
  bad=$(grep -oE '"(status|database|db|redis|queue|cache)"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$1" |
    sed -E 's/.*:[[:space:]]*"([^"]*)"/\1/' | grep -viE '^(ok|healthy|up|pass|passing|absent|disabled)$' || true)
  [ -z "$bad" ]
}

# The probe's shell line (run by the shell of a container: its $0 is the URL).
# shellcheck disable=SC2016  # $0 belongs to the container's shell
PROBE_SH='curl -fsS -m 5 "$0" 2>/dev/null || wget -q -T 5 -O - "$0"'

# 0 healthy; 1 no answer or not 200 yet (try again); 3 answered with a bad component status (fail now).
probe_task() {
  local container=$1 out
  # The URL is fixed by the validated port and path; the task's own shell runs curl or wget.
  out=$(docker exec "$container" sh -c "$PROBE_SH" "http://127.0.0.1:$port$path" 2>/dev/null) || return 1
  body_ok "$out" || return 3
}

# Whether task node NODE is another node than this one (read once: while it cannot be read, every task is taken
# for a local one, as on a single node).
local_node=""
on_other_node() {
  [ -n "$local_node" ] || local_node=$(docker info --format '{{.Swarm.NodeID}}' 2>/dev/null || true)
  [ -n "$1" ] && [ -n "$local_node" ] && [ "$1" != "$local_node" ]
}

# A node's railyard name (its railyard.node label), else its host name, else its ID.
node_name() {
  local name
  name=$(docker node inspect --format '{{with index .Spec.Labels "railyard.node"}}{{.}}{{else}}{{.Description.Hostname}}{{end}}' "$1" 2>/dev/null || true)
  echo "${name:-$1}"
}

# probe_any_task ID STATE: probes a running (or starting) task wherever it runs, as probe_task answers. A task on
# this node is probed from inside its container; one on another node at its overlay address (probe_remote).
probe_any_task() {
  local info node container nets first net addr
  info=$(docker inspect --format '{{.NodeID}}|{{with .Status.ContainerStatus}}{{.ContainerID}}{{end}}|{{range .NetworksAttachments}}{{if not .Network.Spec.Ingress}}{{.Network.Spec.Name}}={{join .Addresses ","}} {{end}}{{end}}' "$1" 2>/dev/null) || return 1
  IFS='|' read -r node container nets <<<"$info"
  if ! on_other_node "$node"; then
    [ -n "$container" ] || return 1
    probe_task "$container"
    return
  fi
  first=${nets%% *}
  net=${first%%=*} addr=${first#*=}
  addr=${addr%%,*}
  addr=${addr%/*}
  [ -n "$net" ] && [ -n "$addr" ] && [ "$first" != "$net" ] || return 1
  [[ "$addr" != *:* ]] || addr="[$addr]"
  probe_remote "$1" "$2" "$node" "$net" "$addr"
}

# How tasks on other nodes are probed from this one: "exec CONTAINER" (a running container here on NETWORK with
# curl or wget), "run" (a throwaway container of IMAGE, which is on this node) or "none"; found once a network.
prober="" prober_net="" prober_said=0
find_prober() {
  local net=$1 c
  prober_net=$net prober=none
  # The same service's containers first (their shell has what the health check uses), then any on the network.
  for c in $(docker ps -q --filter status=running --filter "label=com.docker.swarm.service.id=$sid" --filter "network=$net" 2>/dev/null || true) \
    $(docker ps -q --filter status=running --filter "network=$net" 2>/dev/null || true); do
    if docker exec "$c" sh -c 'command -v curl || command -v wget' >/dev/null 2>&1; then prober="exec $c"; return 0; fi
  done
  if docker image inspect "$image" >/dev/null 2>&1; then prober=run; fi
}

# probe_remote ID STATE NODE NETWORK ADDRESS: the task's health URL at its overlay address, from this node.
probe_remote() {
  local id=$1 state=$2 node=$3 net=$4 addr=$5 out code=0
  if [ "$prober_net" != "$net" ] || [ -z "$prober" ]; then find_prober "$net"; fi
  case "$prober" in
    exec\ *)
      out=$(docker exec "${prober#exec }" sh -c "$PROBE_SH" "http://$addr:$port$path" 2>/dev/null) || code=1
      # The prober's container may have gone (a task replaced): found again on the next look.
      [ "$code" = 0 ] || [ "$(docker inspect --format '{{.State.Running}}' "${prober#exec }" 2>/dev/null || true)" = true ] || prober="" ;;
    run)
      out=$(timeout 30 docker run --rm --pull never --network "$net" --label railyard.role=gate-probe --entrypoint sh "$image" \
        -c "$PROBE_SH" "http://$addr:$port$path" 2>/dev/null) || code=1 ;;
    *)
      if [ "$prober_said" = 0 ]; then
        echo "railyard-gate: $service: task $id runs on node $(node_name "$node"), and nothing on this node can reach it over $net (no running container on it here has curl or wget, and $image is not here): its health is Swarm's own health check" >&2
        prober_said=1
      fi
      [ "$state" = running ] || return 1
      return 0 ;;
  esac
  [ "$code" = 0 ] || return 1
  body_ok "$out" || return 3
}

probe_url() {
  local args=(-sS -m 5 -w '\n%{http_code}') out code body target=$url
  [ "$insecure" = 1 ] && args+=(-k)
  if [ -n "$host" ]; then
    # Connect where --url points, but speak to (and verify) the domain: scheme + HOST + port + path.
    split_url "$url"
    args+=(--connect-to "$host:$url_port:$url_host:$url_port")
    target="$url_scheme://$host:$url_port$url_path"
  fi
  out=$(curl "${args[@]}" "$target" 2>/dev/null) || out=$'\n000'
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  [ "$code" = 200 ] && body_ok "$body"
}

# Why task ID ended, in a few words: rejected (Swarm's error), unhealthy (its health check's last result), crash
# (exit code; out of memory), exited 0, lost by the engine, or its state and Swarm's error.
task_reason() {
  local info state code cid err cinfo oom health check node where=""
  info=$(docker inspect --format '{{.Status.State}}|{{with .Status.ContainerStatus}}{{.ExitCode}}|{{.ContainerID}}{{else}}|{{end}}|{{.Status.Err}}' "$1" 2>/dev/null) ||
    { echo "gone from Swarm's task history"; return 0; }
  IFS='|' read -r state code cid err <<<"$info"
  oom=false health="" check=""
  if [ -n "$cid" ] && cinfo=$(docker inspect --format '{{.State.OOMKilled}}|{{.State.ExitCode}}|{{with .State.Health}}{{.Status}}{{end}}' "$cid" 2>/dev/null); then
    IFS='|' read -r oom code health <<<"$cinfo"
    [ "$health" != unhealthy ] ||
      check=$(docker inspect --format '{{with .State.Health}}{{range .Log}}exit {{.ExitCode}}{{with .Output}}, output {{printf "%.200q" .}}{{end}}{{"\n"}}{{end}}{{end}}' "$cid" 2>/dev/null | sed '/^$/d' | tail -n 1)
  elif [ -n "$cid" ] && node=$(docker inspect --format '{{.NodeID}}' "$1" 2>/dev/null) && on_other_node "$node"; then
    # Its container is on another node: Swarm's error says when the health check stopped it.
    where=" on node $(node_name "$node")"
    [[ "$err" != *"unhealthy container"* ]] || health=unhealthy
  fi
  # A process that dies on its own while its health check fails is a crash; one stopped (0, 137, 143) for
  # failing it is unhealthy.
  if engine_lost "$state" "$err"; then echo "lost by the engine, not the release's failure: ${err:-$state}$where"
  elif [ "$state" = rejected ]; then echo "rejected: ${err:-Swarm gave no reason}$where"
  elif [ "$oom" = true ]; then echo "crash (exit ${code:-137}, out of memory)"
  elif [[ "$health" == unhealthy && "${code:-0}" =~ ^(0|137|143)$ ]]; then
    echo "unhealthy: its health check failed${check:+ (last check: $check)}${where:+$where (its output: docker inspect $cid there)}"
  elif [[ -n "$code" && "$code" != 0 ]]; then echo "crash (exit $code)${where:+$where (whether out of memory: docker inspect $cid there)}"
  elif [ "$state" = complete ]; then echo "exited 0 (a service's process must keep running)$where"
  else echo "$state${err:+: $err}$where"
  fi
}

# What failed, for each task ID (at most 5, as given: newest first): its reason and last 50 log lines, on stdout.
explain_tasks() {
  local id out
  [ $# -le 5 ] || echo "railyard-gate: $service: $# tasks failed; the newest 5:"
  for id in "${@:1:5}"; do
    out=$(timeout 5 docker service logs --raw --tail 50 "$id" 2>&1 || true)
    if [ -n "$out" ]; then
      echo "railyard-gate: task $id: $(task_reason "$id"); its last 50 log lines:"
      printf '%s\n' "$out"
    else
      echo "railyard-gate: task $id: $(task_reason "$id"); it left no log lines"
    fi
  done
}

# The record of release WANT's failure (with --state-dir).
record_file() { echo "$state_dir/gate-$service-$want.txt"; }

# Whether FILE records this episode's failure: written since the service's last update (or rollback) started. An
# older one is from an earlier rollout of the same release, since applied again: stale.
record_current() { [ -e "$1" ] && [ "$(stat -c %Y "$1" 2>/dev/null || echo 0)" -ge "$(again update_since && echo "$again_out" || echo 0)" ]; }

# Prints TEXT (what failed) on stderr and records it (with --state-dir), unless a record exists already.
report_failure() {
  local text=$1 file
  printf '%s\n' "$text" >&2
  [ -n "$state_dir" ] || return 0
  file=$(record_file)
  ! record_current "$file" || return 0
  (umask 077 && printf 'railyard-gate: %s: release %s failed (reported %s):\n%s\n' "$service" "$want" "$(date -u +%FT%TZ)" "$text" >"$file.tmp" && mv "$file.tmp" "$file") ||
    echo "railyard-gate: could not record the failure in $file" >&2
}

# The release's tasks (key KEY) that ended badly, newest first (sets failed; lost: those the engine lost), created
# since EPOCH.
failed=() lost=()
collect_failed() {
  local key=$1 epoch=$2 id state desired created tkey err
  failed=() lost=()
  while read -r id state desired created tkey _ err; do
    [[ "$tkey" == "$key" && "$created" -ge "$epoch" ]] || continue
    if engine_lost "$state" "$err"; then lost+=("$id")
    elif ended_badly "$state" "$desired"; then failed+=("$id")
    fi
  done < <(task_lines | sort -k4,4nr)
}

# Whether every replica runs the service's current spec and no other task should run (sets replicas and current).
replicas=0 current=0
release_runs() {
  local key tkey state desired other=0
  replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$sid" 2>/dev/null) || { replicas=-1; return 1; }
  key=$(spec_key Spec) || return 1
  current=0
  while read -r _ state desired _ tkey _; do
    [ "$desired" = running ] || continue
    if [ "$tkey" = "$key" ]; then [ "$state" = running ] && current=$((current + 1)); else other=$((other + 1)); fi
  done < <(task_lines)
  [ "$current" -ge "$replicas" ] && [ "$other" -eq 0 ]
}

rollback() {
  local code=$1 why=$2 text
  shift 2
  echo "railyard-gate: $service: $why (after $(($(date +%s) - since)) s of the update)" >&2
  if [ "$rolled_back_to" = 1 ]; then
    # The previous spec is the release Swarm rolled back from (or none): never rolled "back" to it.
    report_failure "$(explain_tasks "$@")"
    fail "$code" "$service: release $want serves because an update was rolled back to it, and now fails; not rolled back (the previous spec is the release rolled back from): fix the release and deploy again"
  fi
  echo "railyard-gate: $service: rolling back" >&2
  local state try
  # Never roll "back" twice: after a rollback the previous spec is the failed release. Swarm's own failure
  # action may start one between our read and our command: re-read before giving up.
  for try in 1 2; do
    state=$(update_state)
    if [[ "$state" == rollback_* ]]; then
      echo "railyard-gate: Swarm is already rolling $service back" >&2
      break
    fi
    if [ -z "$(docker service inspect --format '{{if .PreviousSpec}}yes{{end}}' "$sid" 2>/dev/null || true)" ]; then
      report_failure "$(explain_tasks "$@")"
      fail 42 "$service has no previous release to roll back to (a first deploy): fix the release and deploy again"
    fi
    docker service rollback --detach "$sid" >/dev/null 2>&1 && break
    [ "$try" = 1 ] || { report_failure "$(explain_tasks "$@")"; fail 42 "$service: docker service rollback failed"; }
    sleep 0.5
  done
  # The rollback runs while the failure is explained.
  text=$(explain_tasks "$@")
  report_failure "$text"
  # Done when the previous release (now the service's spec) runs every replica and nothing else runs.
  local deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if release_runs && [[ "$(update_state)" == rollback_* ]]; then
      fail "$code" "$service rolled back: the previous release runs again on $current task(s) ($(($(date +%s) - since)) s after the update started); the update failed"
    fi
    sleep 0.5
  done
  fail 42 "$service: the rollback did not complete within 120 s"
}

# The declared release: --release, or (without it) the key of the template that runs IMAGE: the service's spec,
# else its previous spec (a gate rolled it back), else the newest task with IMAGE (Swarm rolled it back).
resolve_release() {
  local id created tkey img
  if [ -n "$release" ]; then want=$release; return 0; fi
  if runs_image "$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$sid" 2>/dev/null || true)"; then
    want=$(spec_key Spec)
  elif runs_image "$(docker service inspect --format '{{with .PreviousSpec}}{{.TaskTemplate.ContainerSpec.Image}}{{end}}' "$sid" 2>/dev/null || true)"; then
    want=$(spec_key PreviousSpec)
  else
    while read -r id _ _ created tkey img _; do
      runs_image "$img" && { want=$tkey; break; }
    done < <(task_lines | sort -k4,4nr)
  fi
  [ -n "$want" ] ||
    fail 43 "$service runs $(q "$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$sid" 2>/dev/null || true)"), not the declared $image, and no task of $image is left in Swarm's history; deploy again"
}

# The declared release does not serve: Swarm (its failure action) or an earlier gate rolled it back, before this
# run (SINCE_START=1: while this gate watched). Explains, records and fails; when the engine alone killed its tasks,
# applies it again and returns.
not_serving() {
  local while_watching=$1 record
  collect_failed "$want" 0
  [ -z "$state_dir" ] || record=$(record_file)
  if [ -n "${record:-}" ] && record_current "$record"; then
    echo "railyard-gate: $service: what failed release $want the first time:" >&2
    if [ "${#failed[@]}" -gt 0 ]; then explain_tasks "${failed[@]}" >&2; else tail -n +2 "$record" >&2; fi
    fail 43 "$service runs release ${serving:-none} ($(q "$(current_image)")), not the declared $want ($image): it was rolled back ($(head -n 1 "$record" | sed -E 's/.*\((reported [^)]*)\).*/\1/')); fix the release and deploy again"
  fi
  if [ "${#failed[@]}" -eq 0 ] && [ "${#lost[@]}" -gt 0 ]; then reapply; return 0; fi
  local who="before this gate ran"
  [ "$while_watching" = 0 ] || who="while this gate watched"
  if [ "${#failed[@]}" -eq 0 ]; then
    fail 43 "$service runs release ${serving:-none} ($(q "$(current_image)")), not the declared $want ($image); Swarm's history holds no failed task of it (nothing is changed)"
  fi
  report_failure "$(explain_tasks "${failed[@]}")"
  await_previous
  if [ "$while_watching" = 0 ] && [ -z "$state_dir" ]; then
    fail 43 "$service runs release ${serving:-none} ($(q "$(current_image)")), not the declared $want ($image): it was rolled back $who (nothing is changed)"
  fi
  fail 40 "$service: release $want ($image) was rolled back by Swarm (its failure action) $who; the previous release serves. Fix the release and deploy again"
}

# Waits (up to 120 s) until the release that serves runs every replica (Swarm may still be rolling back).
await_previous() {
  local deadline=$((SECONDS + 120))
  until release_runs; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "railyard-gate: $service: the previous release does not run every replica yet ($current of $replicas)" >&2; return 0; }
    sleep 0.5
  done
}

current_image() { docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$sid" 2>/dev/null || true; }

# Swarm rolled the declared release back only because the engine lost its tasks (a restart): not the release's
# failure. When the service still holds it as its previous spec (a rollback swaps them), it is applied again (once);
# otherwise (Swarm's own rollback keeps no previous spec) the next `pulumi up` applies it (47).
reapplied=0
reapply() {
  local previous
  previous=$(spec_key PreviousSpec || true)
  if [ "$reapplied" = 0 ] && [ "$previous" = "$want" ] && [[ "$(update_state)" != rollback_started ]]; then
    echo "railyard-gate: $service: release $want was rolled back only because the engine lost its tasks (${#lost[@]}: an engine restart); applying it again" >&2
    docker service rollback --detach "$sid" >/dev/null 2>&1 || fail 42 "$service: docker service rollback (to apply $want again) failed"
    reapplied=1 since=$(date +%s) serving=$want
    return 0
  fi
  fail 47 "$service: Swarm rolled release $want back only because the engine lost its tasks (${#lost[@]}: an engine restart), not because it failed; the service keeps no copy of it: run \`pulumi up\` again to apply it"
}

# Whether task ID has been running for --stable seconds (since Swarm last set its state: running).
ran_for_stable() {
  local at
  [ "$stable" -gt 0 ] || return 0
  at=$(docker inspect --format '{{.Status.Timestamp.Unix}}' "$1" 2>/dev/null) || return 1
  [ $(($(date +%s) - at)) -ge "$stable" ]
}

# One look at the release's tasks (attempt ATTEMPT; SAY=1 prints what is not healthy yet). Sets failed (tasks of
# the release that failed or exited since the update started, newest first), running, running_new, healthy (every
# probed task passed) and bad (a task reported an unhealthy component).
running=0 running_new=0 healthy=1 bad=0
scan_tasks() {
  local attempt=$1 say=$2 id state desired tkey verdict
  running=0 running_new=0 healthy=1 bad=0
  collect_failed "$want" "$since"
  while read -r id state desired _ tkey _; do
    [ "$desired" = running ] || continue
    running=$((running + 1))
    [ "$tkey" = "$want" ] || continue
    if [ "$state" = running ]; then
      if ran_for_stable "$id"; then
        running_new=$((running_new + 1))
      elif [ "$say" = 1 ]; then
        echo "railyard-gate: attempt $attempt: task $id has not run for ${stable}s yet" >&2
      fi
    fi
    # A task whose container runs is probed even before Swarm calls it healthy ("starting"): a release that
    # reports a bad component is caught before it replaces any old task.
    if [ -n "$port" ] && [[ "$state" == running || "$state" == starting ]]; then
      verdict=0
      probe_any_task "$id" "$state" || verdict=$?
      [ "$verdict" = 3 ] && bad=1
      [ "$verdict" = 0 ] || { healthy=0; [ "$say" = 0 ] || echo "railyard-gate: attempt $attempt: task $id is not healthy yet" >&2; }
    fi
  done < <(task_lines)
  return 0
}

# Watches the release every half second until it is healthy (exit 0) or fails (rollback); the attempts ×
# interval budget bounds how long it may take to become healthy (an attempt is one interval of it).
watch_release() {
  local budget_ms started_ms elapsed_ms attempt=0 previous_attempt say ustate replicas now lost_said=0
  budget_ms=$(awk -v a="$attempts" -v i="$interval" 'BEGIN { printf "%d", a * i * 1000 }')
  started_ms=$(date +%s%3N)
  while :; do
    elapsed_ms=$(($(date +%s%3N) - started_ms))
    [ "$elapsed_ms" -le "$budget_ms" ] || break
    previous_attempt=$attempt
    attempt=$(awk -v e="$elapsed_ms" -v i="$interval" 'BEGIN { printf "%d", int(e / (i * 1000)) + 1 }')
    say=0
    [ "$attempt" = "$previous_attempt" ] || say=1
    # While the engine restarts nothing is judged.
    if ! now=$(spec_key Spec); then
      engine_restarted=1
      [ "$say" = 0 ] || echo "railyard-gate: attempt $attempt: the Docker engine does not answer (restarting?)" >&2
      sleep 1
      continue
    fi
    if [ "$now" != "$want" ]; then
      serving=$now
      not_serving 1
      continue
    fi
    scan_tasks "$attempt" "$say"
    [ "${#lost[@]}" -eq 0 ] || engine_restarted=1
    if [ "${#lost[@]}" -gt 0 ] && [ "$lost_said" = 0 ]; then
      echo "railyard-gate: $service: the engine lost ${#lost[@]} task(s) of the release (an engine restart or a lost node): not counted as failures; waiting for Swarm to start them again" >&2
      lost_said=1
    fi
    [ "${#failed[@]}" -eq 0 ] || rollback 40 "${#failed[@]} task(s) of the new release failed or exited" "${failed[@]}"
    ustate=$(update_state)
    # rollback_* while the declared release serves: Swarm (or a gate) rolled an update back to it; judged as is.
    [ "$ustate" != paused ] || rollback 40 "Swarm paused the update"
    [[ "$bad" = 0 || "$engine_restarted" = 1 ]] || rollback 41 "a task of the new release reports an unhealthy component"
    # (Not read while the engine restarts: judged again on the next look.)
    replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$sid" 2>/dev/null) || { sleep 0.5; continue; }
    # At least one running task a replica, every task Swarm wants running of the release: after an engine restart
    # in the middle of a start-first update Swarm may keep an extra task of the release in a slot, for good.
    if [ "$healthy" = 1 ] && [ "$running_new" -ge "$replicas" ] && [ "$running_new" -eq "$running" ]; then
      if [ -z "$url" ] || probe_url; then
        echo "railyard-gate: $service: $running_new task(s) run release $want ($image) and are healthy (attempt $attempt)" >&2
        exit 0
      fi
      [ "$say" = 0 ] || echo "railyard-gate: attempt $attempt: $url is not healthy yet" >&2
    fi
    sleep 0.5
  done
  collect_failed "$want" "$since"
  rollback 41 "not healthy after $attempts attempts × ${interval}s" ${failed[@]+"${failed[@]}"}
}

# The tasks of a release: created since its update started (or since the service was created).
update_since() {
  docker service inspect --format '{{if .UpdateStatus}}{{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Unix}}{{else}}{{.CreatedAt.Unix}}{{end}}{{else}}{{.CreatedAt.Unix}}{{end}}' "$sid" 2>/dev/null
}

# --settle fails: the tasks that failed or exited since the update started (reason and logs, the newest 5), then
# CODE and the reason.
settle_failed() {
  local code=$1 why=$2 id state desired created err ids=()
  while read -r id state desired created _ _ err; do
    [ "$created" -ge "$since" ] && ! engine_lost "$state" "$err" && [[ "$state" =~ ^(failed|rejected|complete)$ ]] && ids+=("$id")
  done < <(task_lines | sort -k4,4nr)
  [ "${#ids[@]}" -eq 0 ] || explain_tasks "${ids[@]}" >&2
  fail "$code" "$service: $why"
}

# --settle: waits until Swarm's own update of the service is over. Success needs UpdateStatus completed (Swarm sets
# it only after the monitor window) or none (a new service, or an update that replaced no task), and every replica
# running the current spec. Swarm says why it rolls back only while it does (rollback_started's message): kept.
settle() {
  local started=$SECONDS deadline=$((SECONDS + settle_timeout)) status state="" message reason=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    status=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}' "$sid" 2>/dev/null || true)
    state=${status%%|*} message=${status#*|}
    case "$state" in
      ""|completed)
        if release_runs; then
          echo "railyard-gate: $service: ${state:-no update under way}; $current task(s) run the current spec (settled in $((SECONDS - started)) s)" >&2
          exit 0
        fi ;;
      rollback_started) reason=$message ;;
      rollback_completed)
        release_runs && settle_failed 44 "Swarm rolled the update back (${reason:-$message}); the previous release runs again on $current task(s). Fix the release and deploy again" ;;
      paused) settle_failed 45 "Swarm paused the update: $message. The service may run old and new tasks: fix the release and deploy again, or docker service rollback $service" ;;
      rollback_paused) settle_failed 45 "Swarm paused the rollback of the update: $message. The service may run old and new tasks: deploy a release that works" ;;
    esac
    sleep 0.5
  done
  release_runs || true
  [[ "$state" != rollback_* ]] ||
    settle_failed 44 "Swarm is rolling the update back (${reason:-$message}); after $settle_timeout s the previous release runs on $current of $replicas task(s)"
  settle_failed 46 "not settled within $settle_timeout s (Swarm's update: ${state:-none}; $current of $replicas replica(s) run the current spec)"
}

# record_failure STATUS: on a failing exit of a gate with --state-dir, the release's failure is recorded in the
# stack's release store (<stackDir>, the state folder's parent); the exit status stays STATUS.
# shellcheck disable=SC2317  # called by the EXIT trap
record_failure() {
  [ "$1" != 0 ] && declare -F release_failed >/dev/null || return 0
  local dir=${state_dir%/}
  release_failed "${dir%/*}" gate "$service" "$1" "${RAILYARD_FAILURE:-exit $1}"
}

main() {
  parse_args "$@"
  [ "$settle" = 1 ] || [ -z "$state_dir" ] || trap 'record_failure $?' EXIT
  wait_engine
  require_railyard_service
  if [ -z "$since" ]; then again update_since || fail 42 "$service: the Docker engine stopped answering"; since=$again_out; fi
  if [ "$settle" = 1 ]; then settle; fi
  if [ -n "$state_dir" ]; then
    { mkdir -p "$state_dir" 2>/dev/null && [ -w "$state_dir" ]; } || fail 2 "--state-dir: cannot make or write $(q "$state_dir") (nothing is changed)"
  fi
  wait_engine
  resolve_release
  again spec_key Spec || fail 42 "$service: the Docker engine stopped answering"
  serving=$again_out
  if [ "$serving" != "$want" ]; then
    not_serving 0
  elif [[ "$(update_state)" == rollback_* ]]; then
    # Swarm or a gate rolled an update back to the declared release: judged on its tasks, never rolled back from.
    rolled_back_to=1
    echo "railyard-gate: $service: release $want serves because an update was rolled back to it; judging its tasks" >&2
  fi
  watch_release
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
