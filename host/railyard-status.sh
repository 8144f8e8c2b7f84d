#!/usr/bin/env bash
# railyard-status: the stack's live release and, per service, its image, release, tasks and their health.
set -euo pipefail
RAILYARD_SCRIPT=railyard-status
# The shared library lives beside the script (or was fed before it on stdin).
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-status.sh --stack-dir DIR --stack STACK

Prints the stack's live release (number, kind, who, when, commit; from DIR/releases) and one line per Swarm
service labelled railyard.stack=STACK: its image, its release (RAILYARD_RELEASE of its spec), running/desired
tasks, the states of the tasks it wants running and the health of their containers on this node. A service whose
image differs from the live release's record is marked (a failed gate rolled it back, or it changed by hand).
Read-only; nothing of a spec's env is printed but RAILYARD_RELEASE, and no secret.

Arguments: DIR an absolute path (<dataDir>/<stack>); STACK a stack name (a-z, 0-9, inner -, at most 63).

Exit codes: 0 printed; 2 bad arguments; 74 jq is missing (apt-get install jq).
USAGE
}

stack_dir="" stack=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack-dir) opt_value stack_dir "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --stack-dir "$stack_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  check --stack "$stack" "a stack name (a-z, 0-9, inner -, at most 63)" is_name
}

# The live release's record file, or nothing.
live_record() {
  local seq
  seq=$(cat "$stack_dir/releases/live" 2>/dev/null || true)
  [[ $seq =~ ^[0-9]{1,6}$ ]] || return 0
  local file
  file=$(printf '%s/releases/%06d.json' "$stack_dir" "$((10#$seq))")
  [ -r "$file" ] && printf '%s\n' "$file"
}

# One line of the live release: "live release 3 (rollback to 1) by alice at 2026-…Z, commit 3f2a1bc0d1e2".
print_live() {
  local file=$1
  if [ -z "$file" ]; then
    echo "stack $stack: no live release recorded"
    return 0
  fi
  jq -r --arg stack "$stack" '"stack \($stack): live release \(.seq) (\(.kind)\(if .rollbackOf then " to \(.rollbackOf)" else "" end)) by \(.who) at \(.at), commit \(if (.commit // "") == "" then "-" else .commit[0:12] end)"' "$file" |
    tr -d '\000-\010\013-\037\177'
}

# "NAME|IMAGE|RELEASE|DESIRED" of a service: jq reads the spec and prints only these fields.
service_row() {
  docker service inspect "$1" 2>/dev/null | jq -r '.[0] | .Spec as $s
    | [ $s.Name,
        ($s.TaskTemplate.ContainerSpec.Image // "" | sub("@sha256:(?<d>[0-9a-f]{12})[0-9a-f]{52}$"; "@sha256:\(.d)…")),
        ([($s.TaskTemplate.ContainerSpec.Env // [])[] | select(startswith("RAILYARD_RELEASE=")) | ltrimstr("RAILYARD_RELEASE=")][0] // "-"),
        (if $s.Mode.Replicated then ($s.Mode.Replicated.Replicas | tostring) elif $s.Mode.Global then "global" else "job" end),
        ($s.TaskTemplate.ContainerSpec.Image // "") ] | join("|")'
}

# "running N" per task state and "healthy N" per container health, of the tasks the service wants running.
task_states() {
  local id=$1
  { docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$id" 2>/dev/null || true; } |
    awk '{ n[tolower($1)]++ } END { for (s in n) printf "%s %d\n", s, n[s] }' | sort
}

container_health() {
  { docker ps --filter "label=com.docker.swarm.service.name=$1" --format '{{.Status}}' 2>/dev/null || true; } |
    awk '{ h = "no-healthcheck"; if (match($0, /\((healthy|unhealthy|health: starting)\)/)) { h = substr($0, RSTART + 1, RLENGTH - 2); sub(/health: /, "", h) } n[h]++ }
      END { for (s in n) printf "%s %d\n", s, n[s] }' | sort
}

main() {
  parse_args "$@"
  command -v jq >/dev/null || fail 74 "jq is needed: apt-get install jq"
  local record ids id row name image release desired full running states health mark live_image
  record=$(live_record)
  print_live "$record"
  mapfile -t ids < <(docker service ls -q --filter "label=railyard.stack=$stack" 2>/dev/null || true)
  printf '%-30s %-44s %-12s %-7s %s\n' SERVICE IMAGE RELEASE TASKS STATE
  for id in ${ids[@]+"${ids[@]}"}; do
    row=$(service_row "$id") || continue
    IFS='|' read -r name image release desired full <<<"$row"
    [ "$desired" != job ] || continue
    states=$(task_states "$id")
    running=$(awk '$1 == "running" { print $2 }' <<<"$states")
    [ "$desired" != global ] || desired=$(awk '{ n += $2 } END { print n + 0 }' <<<"$states")
    health=$(container_health "$name")
    mark=""
    if [ -n "$record" ]; then
      live_image=$(jq -r --arg n "$name" '[.services[]? | select(.swarm == $n) | .image][0] // ""' "$record")
      [ -z "$live_image" ] || [ "$live_image" = "$full" ] || mark=" [not the live release's image]"
    fi
    printf '%-30s %-44s %-12s %-7s %s%s\n' "$name" "$image" "$release" "${running:-0}/$desired" \
      "$(printf '%s\n%s\n' "$states" "$health" | awk 'NF == 2 { out = out (out == "" ? "" : ", ") $1 "=" $2 } END { print (out == "" ? "no task" : out) }')" "$mark"
  done | sort
  [ "${#ids[@]}" -gt 0 ] || echo "(no service of stack $stack on this engine)"
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
