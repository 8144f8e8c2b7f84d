#!/usr/bin/env bash
# railyard-migrate: run a release's pre-deploy command once, as a Swarm job from the NEW image, before the update.
set -euo pipefail
RAILYARD_SCRIPT=railyard-migrate
# The shared library lives beside the script (or was fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-migrate.sh --job NAME --timeout SECONDS [--stack STACK] [--pause SERVICE]... [--log-lines N] -- ARGS...

Runs `docker service create --mode replicated-job --restart-condition none --name NAME
--label railyard.job=migration ARGS...` (ARGS: the network, env, secrets, image and command of the release, as
railyard builds them), waits until its one task completes, prints the job's output, and removes the job and its
container (Swarm would leave that behind). Swarm jobs get the service's Swarm secrets, which a plain `docker run`
cannot.
A service named NAME left by an earlier run (it carries railyard.job=migration) is removed first; any other
service named NAME is left alone and the script fails (33) before anything changes.
Each --pause SERVICE is scaled to 0 before the job starts and back to its replica count afterwards, also when
the job fails or times out (seed 003: stop the workers while the schema changes). Only replicated services that
carry a railyard.stack label (services railyard deployed) are paused; a SERVICE that does not exist is skipped.
With --stack STACK (railyard always passes it), a paused service and a job left by an earlier run must carry
railyard.stack=STACK: two stacks whose derived names meet (prefix a with service b-c, prefix a-b with service c)
never touch each other's services. If a paused service cannot be scaled back (retried 3 times), the script
says which and how to restore it, and exits 34 whatever the job did.

Arguments: NAME, STACK and SERVICE are Swarm service names (lower-case letters, digits and inner hyphens, at most
63 characters, starting with a letter); SECONDS 1 to 999999; N 1 to 9999.

Exit codes:
  0   the job completed (exit 0)
  2   bad arguments, or a --pause SERVICE that is not a replicated service with a railyard.stack label (of
      STACK, with --stack) (nothing is changed)
  30  the job failed: its last N output lines (default 30) are printed on stderr
  31  the job did not finish within SECONDS (it is removed)
  32  the job could not be created
  33  a service named NAME exists that railyard-migrate did not create for STACK (nothing is changed): rename it
  34  a paused service could not be scaled back to its replica count: restore it by hand (the message says how)
USAGE
}

job="" timeout_s="" stack="" log_lines=30 pause=() job_args=()

parse_args() {
  local value
  while [ $# -gt 0 ]; do
    case "$1" in
      --job) opt_value job "$@"; shift 2 ;;
      --timeout) opt_value timeout_s "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      --pause) opt_value value "$@"; pause+=("$value"); shift 2 ;;
      --log-lines) opt_value log_lines "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; break ;;
      *) unknown_argument "$1" ;;
    esac
  done
  job_args=("$@")
  check --job "$job" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
  check --timeout "$timeout_s" "a number of seconds (1 to 999999)" is_int_in 1 999999
  check --log-lines "$log_lines" "1 to 9999" is_int_in 1 9999
  [ -z "$stack" ] || check --stack "$stack" "a stack name (a-z, 0-9, inner -, at most 63)" is_name
  [ ${#job_args[@]} -gt 0 ] || fail 2 "the job's docker service create arguments are missing after --"
  for value in ${pause[@]+"${pause[@]}"}; do
    check --pause "$value" "a Swarm service name" is_name
  done
}

# What --pause will scale: "ID REPLICAS NAME" per existing service. Read-only: every service is checked before
# any is scaled.
to_pause=()
check_pauses() {
  local s info id n label seen=" "
  for s in ${pause[@]+"${pause[@]}"}; do
    [[ "$seen" == *" $s "* ]] && continue
    seen+="$s "
    info=$(service_field "$s" '{{.ID}} {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}-{{end}} {{index .Spec.Labels "railyard.stack"}}') ||
      { echo "railyard-migrate: $s does not exist; nothing to pause" >&2; continue; }
    read -r id n label <<<"$info"
    [ -n "$label" ] || fail 2 "--pause $s: the service has no railyard.stack label; railyard pauses only services it deployed (nothing is changed)"
    [ -z "$stack" ] || [ "$label" = "$stack" ] ||
      fail 2 "--pause $s: the service belongs to stack $(q "$label"), not $stack (nothing is changed)"
    [ "$n" != - ] || fail 2 "--pause $s: only replicated services can be paused (nothing is changed)"
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

# remove_job ID: removes a job railyard-migrate created, then waits (bounded) until its container has stopped, so
# paused services come back only once it is gone, and removes that container (Swarm leaves a finished job's
# container behind when the job is removed).
remove_job() {
  local id=$1 i leftovers=()
  docker service rm "$id" >/dev/null 2>&1 || true
  for ((i = 0; i < 60; i++)); do
    [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.id=$id" 2>/dev/null || true)" ] && break
    sleep 0.5
  done
  mapfile -t leftovers < <(docker ps -aq --filter "label=com.docker.swarm.service.id=$id" 2>/dev/null || true)
  [ "${#leftovers[@]}" -eq 0 ] || docker rm -f "${leftovers[@]}" >/dev/null 2>&1 || true
}

job_id=""
declare -A paused=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  [ -z "$job_id" ] || remove_job "$job_id"
  local entry id n name try failed=()
  for entry in ${to_pause[@]+"${to_pause[@]}"}; do
    read -r id n name <<<"$entry"
    [[ -v paused[$id] ]] || continue
    # Retried: a scale can meet a concurrent update ("update out of sequence").
    for try in 1 2 3; do
      if docker service scale --detach "$id=$n" >/dev/null; then
        echo "railyard-migrate: $name back to $n replicas" >&2
        continue 2
      fi
      [ "$try" = 3 ] || sleep 1
    done
    failed+=("$name=$n")
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "railyard-migrate: NOT restored: ${failed[*]}; restore by hand: docker service scale ${failed[*]}" >&2
    exit 34
  fi
}

pause_services() {
  local entry id n name
  for entry in ${to_pause[@]+"${to_pause[@]}"}; do
    read -r id n name <<<"$entry"
    paused[$id]=1
    # Not detached: the job starts only once the paused services' tasks have stopped.
    docker service scale "$id=0" >/dev/null
    echo "railyard-migrate: paused $name (was $n replicas)" >&2
  done
}

job_logs() { { docker service logs --raw "$job_id" 2>&1 || true; } | tail -n "$log_lines"; }

# Waits for the job's one task to end: exit 0 when it completed, 30 when it failed, 31 after SECONDS.
wait_for_job() {
  local deadline=$((SECONDS + timeout_s)) state=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$({ docker service ps --no-trunc --format '{{.CurrentState}}' "$job_id" 2>/dev/null || true; } | head -n1 | cut -d' ' -f1)
    case "$state" in
      Complete) job_logs; echo "railyard-migrate: $job completed" >&2; exit 0 ;;
      Failed|Rejected|Orphaned|Shutdown)
        echo "railyard-migrate: $job ended $state; its last $log_lines output lines:" >&2
        job_logs >&2
        { docker service ps --no-trunc --format '{{.Error}}' "$job_id" || true; } | head -n1 >&2
        exit 30 ;;
    esac
    sleep 0.2
  done
  echo "railyard-migrate: $job did not finish within ${timeout_s}s (last state: ${state:-none}); its last $log_lines output lines:" >&2
  job_logs >&2
  exit 31
}

main() {
  parse_args "$@"
  check_pauses
  check_job_name
  trap cleanup EXIT
  if [ -n "$stale_job" ]; then
    remove_job "$stale_job"
    echo "railyard-migrate: removed the job $job an earlier run left" >&2
  fi
  pause_services
  local out
  out=$(docker service create --detach --quiet --name "$job" --label railyard.job=migration \
    --mode replicated-job --restart-condition none "${job_args[@]}") || fail 32 "could not create the job $job"
  # --quiet prints the new service's ID (last line): from here on the cleanup removes it, and only it.
  job_id=${out##*$'\n'}
  wait_for_job
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
