#!/usr/bin/env bash
# railyard-gate: after a service update, let the release take traffic only when it is really healthy; otherwise
# roll the service back, show why, and fail.
set -euo pipefail
RAILYARD_SCRIPT=railyard-gate
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
Usage: railyard-gate.sh --service NAME --image IMAGE [--port PORT --path PATH] [--url URL [--host HOST]]
                        [--attempts N] [--interval SECONDS] [--since EPOCH] [--insecure]
       railyard-gate.sh --settle --service NAME [--timeout SECONDS]

Waits up to N attempts (default 30) × INTERVAL seconds (default 5), watching every half second, until every replica of Swarm service
NAME runs the service's current spec (image IMAGE, its command, env, secrets, configs) and answers its health
check. On each attempt:
  - a task of the release that failed, was rejected or exited since EPOCH (default: when the update started)
    fails the gate at once, without waiting out the attempts; so does Swarm rolling the update back itself;
  - with --port/--path, every running task of the release is probed from inside (curl or wget on 127.0.0.1);
  - with --url, the service is probed as users reach it (through the edge; --host sets the Host header and
    TLS name, --insecure accepts the origin certificate).
A probe passes on HTTP 200 and, when the body is JSON with component statuses (status, database, redis,
queue, cache, db), only when each is ok/healthy/up/pass (absent/disabled components are ignored).
On failure the service is rolled back (docker service rollback) and waited on until the previous release runs
every replica, the last 50 log lines of the failed tasks are printed, and the gate exits non-zero. A later run
with the same IMAGE fails (43) while the rolled-back release runs: the gate passes only when the service's
spec and its running tasks carry IMAGE.
Only a service railyard deployed (it carries a railyard.stack label) is gated: any other is refused (2) before
anything is changed.

--settle: for services whose updates Swarm alone judges (the edge, its front, databases: no probe of their own,
their failure action rollback or pause). The provider's convergeConfig returns as soon as every replica runs,
while Swarm may still roll the update back within its monitor window; this waits up to SECONDS (default 300)
until Swarm's update of NAME is completed (or there is none) and every replica runs the service's current spec.
It fails when Swarm rolled the update back (44: after waiting for the previous release to run again) or paused
it or its rollback (45), printing Swarm's message and, for each task that failed since the update started (the
newest 5), its last 50 log lines, or Swarm's own error when it left none. It never rolls back itself.

Arguments: NAME a Swarm service name (lower-case letters, digits and inner hyphens, at most 63 characters,
starting with a letter); PORT 1 to 65535, given together with PATH; URL http[s]://HOST[:PORT][/PATH];
--host and --insecure only with --url; N 1 to 999; SECONDS above 0 (decimals allowed, e.g. 0.5). With --settle
only --service and --timeout (whole seconds, 1 to 86400).

Exit codes:
  0   every running task runs IMAGE and is healthy (--settle: Swarm completed the update, every replica runs)
  2   bad arguments, no service NAME, or NAME has no railyard.stack label (nothing is changed)
  40  a task of IMAGE failed or exited (rolled back)
  41  not healthy within the attempts (rolled back)
  42  the rollback did not bring the previous release back within 120 s, or there is none (a first deploy)
  43  the service does not run IMAGE: it was rolled back earlier (nothing is changed)
  44  --settle: Swarm rolled the update back (also when it did so before this run)
  45  --settle: Swarm paused the update or its rollback (the service may run a mix: fix it, deploy again)
  46  --settle: not settled within SECONDS (Swarm still updating, or replicas not running)
USAGE
}

service="" image="" port="" path="" url="" host="" attempts=30 interval=5 since="" insecure=0 settle=0 settle_timeout=""
# Options of the health gate that --settle does not take (it waits on Swarm's own update).
gate_only=()
# The service's ID, once it is known to be railyard's (docker commands use it: a name can also match an ID prefix).
sid=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --image) opt_value image "$@"; gate_only+=("$1"); shift 2 ;;
      --port) opt_value port "$@"; gate_only+=("$1"); shift 2 ;;
      --path) opt_value path "$@"; gate_only+=("$1"); shift 2 ;;
      --url) opt_value url "$@"; gate_only+=("$1"); shift 2 ;;
      --host) opt_value host "$@"; gate_only+=("$1"); shift 2 ;;
      --attempts) opt_value attempts "$@"; gate_only+=("$1"); shift 2 ;;
      --interval) opt_value interval "$@"; gate_only+=("$1"); shift 2 ;;
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
  [ -z "$since" ] || check --since "$since" "a Unix time in seconds" is_int_in 0 9999999999
}

# Only a service railyard deployed (it carries a railyard.stack label) is gated, and so maybe rolled back.
require_railyard_service() {
  local info stack
  info=$(service_field "$service" '{{.ID}} {{index .Spec.Labels "railyard.stack"}}') || fail 2 "no Swarm service named $service"
  read -r sid stack <<<"$info"
  [ -n "$stack" ] ||
    fail 2 "$service has no railyard.stack label: railyard-gate gates and rolls back only services railyard deployed (nothing is changed)"
}

# Swarm's state of the last update: updating, completed, rollback_started, rollback_completed, paused… ("" if none).
update_state() { docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$sid" 2>/dev/null || true; }

# Whether a task's image is IMAGE (Swarm may append @sha256:… to what was declared).
runs_image() { [[ "$1" == "$image" || "$1" == "$image@"* ]]; }

# What makes tasks of one release: image, command, env, secrets and configs (a hash, one word).
SPEC_FIELDS='{{.Image}}|{{json .Command}}|{{json .Args}}|{{json .Env}}|{{json .Secrets}}|{{json .Configs}}'
service_key() {
  md5sum <<<"$(docker service inspect --format "{{with .Spec.TaskTemplate.ContainerSpec}}$SPEC_FIELDS{{end}}" "$sid" 2>/dev/null || true)" | cut -c1-12
}

# One line per task: ID STATE DESIRED CREATED(epoch) SPEC-KEY IMAGE (one docker inspect for all tasks).
task_lines() {
  local ids id state desired created img spec
  mapfile -t ids < <(docker service ps -q --no-trunc "$sid" 2>/dev/null || true)
  [ "${#ids[@]}" -gt 0 ] || return 0
  while IFS=$'\t' read -r id state desired created img spec; do
    echo "$id $state $desired $created $(md5sum <<<"$spec" | cut -c1-12) $img"
  done < <(docker inspect 2>/dev/null --format "{{.ID}}	{{.Status.State}}	{{.DesiredState}}	{{.CreatedAt.Unix}}	{{.Spec.ContainerSpec.Image}}	{{with .Spec.ContainerSpec}}$SPEC_FIELDS{{end}}" "${ids[@]}")
}

# Health of a JSON body: no component status other than ok/healthy/up/pass (absent/disabled ignored).
# (A body that is not JSON has no statuses and passes on its HTTP 200.)
body_ok() {
  local bad
  bad=$(grep -oE '"(status|database|db|redis|queue|cache)"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$1" |
    sed -E 's/.*:[[:space:]]*"([^"]*)"/\1/' | grep -viE '^(ok|healthy|up|pass|passing|absent|disabled)$' || true)
  [ -z "$bad" ]
}

# 0 healthy; 1 no answer or not 200 yet (try again); 3 answered with a bad component status (fail now).
probe_task() {
  local container=$1 out
  # The URL is fixed by the validated port and path; the task's own shell runs curl or wget.
  # shellcheck disable=SC2016  # $0 belongs to the task's shell
  out=$(docker exec "$container" sh -c 'curl -fsS -m 5 "$0" 2>/dev/null || wget -q -T 5 -O - "$0"' "http://127.0.0.1:$port$path" 2>/dev/null) || return 1
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

# For each task: its last 50 log lines, or Swarm's own error when it left none (a task that never started its
# container: a missing image, a mount or secret it could not get).
show_failed_logs() {
  local id out why
  for id in "$@"; do
    why=$(docker inspect --format '{{.Status.State}}{{with .Status.Err}}: {{.}}{{end}}' "$id" 2>/dev/null || true)
    out=$(timeout 5 docker service logs --raw --tail 50 "$id" 2>&1 || true)
    if [ -n "$out" ]; then
      echo "railyard-gate: last 50 log lines of task $id ($why):" >&2
      printf '%s\n' "$out" >&2
    else
      echo "railyard-gate: task $id left no log lines; Swarm: $why" >&2
    fi
  done
}

# Whether every replica runs the service's current spec and no other task should run (sets replicas and current).
replicas=0 current=0
release_runs() {
  local key tkey state desired other=0
  replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$sid" 2>/dev/null || echo -1)
  key=$(service_key)
  current=0
  while read -r _ state desired _ tkey _; do
    [ "$desired" = running ] || continue
    if [ "$tkey" = "$key" ]; then [ "$state" = running ] && current=$((current + 1)); else other=$((other + 1)); fi
  done < <(task_lines)
  [ "$current" -eq "$replicas" ] && [ "$other" -eq 0 ]
}

rollback() {
  local code=$1 why=$2
  shift 2
  echo "railyard-gate: $service: $why (after $(($(date +%s) - since)) s of the update); rolling back" >&2
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
      show_failed_logs "$@"
      fail 42 "$service has no previous release to roll back to (a first deploy): fix the release and deploy again"
    fi
    docker service rollback --detach "$sid" >/dev/null 2>&1 && break
    [ "$try" = 1 ] || { show_failed_logs "$@"; fail 42 "$service: docker service rollback failed"; }
    sleep 0.5
  done
  # The rollback runs while the logs are printed.
  show_failed_logs "$@"
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

# A later run for a release that was rolled back fails at once and changes nothing.
refuse_rolled_back() {
  local spec_image
  spec_image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$sid" 2>/dev/null || true)
  runs_image "$spec_image" ||
    fail 43 "$service runs $(q "$spec_image"), not the declared $image (it was rolled back); fix the release and deploy again"
}

# One look at the release's tasks (attempt ATTEMPT; SAY=1 prints what is not healthy yet). Sets failed (tasks of
# the release that failed or exited), running, running_new, healthy (every probed task passed) and bad (a task
# reported an unhealthy component).
failed=() running=0 running_new=0 healthy=1 bad=0
scan_tasks() {
  local attempt=$1 say=$2 key id state desired created tkey container verdict
  failed=() running=0 running_new=0 healthy=1 bad=0
  key=$(service_key)
  while read -r id state desired created tkey _; do
    [ "$tkey" = "$key" ] || { [ "$desired" = running ] && running=$((running + 1)); continue; }
    case "$state" in
      failed|rejected|orphaned) [ "$created" -ge "$since" ] && failed+=("$id") ;;
      complete|shutdown) [ "$created" -ge "$since" ] && [ "$desired" != shutdown ] && failed+=("$id") ;;
    esac
    if [ "$desired" = running ]; then
      running=$((running + 1))
      [ "$state" = running ] && running_new=$((running_new + 1))
      # A task whose container runs is probed even before Swarm calls it healthy ("starting"): a release that
      # reports a bad component is caught before it replaces any old task.
      if [ -n "$port" ] && [[ "$state" == running || "$state" == starting ]]; then
        container=$(docker inspect --format '{{with .Status.ContainerStatus}}{{.ContainerID}}{{end}}' "$id" 2>/dev/null || true)
        verdict=0
        [ -n "$container" ] && { probe_task "$container" || verdict=$?; }
        [ "$verdict" = 3 ] && bad=1
        [ "$verdict" = 0 ] || { healthy=0; [ "$say" = 0 ] || echo "railyard-gate: attempt $attempt: task $id is not healthy yet" >&2; }
      fi
    fi
  done < <(task_lines)
  return 0
}

# Watches the release every half second until it is healthy (exit 0) or fails (rollback); the attempts ×
# interval budget bounds how long it may take to become healthy (an attempt is one interval of it).
watch_release() {
  local budget_ms started_ms elapsed_ms attempt=0 previous_attempt say ustate replicas id state created img
  budget_ms=$(awk -v a="$attempts" -v i="$interval" 'BEGIN { printf "%d", a * i * 1000 }')
  started_ms=$(date +%s%3N)
  while :; do
    elapsed_ms=$(($(date +%s%3N) - started_ms))
    [ "$elapsed_ms" -le "$budget_ms" ] || break
    previous_attempt=$attempt
    attempt=$(awk -v e="$elapsed_ms" -v i="$interval" 'BEGIN { printf "%d", int(e / (i * 1000)) + 1 }')
    say=0
    [ "$attempt" = "$previous_attempt" ] || say=1
    scan_tasks "$attempt" "$say"
    [ "${#failed[@]}" -eq 0 ] || rollback 40 "${#failed[@]} task(s) of the new release failed or exited" "${failed[@]}"
    ustate=$(update_state)
    if [[ "$ustate" == rollback_* || "$ustate" == paused ]]; then
      # Swarm's own failure action came first; the failed tasks are those of IMAGE since the update started.
      while read -r id state _ created _ img; do
        runs_image "$img" && [[ "$state" =~ ^(failed|rejected|complete|shutdown)$ ]] && [ "$created" -ge "$since" ] && failed+=("$id")
      done < <(task_lines)
      rollback 40 "Swarm stopped the update ($ustate)" ${failed[@]+"${failed[@]}"}
    fi
    [ "$bad" = 0 ] || rollback 41 "a task of the new release reports an unhealthy component"
    replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$sid" 2>/dev/null || echo -1)
    if [ "$healthy" = 1 ] && [ "$running_new" -eq "$replicas" ] && [ "$running_new" -eq "$running" ]; then
      if [ -z "$url" ] || probe_url; then
        echo "railyard-gate: $service: $running_new task(s) run $image and are healthy (attempt $attempt)" >&2
        exit 0
      fi
      [ "$say" = 0 ] || echo "railyard-gate: attempt $attempt: $url is not healthy yet" >&2
    fi
    sleep 0.5
  done
  rollback 41 "not healthy after $attempts attempts × ${interval}s"
}

# The tasks of a release: created since its update started (or since the service was created).
update_since() {
  docker service inspect --format '{{if .UpdateStatus}}{{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Unix}}{{else}}{{.CreatedAt.Unix}}{{end}}{{else}}{{.CreatedAt.Unix}}{{end}}' "$sid"
}

# --settle fails: the newest 5 tasks that failed or exited since the update started (logs or Swarm's error), then
# CODE and the reason.
settle_failed() {
  local code=$1 why=$2 id state created ids=()
  while read -r id state _ created _; do
    [[ "$state" =~ ^(failed|rejected|complete)$ ]] && [ "$created" -ge "$since" ] && ids+=("$id")
  done < <(task_lines | sort -k4,4nr)
  [ "${#ids[@]}" -le 5 ] || echo "railyard-gate: $service: ${#ids[@]} tasks failed or exited since the update started; the newest 5:" >&2
  show_failed_logs ${ids[@]+"${ids[@]:0:5}"}
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

main() {
  parse_args "$@"
  require_railyard_service
  since=${since:-$(update_since)}
  if [ "$settle" = 1 ]; then settle; fi
  refuse_rolled_back
  watch_release
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
