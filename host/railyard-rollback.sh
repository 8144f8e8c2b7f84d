#!/usr/bin/env bash
# railyard-rollback: the fast path back to an earlier release from the host alone (Pulumi unavailable: an incident
# without the laptop). Every service goes back to the release's recorded Swarm spec through the Engine API, passes
# its recorded gate, and the rollback is recorded like any release; Pulumi's state is brought in line afterwards.
set -euo pipefail
RAILYARD_SCRIPT=railyard-rollback
railyard_dir=${BASH_SOURCE[0]%/*}
[ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
if ! declare -F railyard_lib >/dev/null; then
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi
if ! declare -F railyard_releases >/dev/null; then
  # shellcheck source=host/railyard-releases.sh
  source "$railyard_dir/railyard-releases.sh"
fi
RAILYARD_RELEASE_SCRIPT=$railyard_dir/railyard-release.sh

usage() {
  cat <<'USAGE'
Usage: railyard-rollback.sh --stack-dir DIR --stack PREFIX --who NAME [--to N] [--wait SECONDS] [--yes]

Puts every service of stack PREFIX back on release N (default: the release before the live one, as
`npm run rollback` picks it; a second run walks further back) without Pulumi:
  1. refuses, before anything changes, when there is no such release or nothing to roll back to (77), when an
     image of it is no longer on this engine (76), when its record holds no Swarm spec, or a service, secret,
     config or network its specs name is gone (78), or when another deploy or rollback holds the stack's lock
     (75, naming the holder; --wait SECONDS waits for it first);
  2. takes the lock (kind host-rollback) and shows what changes (asks unless --yes; without a terminal --yes is
     required);
  3. updates each service whose live spec differs from the recorded one through the Engine API (Swarm rolls it
     start-first as usual), then runs every service's recorded health gate at once: a gate that fails rolls its
     own service back to what ran before and this script fails with the gate's exit code;
  4. records the rollback as a new release (kind host-rollback, with release N's images and configuration),
     writes the audit line, posts the deploy webhook, releases the lock, and prints the `npm run rollback`
     command that brings Pulumi's state in line (until it runs, Pulumi's state still holds the newer release: a
     plain `pulumi up` of its stack file does not see the change, and `pulumi up --refresh` would put the newer
     release back without the lock, a gate or a record).
Nothing prints a secret: the plan names env variables that change, never their values.

Arguments: DIR the stack's folder on the host (<dataDir>/<prefix>, an absolute path); PREFIX the stack's
railyard:prefix (its Swarm names start with it); NAME who rolls back (for the record and the audit log);
N a release number (`railyard-release.sh list`); SECONDS whole seconds, 1 to 86400.

Exit codes:
  0   every service runs release N and passed its gate; recorded
  2   bad arguments, or no terminal to confirm on and no --yes (nothing changed)
  40-47 a gate failed (its code: see railyard-gate.sh --help); that service is back on what ran before, the others
      run release N; the failure is recorded
  70  the engine refused a service update: the services already updated were rolled back (docker service rollback)
  74  jq, curl or docker is missing (apt-get install jq curl)
  75  the stack is locked by another deploy or rollback (the message names the holder)
  76  an image of release N is no longer on this engine
  77  no such release, no live release, release N is live or failed, or nothing to roll back to
  78  release N's record is unusable: no Swarm spec, or a service, secret, config or network it names is gone
USAGE
}

stack_dir="" stack="" who="" to="" wait_s="" yes=0
# The lock's token while this run holds it ("" otherwise): the exit trap releases it.
held=""
# Per temporary file of this run (gate outputs): removed on exit.
scratch=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack-dir) opt_value stack_dir "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      --who) opt_value who "$@"; shift 2 ;;
      --to) opt_value to "$@"; shift 2 ;;
      --wait) opt_value wait_s "$@"; shift 2 ;;
      --yes) yes=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --stack-dir "$stack_dir" "an absolute path (letters, digits, . _ - between slashes)" is_abs_path
  check --stack "$stack" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  [ -n "$who" ] || fail 2 "--who is required (who rolls back, for the record and the audit log)"
  [ -z "$to" ] || check --to "$to" "a release number (1 to 999999)" is_int_in 1 999999
  [ -z "$wait_s" ] || check --wait "$wait_s" "whole seconds, 1 to 86400" is_int_in 1 86400
}

# engine METHOD PATH [BODY-FILE]: the Engine API on the local socket; the answer on stdout, status 1 (the engine's
# message on stderr) on an HTTP error.
engine() {
  local out code body=()
  out=$(mktemp "$scratch/engine.XXXXXX")
  [ $# -lt 3 ] || body=(-H 'Content-Type: application/json' --data-binary "@$3")
  code=$(curl --silent --show-error --max-time 60 --unix-socket /var/run/docker.sock -o "$out" -w '%{http_code}' \
    -X "$1" ${body[@]+"${body[@]}"} "http://localhost$2") || code=000
  if [[ $code != 2* ]]; then
    printf '%s: %s %s: HTTP %s %s\n' "$RAILYARD_SCRIPT" "$1" "$2" "$code" "$(jq -r '.message? // empty' "$out" 2>/dev/null | head -c 500)" >&2
    return 1
  fi
  cat "$out"
}

# The record's services, one name a line.
target_services() { jq -r '.services | keys[]' <<<"$target_json"; }

# refuse_unusable: every service of the target has a spec, runs on this engine, and every secret, config and
# network its spec names still exists (78 otherwise); the image each spec runs is here (76). The engine's lists
# are read once (a rollback at 3 am is timed: few calls).
refuse_unusable() {
  local name image missing absent=()
  [ -n "$(target_services)" ] || fail "$REL_UNUSABLE" "release $target records no service"
  name=$(jq -r '.services | to_entries[] | select((.value.spec | type) != "object") | .key' <<<"$target_json" | head -n 1)
  [ -z "$name" ] ||
    fail "$REL_UNUSABLE" "release $target holds no Swarm spec for $name: restore it through Pulumi (npm run rollback -- --stack $stack --to $target)"
  local list
  for list in services secrets configs networks; do
    engine GET "/$list" >"$scratch/$list.json" || fail 70 "the Docker engine did not answer (nothing changed)"
  done
  missing=$(jq -rn --argjson t "$target_json" --slurpfile sv "$scratch/services.json" --slurpfile se "$scratch/secrets.json" \
    --slurpfile co "$scratch/configs.json" --slurpfile ne "$scratch/networks.json" '
    ($sv[0] | map(.Spec.Name)) as $services | ($se[0] | map(.ID)) as $secrets | ($co[0] | map(.ID)) as $configs
    | ($ne[0] | map(.Id)) as $networks
    | [$t.services | to_entries[] | .key as $n | .value.spec as $s
       | (if ($services | index($s.Name)) != null then empty else "service \($s.Name) (of \($n))" end),
         (($s.TaskTemplate.ContainerSpec.Secrets // [])[] | select(.SecretID as $i | $secrets | index($i) == null) | "secret \(.SecretName) (of \($n))"),
         (($s.TaskTemplate.ContainerSpec.Configs // [])[] | select(.ConfigID as $i | $configs | index($i) == null) | "config \(.ConfigName) (of \($n))"),
         (($s.TaskTemplate.Networks // [])[] | select(.Target as $i | $networks | index($i) == null) | "network \(.Target) (of \($n))")]
    | join(", ")')
  [ -z "$missing" ] ||
    fail "$REL_UNUSABLE" "release $target cannot be restored from the host: $missing gone (nothing changed). npm run rollback -- --stack $stack --to $target restores it through Pulumi"
  while IFS=$'\t' read -r name image; do
    engine GET "/images/$image/json" >/dev/null 2>&1 || absent+=("$(q "$image") (of $name)")
  done < <(jq -r '.services | to_entries[] | [.key, .value.spec.TaskTemplate.ContainerSpec.Image] | @tsv' <<<"$target_json")
  [ "${#absent[@]}" -eq 0 ] ||
    fail "$REL_IMAGE_MISSING" "release $target cannot be restored: its image is no longer on this engine: $(IFS=,; echo "${absent[*]}") (nothing changed; railyard never pulls or builds on a rollback)"
}

# plan: per service whose live spec differs from the target's, a line "NAME ID VERSION" in $scratch/plan, and what
# changes on stderr (the image, and the names of env variables whose values differ: never a value).
plan() {
  local name id version same image_from image_to envs
  : >"$scratch/plan"
  while IFS=$'\t' read -r name id version same image_from image_to envs; do
    if [ "$same" = true ]; then
      printf '  %s: already on release %s\n' "$name" "$target" >&2
      continue
    fi
    printf '  %s: %s%s\n' "$name" "$([ "$image_from" = "$image_to" ] && echo "image unchanged" || echo "image $image_from -> $image_to")" \
      "${envs:+; env $envs}" >&2
    printf '%s %s %s\n' "$name" "$id" "$version" >>"$scratch/plan"
  done < <(jq -r --argjson t "$target_json" '
    def env(s): (s.TaskTemplate.ContainerSpec.Env // []) | map(capture("^(?<k>[^=]*)=(?<v>.*)$"; "s")) | map({(.k): .v}) | add // {};
    (map({key: .Spec.Name, value: .}) | from_entries) as $live
    | $t.services | to_entries[] | .key as $n | .value.spec as $s | $live[$s.Name] as $l
    | (env($l.Spec)) as $x | (env($s)) as $y
    | [$n, $l.ID, ($l.Version.Index | tostring), ($l.Spec == $s | tostring), $l.Spec.TaskTemplate.ContainerSpec.Image,
       $s.TaskTemplate.ContainerSpec.Image, ([($x + $y) | keys[] | select($x[.] != $y[.])] | join(" "))] | @tsv' "$scratch/services.json")
}

confirm() {
  [ "$yes" = 0 ] || return 0
  [ -t 0 ] || fail 2 "no terminal to confirm on: pass --yes to roll back (nothing changed)"
  local answer
  read -r -p "Roll $stack back to release $target? [y/N] " answer
  [[ $answer =~ ^[yY] ]] || fail 2 "not confirmed (nothing changed)"
}

# update_services: each planned service to its recorded spec (Engine API, at the version just read), rolled as
# Swarm rolls a rollback: every task at once (the service's RollbackConfig parallelism; start-first keeps the
# capacity), the rest of its UpdateConfig as recorded (restore_update_config puts that back once the gates
# passed). When the engine refuses one, those already updated are rolled back and the run fails (70).
update_services() {
  local name id version updated=()
  while read -r name id version; do
    jq -c --arg n "$name" '.services[$n].spec | if .UpdateConfig and .RollbackConfig then
        .UpdateConfig.Parallelism = (.RollbackConfig.Parallelism // 0) else . end' <<<"$target_json" >"$scratch/spec.json"
    if ! engine POST "/services/$id/update?version=$version" "$scratch/spec.json" >/dev/null; then
      for id in "${updated[@]}"; do docker service rollback --detach "$id" >/dev/null 2>&1 || true; done
      fail 70 "the engine refused the update of $name to release $target${updated[*]:+; the services already updated were rolled back}"
    fi
    updated+=("$id")
  done <"$scratch/plan"
}

# restore_update_config: each updated service's spec exactly as recorded (only its UpdateConfig differs: no task
# is replaced), so the live specs are release N's and the next fast path or `pulumi up` sees them unchanged.
restore_update_config() {
  local name id version live
  while read -r name id _; do
    jq -c --arg n "$name" '.services[$n].spec' <<<"$target_json" >"$scratch/spec.json"
    if live=$(engine GET "/services/$id") && version=$(jq -r .Version.Index <<<"$live") &&
      [ "$(jq -S -c .Spec <<<"$live")" != "$(jq -S -c . "$scratch/spec.json")" ]; then
      engine POST "/services/$id/update?version=$version" "$scratch/spec.json" >/dev/null ||
        printf '%s: %s runs release %s, but its update settings could not be put back as recorded (a later deploy sets them)\n' "$RAILYARD_SCRIPT" "$name" "$target" >&2
    fi
  done <"$scratch/plan"
}

# gate_limit ARGV…: seconds a gate may take (as the program bounds it: every attempt, the stable wait, the
# rollback's 120 s, a margin).
gate_limit() {
  local attempts=30 interval=5 stable=5
  while [ $# -gt 0 ]; do
    case "$1" in
      --attempts) attempts=$2 ;;
      --interval) interval=$2 ;;
      --stable) stable=$2 ;;
    esac
    shift
  done
  awk -v a="$attempts" -v i="$interval" -v s="$stable" 'BEGIN { t = a * (i + 15) + s + 180; printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}

# now_s: the time in seconds, with milliseconds.
now_s() { date +%s.%N | cut -c1-14; }
# took T FILE: seconds from T to the time in FILE (one decimal).
took() { awk -v a="$1" -v b="$(cat "$2" 2>/dev/null || now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# run_gates: every service's recorded gate at once; status: the first failing gate's code (0 when all pass).
run_gates() {
  local name word argv pids=() names=() status=0 code i gates_from
  gates_from=$(now_s)
  while read -r name; do
    argv=()
    while IFS= read -r -d '' word; do argv+=("$word"); done < <(jq -j --arg n "$name" '.services[$n].gate[] | ., "\u0000"' <<<"$target_json")
    (
      rc=0
      timeout "$(gate_limit "${argv[@]}")" bash "$railyard_dir/railyard-gate.sh" "${argv[@]}" >"$scratch/gate-$name.log" 2>&1 || rc=$?
      now_s >"$scratch/gate-$name.end"
      exit "$rc"
    ) &
    pids+=("$!")
    names+=("$name")
  done < <(target_services)
  for i in "${!pids[@]}"; do
    code=0
    wait "${pids[$i]}" || code=$?
    if [ "$code" = 0 ]; then
      printf '  %s: gate passed (%s s after the updates)\n' "${names[$i]}" "$(took "$gates_from" "$scratch/gate-${names[$i]}.end")" >&2
    else
      printf '  %s: gate failed (%s):\n' "${names[$i]}" "$code" >&2
      sed 's/^/    /' "$scratch/gate-${names[$i]}.log" >&2
      [ "$status" != 0 ] || status=$code
    fi
  done
  return "$status"
}

# pending: the release under way, as `begin` writes it, so a gate that fails records the failure as this run's.
pending() {
  write_json "$rel_pending" "$(jq -cn --arg who "$(who_word "$who")" --arg commit "$(jq -r '.commit // ""' <<<"$target_json")" \
    --argjson rollbackOf "$target" --arg token "$held" --arg message "host rollback to release $target" --arg at "$(now_utc)" \
    '{who: $who, commit: $commit, kind: "host-rollback", rollbackOf: $rollbackOf, token: $token, message: $message, at: $at}')" ||
    fail 2 "cannot write $(q "$rel_pending")"
}

# new_record: the rollback as a release (kind host-rollback): release N's services, specs, key and configuration
# under a new seq, made live, with its audit line; prints the seq. Nothing migrated (no migration runs).
new_record() {
  local seq at record
  seq=$(next_seq)
  at=$(now_utc)
  record=$(jq -c --argjson seq "$seq" --arg at "$at" --arg who "$(who_word "$who")" --arg stack "$rel_stack" '
    {version: 1, seq: $seq, status: "ok", kind: "host-rollback", at: $at, who: $who, commit: (.commit // ""), stack: $stack,
     key: .key, rollbackOf: .seq, services: .services, migrated: [], config: .config}' <<<"$target_json")
  write_record "$seq" "$record" || fail 2 "cannot write $(q "$(release_file "$seq")")"
  set_live "$seq" || fail 2 "cannot write $(q "$rel_live")"
  audit_line "$who" host-rollback "$seq" "$(jq -r '.commit // ""' <<<"$target_json")"
  printf '%s\n' "$seq"
}

cleanup() {
  if [ -n "$held" ]; then
    [ "$(pending_field token)" != "$held" ] || rm -f -- "$rel_pending"
    lock_release "$held" || true
  fi
  [ -z "$scratch" ] || rm -rf -- "$scratch"
}

main() {
  started=$(now_s)
  parse_args "$@"
  local tool
  for tool in jq curl docker; do
    command -v "$tool" >/dev/null 2>&1 || fail "$REL_TOOL_MISSING" "$tool is missing on this host (apt-get install jq curl; docker: the engine's CLI)"
  done
  releases_init "$stack_dir" "$stack"
  [ -d "$rel_dir" ] || fail "$REL_NONE" "$(q "$stack_dir") holds no releases (is it the stack's folder, <dataDir>/<prefix>?); nothing changed"
  scratch=$(mktemp -d /tmp/railyard-rollback.XXXXXX)
  trap cleanup EXIT
  # The lock first: the live release and its target are read while no deploy or rollback can change them.
  held=host-rollback-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  lock_acquire host-rollback "$held" "$who" "host rollback" "${wait_s:-0}"
  local live
  live=$(live_seq) || fail "$REL_NONE" "$stack has no live release: nothing to roll back from (railyard-release.sh list shows the records)"
  if [ -n "$to" ]; then
    target=$to
    [ "$target" != "$live" ] || fail "$REL_NONE" "release $target is the live one: nothing to roll back"
  else
    target=$(previous_good "$live") ||
      fail "$REL_NONE" "$stack has no release before the live one ($live) to roll back to (railyard-release.sh list shows the kept ones)"
  fi
  target_json=$(release_json "$target") || fail "$REL_NONE" "$stack has no release $target (railyard-release.sh list shows the kept ones)"
  [ "$(jq -r .status <<<"$target_json")" = ok ] || fail "$REL_NONE" "release $target failed: only a release that passed its gates can be rolled back to"
  refuse_unusable
  echo "$RAILYARD_SCRIPT: $stack: release $live -> release $target:" >&2
  plan
  confirm
  pending
  update_services
  now_s >"$scratch/updated"
  printf '  %s update(s) sent %s s after the start (Swarm rolls the tasks start-first); the gates:\n' "$(wc -l <"$scratch/plan")" "$(took "$started" "$scratch/updated")" >&2
  local status=0
  run_gates || status=$?
  [ "$status" = 0 ] ||
    fail "$status" "release $target did not pass every gate (the gate output above says why; a failed gate rolls its service back to what ran before unless it says nothing is changed); the services whose gate passed run release $target. railyard-release.sh list shows the failed record"
  restore_update_config
  local seq
  seq=$(with_store_lock new_record)
  keep_images "$seq"
  rm -f -- "$rel_pending"
  notify "railyard: $(who_word "$who") rolled $rel_stack back to release $target from the host (now release $seq): $(jq -r '[.services | to_entries[] | "\(.key)=\(.value.image)"] | join(", ")' <<<"$target_json")"
  lock_release "$held" || true
  held=""
  echo "$RAILYARD_SCRIPT: $stack runs release $target again (recorded as release $seq, host-rollback)."
  echo "Pulumi's state still holds release $live: a plain \`pulumi up\` of that stack file does not see this change, and \`pulumi up --refresh\` would put release $live back without the lock, a gate or a record. Bring the state in line from a checkout:"
  echo "  npm run rollback -- --stack $stack --to $target"
  echo "(--stack: the Pulumi stack whose railyard:prefix is $stack; it re-applies release $target's configuration through Pulumi, then commit the stack file it writes.)"
}

target="" target_json="" started=""
main "$@"
