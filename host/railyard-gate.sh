#!/usr/bin/env bash
# railyard-gate: after a service update, let the release take traffic only when it is really healthy; otherwise
# roll the service back, show why, and fail.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: railyard-gate.sh --service NAME --image IMAGE [--port PORT --path PATH] [--url URL [--host HOST]]
                        [--attempts N] [--interval SECONDS] [--since EPOCH] [--insecure]

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

Exit codes:
  0   every running task runs IMAGE and is healthy
  2   bad arguments
  40  a task of IMAGE failed or exited (rolled back)
  41  not healthy within the attempts (rolled back)
  42  the rollback did not bring the previous release back within 120 s, or there is none (a first deploy)
  43  the service does not run IMAGE: it was rolled back earlier (nothing is changed)
USAGE
}

fail() {
  local code=$1
  shift
  echo "railyard-gate: $*" >&2
  exit "$code"
}

service="" image="" port="" path="" url="" host="" attempts=30 interval=5 since="" insecure=0
while [ $# -gt 0 ]; do
  case "$1" in
    --service) service=${2-}; shift 2 || fail 2 "--service needs a value" ;;
    --image) image=${2-}; shift 2 || fail 2 "--image needs a value" ;;
    --port) port=${2-}; shift 2 || fail 2 "--port needs a value" ;;
    --path) path=${2-}; shift 2 || fail 2 "--path needs a value" ;;
    --url) url=${2-}; shift 2 || fail 2 "--url needs a value" ;;
    --host) host=${2-}; shift 2 || fail 2 "--host needs a value" ;;
    --attempts) attempts=${2-}; shift 2 || fail 2 "--attempts needs a value" ;;
    --interval) interval=${2-}; shift 2 || fail 2 "--interval needs a value" ;;
    --since) since=${2-}; shift 2 || fail 2 "--since needs a value" ;;
    --insecure) insecure=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail 2 "unknown argument: $1" ;;
  esac
done
[[ "$service" =~ ^[a-z][a-z0-9-]*$ ]] || fail 2 "--service must be a lower-case name, got '$service'"
[[ -n "$image" && "$image" =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || fail 2 "--image must be an image reference, got '$image'"
[[ -z "$port" || "$port" =~ ^[1-9][0-9]{0,4}$ ]] || fail 2 "--port must be a port number, got '$port'"
[[ -z "$path" || "$path" =~ ^/[A-Za-z0-9._~%/?=\&-]*$ ]] || fail 2 "--path must be an HTTP path, got '$path'"
[[ -z "$port" || -n "$path" ]] || fail 2 "--port needs --path"
[[ -z "$url" || "$url" =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~%/?=\&-]*)?$ ]] || fail 2 "--url must be an http(s) URL, got '$url'"
[[ -z "$host" || "$host" =~ ^[a-z0-9.-]+$ ]] || fail 2 "--host must be a domain, got '$host'"
[[ "$attempts" =~ ^[1-9][0-9]{0,2}$ ]] || fail 2 "--attempts must be 1 to 999, got '$attempts'"
[[ "$interval" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail 2 "--interval must be seconds, got '$interval'"
[[ -z "$since" || "$since" =~ ^[0-9]+$ ]] || fail 2 "--since must be a Unix time, got '$since'"
docker service inspect "$service" >/dev/null 2>&1 || fail 2 "no Swarm service named $service"
# The release's tasks are those created since its update started (or since the service was created).
since=${since:-$(docker service inspect --format '{{if .UpdateStatus}}{{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Unix}}{{else}}{{.CreatedAt.Unix}}{{end}}{{else}}{{.CreatedAt.Unix}}{{end}}' "$service")}

# Swarm's state of the last update: updating, completed, rollback_started, rollback_completed, paused… ("" if none).
update_state() { docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service" 2>/dev/null || true; }

# Whether a task's image is IMAGE (Swarm may append @sha256:… to what was declared).
is_image() { [[ "$1" == "$image" || "$1" == "$image@"* ]]; }

# What makes tasks of one release: image, command, env, secrets and configs (a hash, one word).
SPEC_FIELDS='{{.Image}}|{{json .Command}}|{{json .Args}}|{{json .Env}}|{{json .Secrets}}|{{json .Configs}}'
service_key() {
  md5sum <<<"$(docker service inspect --format "{{with .Spec.TaskTemplate.ContainerSpec}}$SPEC_FIELDS{{end}}" "$service" 2>/dev/null || true)" | cut -c1-12
}

# One line per task: ID STATE DESIRED CREATED(epoch) SPEC-KEY IMAGE (one docker inspect for all tasks).
task_lines() {
  local ids id state desired created img spec
  mapfile -t ids < <(docker service ps -q --no-trunc "$service" 2>/dev/null || true)
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
    local scheme=${url%%://*} rest=${url#*://}
    local hostport=${rest%%/*} path_part=/${rest#*/}
    [[ "$rest" == */* ]] || path_part=/
    local addr=${hostport%%:*} p=${hostport##*:}
    [[ "$hostport" == *:* ]] || p=$([ "$scheme" = https ] && echo 443 || echo 80)
    args+=(--connect-to "$host:$p:$addr:$p")
    target="$scheme://$host:$p$path_part"
  fi
  out=$(curl "${args[@]}" "$target" 2>/dev/null) || out=$'\n000'
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  [ "$code" = 200 ] && body_ok "$body"
}

show_failed_logs() {
  local id
  for id in "$@"; do
    echo "railyard-gate: last 50 log lines of task $id:" >&2
    timeout 5 docker service logs --raw --tail 50 "$id" >&2 2>&1 || true
  done
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
    if [ -z "$(docker service inspect --format '{{if .PreviousSpec}}yes{{end}}' "$service" 2>/dev/null || true)" ]; then
      show_failed_logs "$@"
      fail 42 "$service has no previous release to roll back to (a first deploy): fix the release and deploy again"
    fi
    docker service rollback --detach "$service" >/dev/null 2>&1 && break
    [ "$try" = 1 ] || { show_failed_logs "$@"; fail 42 "$service: docker service rollback failed"; }
    sleep 0.5
  done
  # The rollback runs while the logs are printed.
  show_failed_logs "$@"
  # Done when the previous release (now the service's spec) runs every replica and nothing else runs.
  local deadline=$((SECONDS + 120)) replicas current other key
  while [ "$SECONDS" -lt "$deadline" ]; do
    replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$service" 2>/dev/null || echo -1)
    key=$(service_key)
    current=0 other=0
    while read -r _ state desired _ tkey _; do
      [ "$desired" = running ] || continue
      if [ "$tkey" = "$key" ]; then [ "$state" = running ] && current=$((current + 1)); else other=$((other + 1)); fi
    done < <(task_lines)
    if [[ "$(update_state)" == rollback_* ]] && [ "$current" -eq "$replicas" ] && [ "$other" -eq 0 ]; then
      fail "$code" "$service rolled back: the previous release runs again on $current task(s) ($(($(date +%s) - since)) s after the update started); the update failed"
    fi
    sleep 0.5
  done
  fail 42 "$service: the rollback did not complete within 120 s"
}

spec_image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$service" 2>/dev/null || true)
if ! is_image "$spec_image"; then
  fail 43 "$service runs $spec_image, not the declared $image (it was rolled back); fix the release and deploy again"
fi

# The tasks are watched every half second; the attempts × interval budget bounds how long the release may take
# to become healthy (an attempt is one interval of it).
budget_ms=$(awk -v a="$attempts" -v i="$interval" 'BEGIN { printf "%d", a * i * 1000 }')
started_ms=$(date +%s%3N)
attempt=0
while :; do
  elapsed_ms=$(($(date +%s%3N) - started_ms))
  [ "$elapsed_ms" -le "$budget_ms" ] || break
  previous_attempt=$attempt
  attempt=$(awk -v e="$elapsed_ms" -v i="$interval" 'BEGIN { printf "%d", (i > 0 ? int(e / (i * 1000)) : 0) + 1 }')
  say=0
  [ "$attempt" = "$previous_attempt" ] || say=1
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
  [ "${#failed[@]}" -eq 0 ] || rollback 40 "${#failed[@]} task(s) of the new release failed or exited" "${failed[@]}"
  ustate=$(update_state)
  if [[ "$ustate" == rollback_* || "$ustate" == paused ]]; then
    # Swarm's own failure action came first; the failed tasks are those of IMAGE since the update started.
    while read -r id state _ created _ img; do
      is_image "$img" && [[ "$state" =~ ^(failed|rejected|complete|shutdown)$ ]] && [ "$created" -ge "$since" ] && failed+=("$id")
    done < <(task_lines)
    rollback 40 "Swarm stopped the update ($ustate)" ${failed[@]+"${failed[@]}"}
  fi
  [ "$bad" = 0 ] || rollback 41 "a task of the new release reports an unhealthy component"
  replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$service" 2>/dev/null || echo -1)
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
