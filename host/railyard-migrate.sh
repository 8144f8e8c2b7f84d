#!/usr/bin/env bash
# railyard-migrate: run a release's pre-deploy command once, as a Swarm job from the NEW image, before the update.
set -euo pipefail
RAILYARD_SCRIPT=railyard-migrate
# The shared library lives beside the script (or was fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
railyard_dir=${BASH_SOURCE[0]%/*}
[ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
if ! declare -F railyard_lib >/dev/null; then
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi
# The release store, where a failed migration of a release is recorded (absent beside a copy of this script alone:
# nothing is).
if ! declare -F railyard_releases >/dev/null && [ -r "$railyard_dir/railyard-releases.sh" ]; then
  # shellcheck source=host/railyard-releases.sh
  source "$railyard_dir/railyard-releases.sh"
fi

# Bounds (seconds) of each wait; commands/migrate.ts sums them into the step's outer `timeout`.
LOCK_WAIT_S=150     # another run of the same job, or its guardian, finishing (job removal 30 s, restore 60 s, margin)
JOB_STOP_S=30       # a job's container stopping (10 s grace: TERM through --init, then KILL) and being removed
PAUSE_MARGIN_S=30   # added to a paused service's own stop grace period
RESTORE_WAIT_S=60   # restored services' tasks running again

usage() {
  cat <<'USAGE'
Usage: railyard-migrate.sh --job NAME --timeout SECONDS --state-dir DIR [--stack STACK] [--pause SERVICE]...
                           [--registry SERVER --registry-user USER] [--log-lines N] [--constraint EXPR]...
                           -- ARGS...

Runs `docker service create --mode replicated-job --restart-condition none --init --name NAME
--label railyard.job=migration ARGS...` (ARGS: the network, env, secrets, image and command of the release, as
railyard builds them), waits until its one task completes (SECONDS count the job alone), prints the job's output,
and removes the job and its container (Swarm neither stops a removed job's task nor removes its container).
Swarm jobs get the service's Swarm secrets, which a plain `docker run` cannot.
Each --constraint EXPR is a Swarm placement constraint of the job (railyard passes the service's on a stack with
more than one node: node.labels.railyard.app==true), so the job runs where the service may run; a job that no
node may run stays pending until SECONDS end (31), with Swarm's reason in the output.

With --registry SERVER --registry-user USER (the image is on a private registry), the password or token is read
from the first line of stdin (never an argument or an environment variable), given to `docker login
--password-stdin` in a private temporary DOCKER_CONFIG (a 0700 folder removed on every exit), and the job is
created with --with-registry-auth, so Swarm pulls the image with it.
A service named NAME left by an earlier run (it carries railyard.job=migration) is removed first, its container
stopped and removed; any other service named NAME is left alone and the script fails (33) before anything changes.

Each --pause SERVICE is scaled to 0 before the job starts, in one update that also records the pause on the
service: labels railyard.paused-by=NAME and railyard.paused-replicas=<its replica count>. The job starts once the
service's tasks have stopped (waited at most its stop grace period + 30 s); afterwards the service goes back to
the recorded count in one update that removes both labels (the script waits at most 60 s for its tasks to run),
also when the job fails or times out (seed 003: stop the workers while the schema changes). Only replicated
services that carry a railyard.stack label (services railyard deployed) are paused; a SERVICE that does not exist,
or is at 0 replicas and not paused, is skipped.
With --stack STACK (railyard always passes it), a paused service and a job left by an earlier run must carry
railyard.stack=STACK: two stacks whose derived names meet (prefix a with service b-c, prefix a-b with service c)
never touch each other's services.

Faults: a run holds the lock DIR/NAME.lock (flock) and starts a guardian in its own session (log
DIR/NAME.guardian.log, pid in DIR/NAME.guardian.pid) that outlives a HUP, TERM or KILL of the run and its process
group: once the run has ended it restores every service still paused by NAME to its recorded count and removes the
job and its containers. A later run for NAME (a re-run of `pulumi up`) does the same first, under the same lock,
then pauses and migrates as usual: a service still paused by NAME keeps its recorded count; one paused by another
job that is no longer running is taken over with that job's recorded count (never restored to 0).

Arguments: EXPR node.labels.KEY, node.id, node.hostname, node.role, node.platform.os or node.platform.arch, then
== or !=, then a value (KEY lower-case letters, digits and . _ -; the value letters, digits and . _ -, at most 63
characters each, no spaces); NAME, STACK and SERVICE are Swarm service names (lower-case letters, digits and inner hyphens, at most
63 characters, starting with a letter); SECONDS 1 to 999999; N 1 to 9999; SERVER a registry host[:port]
(lower-case, no scheme or path); USER letters, digits and . _ @ + $ - (at most 128); the password 1 to 4096
printable characters without spaces; DIR an absolute path (created when missing; railyard passes <dataDir>/<stack>/state).

Exit codes:
  0   the job completed (exit 0)
  2   bad arguments, or a --pause SERVICE that is not a replicated service with a railyard.stack label (of
      STACK, with --stack) (nothing is changed)
  30  the job failed: its last N output lines (default 30) are printed on stderr
  31  the job did not finish within SECONDS (it is stopped and removed)
  32  the job could not be created
  33  a service named NAME exists that railyard-migrate did not create for STACK (nothing is changed): rename it
  34  a paused service could not be scaled back to its replica count: restore it by hand (the message says how)
  35  a --pause SERVICE is paused by another migration job that is still running (nothing is changed): wait for it
  36  DIR is not usable, another run of NAME held its lock for 150 s, or the guardian could not start (nothing is
      changed)
  37  a paused service's tasks did not stop within its stop grace period + 30 s: the job did not run, the
      services are restored
  38  the registry refused the login (wrong user or token, or it did not answer): nothing is changed
  129, 130, 143  the run got HUP, INT or TERM: it stops at once and its guardian restores and removes (see Faults)
USAGE
}

job="" timeout_s="" stack="" state_dir="" log_lines=30 pause=() job_args=() constraints=()
registry_server="" registry_user="" registry_password="" registry_config=""

parse_args() {
  local value
  while [ $# -gt 0 ]; do
    case "$1" in
      --job) opt_value job "$@"; shift 2 ;;
      --timeout) opt_value timeout_s "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      --state-dir) opt_value state_dir "$@"; shift 2 ;;
      --pause) opt_value value "$@"; pause+=("$value"); shift 2 ;;
      --constraint) opt_value value "$@"; constraints+=("$value"); shift 2 ;;
      --log-lines) opt_value log_lines "$@"; shift 2 ;;
      --registry) opt_value registry_server "$@"; shift 2 ;;
      --registry-user) opt_value registry_user "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; break ;;
      *) unknown_argument "$1" ;;
    esac
  done
  job_args=("$@")
  check --job "$job" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
  check --timeout "$timeout_s" "a number of seconds (1 to 999999)" is_int_in 1 999999
  check --state-dir "$state_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  check --log-lines "$log_lines" "1 to 9999" is_int_in 1 9999
  [ -z "$stack" ] || check --stack "$stack" "a stack name (a-z, 0-9, inner -, at most 63)" is_name
  [ ${#job_args[@]} -gt 0 ] || fail 2 "the job's docker service create arguments are missing after --"
  for value in ${pause[@]+"${pause[@]}"}; do
    check --pause "$value" "a Swarm service name" is_name
  done
  for value in ${constraints[@]+"${constraints[@]}"}; do
    check --constraint "$value" "a placement constraint such as node.labels.railyard.app==true (node.labels.KEY, node.id, node.hostname, node.role or node.platform.os|arch, == or !=, a value of letters, digits and . _ -)" is_constraint
  done
  if [ -n "$registry_server$registry_user" ]; then
    check --registry "$registry_server" "a registry host[:port] (lower-case, no scheme or path)" is_registry
    check --registry-user "$registry_user" "a registry user (letters, digits and . _ @ + \$ -, at most 128)" \
      matches '^[A-Za-z0-9][A-Za-z0-9._@+$-]{0,127}$'
    read_registry_password
  fi
}

# is_constraint VALUE: a Swarm placement constraint railyard may pass (no spaces, nothing a shell or Swarm would
# read as more than one constraint).
is_constraint() {
  [[ $1 =~ ^node\.(id|hostname|role|platform\.(os|arch)|labels\.[a-z0-9][a-z0-9._-]{0,62})(==|!=)[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]]
}

# is_registry VALUE: host[:port] as an image reference names a registry: lower-case labels, a port 1-65535.
is_registry() {
  local host=${1%:*} port=
  [ "$host" = "$1" ] || port=${1##*:}
  [ -z "$port" ] || is_port "$port" || return 1
  is_domain "$host"
}

# The registry password: the first line of stdin, read with the shell's own `read` (no process gets it as an
# argument). Checked before anything runs; never printed.
read_registry_password() {
  IFS= read -r registry_password || [ -n "$registry_password" ] ||
    fail 2 "--registry needs the password or token on the first line of stdin (nothing is changed)"
  [[ ${#registry_password} -le 4096 && $registry_password =~ ^[[:graph:]]+$ ]] ||
    fail 2 "the registry password on stdin must be 1 to 4096 printable characters without spaces (value hidden; nothing is changed)"
}

# Logs in to the registry in a private temporary DOCKER_CONFIG (0700, removed on every exit): the password goes to
# `docker login` on its stdin. Exit 38 when the registry refuses (nothing is changed yet).
registry_login() {
  [ -n "$registry_server" ] || return 0
  registry_config=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/railyard-registry.XXXXXX") ||
    fail 38 "cannot make a private folder for the registry login (nothing is changed)"
  chmod 700 "$registry_config"
  local out
  if ! out=$(printf '%s\n' "$registry_password" |
    DOCKER_CONFIG=$registry_config docker login --username "$registry_user" --password-stdin "$registry_server" 2>&1); then
    fail 38 "the registry $registry_server refused the login of $(q "$registry_user"): $(q "${out//"$registry_password"/<hidden>}") (nothing is changed)"
  fi
  say "logged in to $registry_server as $registry_user (a private DOCKER_CONFIG, removed on exit)"
}

# with_registry COMMAND...: COMMAND with the login's DOCKER_CONFIG, when there is one.
with_registry() {
  if [ -n "$registry_config" ]; then DOCKER_CONFIG=$registry_config "$@"; else "$@"; fi
}

# shellcheck disable=SC2317  # called by the exit paths
drop_registry_config() {
  [ -z "$registry_config" ] || rm -rf "$registry_config"
  registry_config=""
}

say() { echo "railyard-migrate: $*" >&2; }

# The pause record and stack of a service: a Go template of `PAUSED_BY|PAUSED_REPLICAS|STACK`.
record() { printf '%s' '{{index .Spec.Labels "railyard.paused-by"}}|{{index .Spec.Labels "railyard.paused-replicas"}}|{{index .Spec.Labels "railyard.stack"}}'; }

# Is the migration job NAME still running: its run or guardian holds its lock, or its Swarm job exists.
job_alive() {
  local other=$1 fd
  is_name "$other" || return 1
  service_field "$other" '{{.ID}}' >/dev/null && return 0
  [ -e "$state_dir/$other.lock" ] || return 1
  exec {fd}<"$state_dir/$other.lock" || return 1
  if flock -n "$fd"; then exec {fd}<&-; return 1; fi
  exec {fd}<&-
  return 0
}

# What --pause will scale: "ID REPLICAS NAME" per service, REPLICAS the count to restore (the recorded one when
# the service is already paused by a job that is not running). Read-only: every service is checked before any
# is scaled.
to_pause=()
check_pauses() {
  local s info id n label by recorded seen=" "
  for s in ${pause[@]+"${pause[@]}"}; do
    [[ "$seen" == *" $s "* ]] && continue
    seen+="$s "
    info=$(service_field "$s" "{{.ID}}|{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}-{{end}}|$(record)") ||
      { say "$s does not exist; nothing to pause"; continue; }
    IFS='|' read -r id n by recorded label <<<"$info"
    [ -n "$label" ] || fail 2 "--pause $s: the service has no railyard.stack label; railyard pauses only services it deployed (nothing is changed)"
    [ -z "$stack" ] || [ "$label" = "$stack" ] ||
      fail 2 "--pause $s: the service belongs to stack $(q "$label"), not $stack (nothing is changed)"
    [ "$n" != - ] || fail 2 "--pause $s: only replicated services can be paused (nothing is changed)"
    if [ -n "$by" ]; then
      is_int_in 0 99999 "$recorded" ||
        fail 2 "--pause $s: its label railyard.paused-replicas is $(q "$recorded"), not a count; set its replicas and remove the railyard.paused-* labels by hand (nothing is changed)"
      if [ "$by" != "$job" ] && job_alive "$by"; then
        fail 35 "--pause $s: the service is paused by the migration job $(q "$by"), which is still running; wait for it to end, then run again (nothing is changed)"
      fi
      if [ "$by" = "$job" ]; then
        say "$s is still paused by an earlier run of $job (recorded: $recorded replicas)"
      else
        say "$s was left paused by the migration job $(q "$by"), which is no longer running (recorded: $recorded replicas); taking it over"
      fi
      n=$recorded
    elif [ "$n" = 0 ]; then
      say "$s is at 0 replicas; nothing to pause"
      continue
    fi
    to_pause+=("$id $n $s")
  done
}

# The ID of a job an earlier run left under NAME (removed before the new one), or fail 33 for a service of that
# name that is not such a job.
stale_job=""
check_job_name() {
  local info kind label
  info=$(service_field "$job" '{{.ID}} {{index .Spec.Labels "railyard.job"}} {{index .Spec.Labels "railyard.stack"}}') || return 0
  read -r stale_job kind label <<<"$info"
  [ "$kind" = migration ] ||
    fail 33 "a service named $job exists that railyard-migrate did not create (no railyard.job=migration label); rename it (nothing is changed)"
  [ -z "$stack" ] || [ "$label" = "$stack" ] ||
    fail 33 "a service named $job exists that is another stack's migration job ($(q "$label"), not $stack); nothing is changed"
}

# remove_job [ID]: removes the job (ID, when it exists), then stops and removes every container of a service
# named NAME: Swarm neither stops a removed job's running task nor removes a finished one's container, so each
# release would leave one behind. The job gets TERM (through --init) and 10 s before KILL. Bounded by JOB_STOP_S.
remove_job() {
  local id=${1:-} deadline=$((SECONDS + JOB_STOP_S)) quiet=0 running=() all=()
  [ -z "$id" ] || docker service rm "$id" >/dev/null 2>&1 || true
  # Twice empty in a row: a task the agent was still starting shows up in between.
  while [ "$quiet" -lt 2 ] && [ "$SECONDS" -lt "$deadline" ]; do
    mapfile -t running < <(docker ps -q --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)
    [ "${#running[@]}" -eq 0 ] || docker stop --time 10 "${running[@]}" >/dev/null 2>&1 || true
    mapfile -t all < <(docker ps -aq --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)
    if [ "${#all[@]}" -eq 0 ]; then
      quiet=$((quiet + 1))
    else
      quiet=0
      docker rm -f "${all[@]}" >/dev/null 2>&1 || true
    fi
    sleep 0.5
  done
}

# tasks_in ID STATES: the number of the service's tasks whose current state is one of STATES (a |-list).
tasks_in() {
  { docker service ps --format '{{.CurrentState}}' "$1" 2>/dev/null || true; } | awk -v re="^($2)\$" '$1 ~ re { n++ } END { print n + 0 }'
}
LIVE='New|Pending|Assigned|Accepted|Preparing|Ready|Starting|Running'

# set_replicas ID N NAME: the service back to N replicas, its pause labels removed (one update, retried: an update
# can meet a concurrent one, "update out of sequence").
set_replicas() {
  local try
  for try in 1 2 3; do
    if docker service update --detach --replicas "$2" --label-rm railyard.paused-by --label-rm railyard.paused-replicas "$1" >/dev/null; then
      say "$3 back to $2 replicas"
      return 0
    fi
    [ "$try" = 3 ] || sleep 1
  done
  return 1
}

# wait_running "ID N NAME"...: waits (at most RESTORE_WAIT_S) until each service runs N tasks; only says which
# do not (Swarm keeps starting them; the service's own health is the gate's business).
wait_running() {
  local deadline=$((SECONDS + RESTORE_WAIT_S)) entry id n name pending
  while :; do
    pending=()
    for entry in "$@"; do
      read -r id n name <<<"$entry"
      [ "$(tasks_in "$id" Running)" -ge "$n" ] || pending+=("$name")
    done
    [ "${#pending[@]}" -gt 0 ] || return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "not all tasks of ${pending[*]} run after ${RESTORE_WAIT_S}s; Swarm keeps starting them (docker service ps ${pending[*]})"
      return 0
    fi
    sleep 0.5
  done
}

# restore_paused_by JOB [" ID ID … "]: every service of the stack still paused by JOB (but those IDs) back to its
# recorded count: what a run interrupted before its cleanup left. Prints "ID N NAME" per restored service; status
# 1 if one could not be.
restore_paused_by() {
  local ids id info name by n label failed=0 skip=${2:-}
  mapfile -t ids < <(docker service ls -q --filter "label=railyard.paused-by=$1" 2>/dev/null || true)
  for id in ${ids[@]+"${ids[@]}"}; do
    info=$(docker service inspect --format "{{.ID}}|{{.Spec.Name}}|$(record)" "$id" 2>/dev/null) || continue
    IFS='|' read -r id name by n label <<<"$info"
    [[ "$skip" != *" $id "* ]] || continue
    if [ "$by" != "$1" ] || { [ -n "$stack" ] && [ "$label" != "$stack" ]; }; then continue; fi
    if ! is_int_in 0 99999 "$n"; then
      say "$name is paused by $1 with railyard.paused-replicas=$(q "$n"), not a count: restore it by hand"
      failed=1
      continue
    fi
    if set_replicas "$id" "$n" "$name"; then echo "$id $n $name"; else
      say "NOT restored: $name=$n; restore by hand: docker service update --replicas $n --label-rm railyard.paused-by --label-rm railyard.paused-replicas $name"
      failed=1
    fi
  done
  return "$failed"
}

# The guardian: started in its own session before anything changes, it waits for the run (pid $1) to end, then —
# on the lock the run held, so a re-run waits for it — restores what is still paused by the job and removes the
# job. After a clean run there is nothing left, and it exits.
guardian() {
  trap '' HUP INT TERM PIPE
  local main=$1 state restored=()
  while [ -r "/proc/$main/stat" ]; do
    read -r _ _ state _ <"/proc/$main/stat" 2>/dev/null || break
    [ "$state" != Z ] || break
    sleep 0.2
  done
  # The job goes first (its containers stopped): the paused services never start against a migration that is
  # still changing the schema.
  local info id kind label
  info=$(service_field "$job" '{{.ID}} {{index .Spec.Labels "railyard.job"}} {{index .Spec.Labels "railyard.stack"}}') || info=""
  read -r id kind label <<<"$info"
  { [ "$kind" = migration ] && { [ -z "$stack" ] || [ "$label" = "$stack" ]; }; } || id=""
  if [ -n "$id" ] || [ -n "$(docker ps -aq --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)" ]; then
    say "removing the job $job its run left"
    remove_job "$id"
  fi
  mapfile -t restored < <(restore_paused_by "$job" || true)
  [ "${#restored[@]}" -eq 0 ] || wait_running "${restored[@]}"
  rm -f "$state_dir/$job.guardian.pid"
}

lock_fd=""
# Takes the job's lock (waiting for an earlier run or its guardian), then starts the guardian.
lock_and_guard() {
  command -v flock >/dev/null || fail 36 "flock (util-linux) is missing: runs of the job cannot be kept apart (nothing is changed)"
  { mkdir -p "$state_dir" && exec {lock_fd}>>"$state_dir/$job.lock"; } 2>/dev/null ||
    fail 36 "cannot write the lock $state_dir/$job.lock; check --state-dir (nothing is changed)"
  flock -w "$LOCK_WAIT_S" "$lock_fd" ||
    fail 36 "another run of $job (or its guardian, log $state_dir/$job.guardian.log) held the lock for ${LOCK_WAIT_S}s; nothing is changed"
}

start_guardian() {
  local pid_file="$state_dir/$job.guardian.pid" log="$state_dir/$job.guardian.log"
  command -v setsid >/dev/null || fail 36 "setsid (util-linux) is missing: the guardian cannot start (nothing is changed)"
  rm -f "$pid_file"
  # Its own session, no tie to this run's terminal or SSH channel; it inherits the lock's descriptor, so the lock
  # stays held from this run's end until the guardian is done.
  setsid bash -c "$(declare -f); $(declare -p job stack state_dir LIVE JOB_STOP_S RESTORE_WAIT_S RAILYARD_SCRIPT)
    echo \$\$ > $(printf '%q' "$pid_file"); echo \"\$(date -u +%FT%TZ) guarding run $$\" >&2; guardian $$; echo \"\$(date -u +%FT%TZ) done\" >&2" \
    </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [ -s "$pid_file" ] && return 0; sleep 0.1; done
  fail 36 "the guardian did not start (log: $log); nothing is changed"
}

job_id=""
paused=() restored=()
# On every exit of a run that was not interrupted: the job removed, paused services back to their counts.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local code=$?
  drop_registry_config
  remove_job "$job_id"
  local entry id n name failed=()
  for entry in ${paused[@]+"${paused[@]}"}; do
    read -r id n name <<<"$entry"
    if set_replicas "$id" "$n" "$name"; then restored+=("$entry"); else failed+=("$name=$n"); fi
  done
  [ "${#restored[@]}" -eq 0 ] || wait_running "${restored[@]}"
  if [ "${#failed[@]}" -gt 0 ]; then
    RAILYARD_FAILURE="NOT restored: ${failed[*]}"
    say "NOT restored: ${failed[*]}; restore by hand: docker service scale ${failed[*]} (then remove the railyard.paused-* labels)"
    record_failure 34
    exit 34
  fi
  record_failure "$code"
}

# record_failure STATUS: on a failing exit, the release's failure is recorded in the stack's release store
# (<stackDir>, the state folder's parent); the exit status stays STATUS. Not for an interrupted run.
# shellcheck disable=SC2317  # called by the EXIT traps
record_failure() {
  [ "$1" != 0 ] && declare -F release_failed >/dev/null || return 0
  local dir=${state_dir%/} name=${job%-migrate}
  release_failed "${dir%/*}" migration "$name" "$1" "${RAILYARD_FAILURE:-exit $1}"
}

# An interrupted run stops at once (its stderr may be a dead SSH channel): the guardian cleans up.
# shellcheck disable=SC2317  # called by the traps
interrupted() {
  trap - EXIT
  drop_registry_config
  exit "$1"
}

# Scales each service to 0 with its pause recorded in the same update, then waits until their tasks have stopped
# (bounded by the longest stop grace period + PAUSE_MARGIN_S); never for Swarm's update monitor.
pause_services() {
  local entry id n name grace longest=0 deadline pending
  for entry in ${to_pause[@]+"${to_pause[@]}"}; do
    read -r id n name <<<"$entry"
    # Nanoseconds, null when unset (Docker's default: 10 s).
    grace=$(docker service inspect --format '{{json .Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}' "$id" || true)
    [[ $grace =~ ^[0-9]{1,15}$ ]] || grace=10000000000
    grace=$(((grace + 999999999) / 1000000000))
    [ "$grace" -le "$longest" ] || longest=$grace
    paused+=("$entry")
    docker service update --detach --replicas 0 --label-add "railyard.paused-by=$job" --label-add "railyard.paused-replicas=$n" "$id" >/dev/null
    say "paused $name (was $n replicas)"
  done
  deadline=$((SECONDS + longest + PAUSE_MARGIN_S))
  while :; do
    pending=()
    for entry in ${paused[@]+"${paused[@]}"}; do
      read -r id n name <<<"$entry"
      [ "$(tasks_in "$id" "$LIVE")" -eq 0 ] || pending+=("$name")
    done
    [ "${#pending[@]}" -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] ||
      fail 37 "the tasks of ${pending[*]} did not stop within $((longest + PAUSE_MARGIN_S))s (stop grace + ${PAUSE_MARGIN_S}s); the job did not run"
    sleep 0.2
  done
}

job_logs() { { docker service logs --raw "$job_id" 2>&1 || true; } | tail -n "$log_lines"; }

# Waits for the job's one task to end: exit 0 when it completed, 30 when it failed, 31 after SECONDS.
wait_for_job() {
  local deadline=$((SECONDS + timeout_s)) state=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$({ docker service ps --no-trunc --format '{{.CurrentState}}' "$job_id" 2>/dev/null || true; } | head -n1 | cut -d' ' -f1)
    case "$state" in
      Complete) job_logs; say "$job completed"; exit 0 ;;
      Failed|Rejected|Orphaned|Shutdown)
        RAILYARD_FAILURE="$job ended $state"
        say "$job ended $state; its last $log_lines output lines:"
        job_logs >&2
        { docker service ps --no-trunc --format '{{.Error}}' "$job_id" || true; } | head -n1 >&2
        exit 30 ;;
    esac
    sleep 0.2
  done
  RAILYARD_FAILURE="$job did not finish within ${timeout_s}s"
  local why=""
  # A job still pending says why (with --constraint: no node may run it, "no suitable node (…)").
  [ "$state" != Pending ] || why=$({ docker service ps --no-trunc --format '{{.Error}}' "$job_id" 2>/dev/null || true; } | head -n1)
  say "$job did not finish within ${timeout_s}s (last state: ${state:-none}${why:+: $why}); its last $log_lines output lines:"
  job_logs >&2
  exit 31
}

main() {
  parse_args "$@"
  local stack_dir=${state_dir%/}
  if declare -F rollback_pending >/dev/null && rollback_pending "${stack_dir%/*}"; then
    say "a rollback is under way (release store of ${stack_dir%/*}): its migration $job is not run; the database keeps the newer schema"
    exit 0
  fi
  trap 'code=$?; drop_registry_config; record_failure "$code"' EXIT
  trap 'interrupted 129' HUP
  trap 'interrupted 130' INT
  trap 'interrupted 143' TERM
  lock_and_guard
  check_pauses
  check_job_name
  registry_login
  start_guardian
  trap cleanup EXIT
  if [ -n "$stale_job" ] || [ -n "$(docker ps -aq --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)" ]; then
    remove_job "$stale_job"
    say "removed the job $job an earlier run left"
  fi
  # Services an interrupted earlier run of this job left paused, and that this run does not pause again.
  local entry keep=" "
  for entry in ${to_pause[@]+"${to_pause[@]}"}; do keep+="${entry%% *} "; done
  mapfile -t restored < <(restore_paused_by "$job" "$keep" || true)
  pause_services
  local out auth=() placement=() c
  for c in ${constraints[@]+"${constraints[@]}"}; do placement+=(--constraint "$c"); done
  # The job's pull uses the login: the client sends it to Swarm with the create (--with-registry-auth).
  [ -z "$registry_config" ] || auth=(--with-registry-auth)
  out=$(with_registry docker service create --detach --quiet --name "$job" \
    --label railyard.job=migration ${stack:+--label "railyard.stack=$stack"} ${auth[@]+"${auth[@]}"} \
    --mode replicated-job --restart-condition none --init ${placement[@]+"${placement[@]}"} "${job_args[@]}") || fail 32 "could not create the job $job"
  drop_registry_config
  # --quiet prints the new service's ID (last line): from here on the cleanup removes it, and only it.
  job_id=${out##*$'\n'}
  wait_for_job
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
