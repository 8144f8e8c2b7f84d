#!/usr/bin/env bash
# railyard-run: a one-off command in a live service's image, env, secrets and network (npm run exec).
set -euo pipefail
RAILYARD_SCRIPT=railyard-run
# The shared library lives beside the script (or was fed before it on stdin).
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

JOB_STOP_S=30    # the job's container stopping (10 s grace) and being removed
START_WAIT_S=120 # the job's task getting a container (scheduled, image ready)

usage() {
  cat <<'USAGE'
Usage: railyard-run.sh --service NAME --stack STACK [--timeout SECONDS] [--reuse [--tty]] -- COMMAND [ARG]...

Runs COMMAND with the live service NAME's image, env, secrets (secret env vars exported from their files, as the
service's start command does), network, mounts and placement — like the migration job: a Swarm replicated-job
made from the service's own task spec (no ports, no health check, no network alias, restart none), its output
streamed here, its exit code returned, the job and its container removed afterwards, also when interrupted (HUP,
INT, TERM, or PIPE when the reader went away). The job reads no stdin.
--reuse runs COMMAND with `docker exec` in a running task of NAME on this node instead (stdin passed through;
--tty gives it a terminal): quicker, but it shares the task's memory and processes.
Only a service labelled railyard.stack=STACK is used. Nothing is printed of the spec: no env value, no secret.

Arguments: NAME and STACK are Swarm service names (lower-case letters, digits and inner hyphens, at most 63,
starting with a letter); SECONDS 1 to 999999 (default: no limit).

Exit codes:
  COMMAND's own exit code (0 when it succeeded)
  2   bad arguments (nothing is changed)
  74  jq or curl is missing (apt-get install jq curl)
  80  NAME is not a service of STACK, or (--reuse) it has no running task on this node
  81  the job could not be created, or its task did not start (within 120 s; the engine's error is printed)
  82  COMMAND did not finish within SECONDS (it is stopped and removed)
  129, 130, 141, 143  interrupted by HUP, INT, PIPE (the reader went away) or TERM (the job is removed)
USAGE
}

service="" stack="" timeout_s="" reuse=0 tty=0 cmd=()

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      --timeout) opt_value timeout_s "$@"; shift 2 ;;
      --reuse) reuse=1; shift ;;
      --tty) tty=1; shift ;;
      -h|--help) usage; exit 0 ;;
      --) shift; break ;;
      *) unknown_argument "$1" ;;
    esac
  done
  cmd=("$@")
  check --service "$service" "a Swarm service name (a-z, 0-9, inner -, at most 63)" is_name
  check --stack "$stack" "a stack name (a-z, 0-9, inner -, at most 63)" is_name
  [ -z "$timeout_s" ] || check --timeout "$timeout_s" "a number of seconds (1 to 999999)" is_int_in 1 999999
  [ "$tty" = 0 ] || [ "$reuse" = 1 ] || fail 2 "--tty goes with --reuse (a job has no terminal)"
  [ ${#cmd[@]} -gt 0 ] || fail 2 "the command is missing after --"
}

say() { echo "railyard-run: $*" >&2; }

# The service's spec (JSON) when it is NAME exactly and belongs to STACK; exit 80 otherwise.
service_spec() {
  local spec
  spec=$(docker service inspect --format '{{json .Spec}}' "$service" 2>/dev/null) || fail 80 "no service $service (docker service ls --filter label=railyard.stack=$stack)"
  [ "$(jq -r '.Name' <<<"$spec")" = "$service" ] || fail 80 "no service named $service"
  [ "$(jq -r '.Labels["railyard.stack"] // ""' <<<"$spec")" = "$stack" ] ||
    fail 80 "$service is not a service of stack $stack (its railyard.stack label differs)"
  printf '%s\n' "$spec"
}

# The shell line that exports each secret env var from its Swarm secret file (/run/secrets/env_<VAR>, as
# commands/container.ts withSecretEnv mounts them) and then runs "$@": the values stay inside the container.
secret_env_wrapper() {
  local var line=""
  while IFS= read -r var; do
    [[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    line+="$var=\"\$(cat /run/secrets/env_$var && printf x)\" && $var=\"\${$var%x}\" && export $var && "
  done < <(jq -r '.TaskTemplate.ContainerSpec.Secrets // [] | .[].File.Name | select(startswith("env_")) | ltrimstr("env_")' <<<"$1")
  printf '%s' "${line}exec \"\$@\""
}

# The Engine API on the local socket (DOCKER_HOST=unix://… honoured).
engine() {
  local sock=/var/run/docker.sock
  [[ ${DOCKER_HOST:-} != unix://* ]] || sock=${DOCKER_HOST#unix://}
  curl -sS -m 60 --unix-socket "$sock" "$@"
}

job="" job_id="" logs_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  [ -z "$logs_pid" ] || kill "$logs_pid" 2>/dev/null || true
  [ -n "$job" ] || return 0
  local deadline=$((SECONDS + JOB_STOP_S)) quiet=0 all=()
  [ -z "$job_id" ] || docker service rm "$job_id" >/dev/null 2>&1 || true
  # Swarm neither stops a removed job's task nor removes its container; twice empty in a row: done.
  while [ "$quiet" -lt 2 ] && [ "$SECONDS" -lt "$deadline" ]; do
    mapfile -t all < <(docker ps -aq --filter "label=com.docker.swarm.service.name=$job" 2>/dev/null || true)
    if [ "${#all[@]}" -eq 0 ]; then quiet=$((quiet + 1)); else
      quiet=0
      docker rm -f "${all[@]}" >/dev/null 2>&1 || true
    fi
    sleep 0.3
  done
}

# A run interrupted: the job goes (the EXIT trap), the code says which signal.
# shellcheck disable=SC2317  # called by the traps
interrupted() {
  say "interrupted: removing $job"
  exit "$1"
}

# The job's spec: the service's task template with COMMAND, restart none, no health check, networks without the
# service's aliases (the job must not answer to the service's name); no endpoint spec, so no published port.
job_spec() {
  local args word
  # The command as a JSON array, one word at a time as an --arg value (as a positional argument jq would take a
  # word such as -c for one of its options).
  args=$(for word in "${cmd[@]}"; do jq -n --arg w "$word" '$w'; done | jq -sc .)
  jq -c --arg name "$job" --arg stack "$stack" --arg of "$service" --arg wrapper "$2" --argjson args "$args" '
    (.TaskTemplate.Networks // .Networks // []) as $nets
    | { Name: $name,
        Labels: { "railyard.stack": $stack, "railyard.job": "run", "railyard.run-of": $of },
        TaskTemplate: (.TaskTemplate
          | .ContainerSpec.Command = ["/bin/sh", "-c", $wrapper, "railyard-run"]
          | .ContainerSpec.Args = $args
          | .ContainerSpec.Healthcheck = { Test: ["NONE"] }
          | .ContainerSpec.Init = true
          | .RestartPolicy = { Condition: "none", MaxAttempts: 0 }
          | .Networks = [$nets[] | { Target }]
          | del(.ForceUpdate)),
        Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } } }' <<<"$1"
}

# The job's container once its task has one (its ID on stdout); exit 81 when the task ends without one.
wait_container() {
  local cid state err started=$((SECONDS + START_WAIT_S))
  while :; do
    cid=$(docker ps -aq --filter "label=com.docker.swarm.service.id=$job_id" 2>/dev/null | head -n1 || true)
    [ -z "$cid" ] || { printf '%s\n' "$cid"; return 0; }
    state=$({ docker service ps --no-trunc --format '{{.CurrentState}}' "$job_id" 2>/dev/null || true; } | head -n1 | cut -d' ' -f1)
    case "$state" in
      Failed|Rejected|Orphaned|Shutdown)
        err=$({ docker service ps --no-trunc --format '{{.Error}}' "$job_id" 2>/dev/null || true; } | head -n1)
        fail 81 "the job's task ended $state before it started: $err" ;;
    esac
    [ "$SECONDS" -lt "$started" ] || fail 81 "the job's task did not start within ${START_WAIT_S}s (last state: ${state:-none}; docker service ps $job)"
    sleep 0.2
  done
}

deadline=0
run_job() {
  local spec wrapper body out code cid
  spec=$(service_spec) || exit $?
  wrapper=$(secret_env_wrapper "$spec")
  job="${service:0:50}"
  job="${job%-}-run-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  body=$(job_spec "$spec" "$wrapper")
  trap cleanup EXIT
  [ -z "$timeout_s" ] || deadline=$((SECONDS + timeout_s))
  out=$(engine -w '\n%{http_code}' -H 'Content-Type: application/json' -X POST --data-binary @- http://localhost/services/create <<<"$body") ||
    fail 81 "the Engine API did not answer (is /var/run/docker.sock readable?)"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [ "$code" = 201 ] || fail 81 "the job could not be created (HTTP $code): $(jq -r '.message // empty' <<<"$out" 2>/dev/null | head -c 500)"
  job_id=$(jq -r '.ID' <<<"$out")
  say "$job: $(q "${cmd[0]}") in $service's image, env and network"
  cid=$(wait_container) || exit $?
  # The output streams while the command runs; `wait` (unlike a foreground command) lets a signal's trap run at once.
  docker logs --follow "$cid" &
  logs_pid=$!
  if [ -n "$timeout_s" ]; then
    while kill -0 "$logs_pid" 2>/dev/null; do
      [ "$SECONDS" -lt "$deadline" ] || fail 82 "$(q "${cmd[0]}") did not finish within ${timeout_s}s; the job is removed"
      sleep 0.2
    done
  fi
  wait "$logs_pid" || true
  logs_pid=""
  while [ "$(docker inspect --format '{{.State.Running}}' "$cid" 2>/dev/null || echo false)" = true ]; do sleep 0.1; done
  code=$(docker inspect --format '{{.State.ExitCode}}' "$cid" 2>/dev/null || echo 81)
  exit "$code"
}

run_reuse() {
  local spec wrapper cid flags=(-i)
  spec=$(service_spec) || exit $?
  wrapper=$(secret_env_wrapper "$spec")
  cid=$(docker ps -q --filter "label=com.docker.swarm.service.name=$service" --filter status=running 2>/dev/null | head -n1 || true)
  [ -n "$cid" ] || fail 80 "$service has no running task on this node (docker service ps $service)"
  [ "$tty" = 0 ] || flags+=(-t)
  exec docker exec "${flags[@]}" "$cid" /bin/sh -c "$wrapper" railyard-run "${cmd[@]}"
}

main() {
  parse_args "$@"
  { command -v jq && command -v curl; } >/dev/null || fail 74 "jq and curl are needed: apt-get install jq curl"
  trap 'interrupted 129' HUP
  trap 'interrupted 130' INT
  trap 'interrupted 143' TERM
  trap 'interrupted 141' PIPE
  if [ "$reuse" = 1 ]; then run_reuse; else run_job; fi
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
