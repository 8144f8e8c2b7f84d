#!/usr/bin/env bash
# railyard-migrate: run a release's pre-deploy command once, as a Swarm job from the NEW image, before the update.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: railyard-migrate.sh --job NAME --timeout SECONDS [--pause SERVICE]... [--log-lines N] -- ARGS...

Runs `docker service create --mode replicated-job --restart-condition none --name NAME ARGS...` (ARGS: the
network, env, secrets, image and command of the release, as railyard builds them), waits until its one task
completes, prints the job's output, and removes the job. Swarm jobs get the service's Swarm secrets, which a
plain `docker run` cannot.
Each --pause SERVICE is scaled to 0 before the job starts and back to its replica count afterwards, also when
the job fails or times out (seed 003: stop the workers while the schema changes).

Exit codes:
  0   the job completed (exit 0)
  2   bad arguments
  30  the job failed: its last N output lines (default 30) are printed on stderr
  31  the job did not finish within SECONDS (it is removed)
  32  the job could not be created
USAGE
}

fail() {
  local code=$1
  shift
  echo "railyard-migrate: $*" >&2
  exit "$code"
}

job="" timeout_s="" log_lines=30
pause=()
while [ $# -gt 0 ]; do
  case "$1" in
    --job) job=${2-}; shift 2 || fail 2 "--job needs a value" ;;
    --timeout) timeout_s=${2-}; shift 2 || fail 2 "--timeout needs a value" ;;
    --pause) pause+=("${2-}"); shift 2 || fail 2 "--pause needs a value" ;;
    --log-lines) log_lines=${2-}; shift 2 || fail 2 "--log-lines needs a value" ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) usage >&2; fail 2 "unknown argument: $1" ;;
  esac
done
[[ "$job" =~ ^[a-z][a-z0-9-]{0,62}$ ]] || fail 2 "--job must be a lower-case name, got '$job'"
[[ "$timeout_s" =~ ^[1-9][0-9]{0,5}$ ]] || fail 2 "--timeout must be a number of seconds, got '$timeout_s'"
[[ "$log_lines" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "--log-lines must be 1 to 9999, got '$log_lines'"
[ $# -gt 0 ] || fail 2 "the job's docker service create arguments are missing after --"
for s in ${pause[@]+"${pause[@]}"}; do
  [[ "$s" =~ ^[a-z][a-z0-9-]*$ ]] || fail 2 "--pause must name a service, got '$s'"
done

declare -A replicas=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  docker service rm "$job" >/dev/null 2>&1 || true
  # The job's container stops asynchronously: paused services come back only once it is gone (bounded).
  local i
  for ((i = 0; i < 60; i++)); do
    [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)" ] && break
    sleep 0.5
  done
  for s in "${!replicas[@]}"; do
    docker service scale --detach "$s=${replicas[$s]}" >/dev/null && echo "railyard-migrate: $s back to ${replicas[$s]} replicas" >&2
  done
}
trap cleanup EXIT

for s in ${pause[@]+"${pause[@]}"}; do
  [[ -v replicas[$s] ]] && continue
  n=$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}' "$s" 2>/dev/null) ||
    { echo "railyard-migrate: $s does not exist; nothing to pause" >&2; continue; }
  [ -n "$n" ] || fail 2 "--pause $s: only replicated services can be paused"
  replicas[$s]=$n
  # Not detached: the job starts only once the paused services' tasks have stopped.
  docker service scale "$s=0" >/dev/null
  echo "railyard-migrate: paused $s (was $n replicas)" >&2
done

docker service rm "$job" >/dev/null 2>&1 || true
docker service create --detach --quiet --name "$job" --mode replicated-job --restart-condition none "$@" >/dev/null ||
  fail 32 "could not create the job $job"

deadline=$((SECONDS + timeout_s))
state=""
while [ "$SECONDS" -lt "$deadline" ]; do
  state=$({ docker service ps --no-trunc --format '{{.CurrentState}}' "$job" 2>/dev/null || true; } | head -n1 | cut -d' ' -f1)
  case "$state" in
    Complete) { docker service logs --raw "$job" 2>&1 || true; } | tail -n "$log_lines"; echo "railyard-migrate: $job completed" >&2; exit 0 ;;
    Failed|Rejected|Orphaned|Shutdown)
      echo "railyard-migrate: $job ended $state; its last $log_lines output lines:" >&2
      { docker service logs --raw "$job" 2>&1 || true; } | tail -n "$log_lines" >&2
      { docker service ps --no-trunc --format '{{.Error}}' "$job" || true; } | head -n1 >&2
      exit 30 ;;
  esac
  sleep 0.2
done
echo "railyard-migrate: $job did not finish within ${timeout_s}s (last state: ${state:-none}); its last $log_lines output lines:" >&2
{ docker service logs --raw "$job" 2>&1 || true; } | tail -n "$log_lines" >&2
exit 31
