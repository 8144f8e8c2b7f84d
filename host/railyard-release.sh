#!/usr/bin/env bash
# railyard-release: the host's release store of one stack: records of what each release ran (so it can be rolled
# back to), the stack's host lock, and the audit log.
set -euo pipefail
RAILYARD_SCRIPT=railyard-release
# The shared libraries live beside the script (railyard-lib.sh may have been fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
railyard_dir=${BASH_SOURCE[0]:-}
railyard_dir=${railyard_dir%/*}
[ -n "$railyard_dir" ] && [ "$railyard_dir" != "${BASH_SOURCE[0]:-}" ] || railyard_dir=.
if ! declare -F railyard_lib >/dev/null; then
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi
if ! declare -F railyard_releases >/dev/null; then
  # shellcheck source=host/railyard-releases.sh
  source "$railyard_dir/railyard-releases.sh"
fi
RAILYARD_RELEASE_SCRIPT=${BASH_SOURCE[0]:-railyard-release.sh}

usage() {
  cat <<'USAGE'
Usage: railyard-release.sh --stack-dir DIR --stack PREFIX SUBCOMMAND [options]

The release store of the stack whose folder is DIR (<dataDir>/<prefix>): one record per release under
DIR/releases (ok or failed; the live one named by DIR/releases/live), the stack's host lock (DIR/releases/lock),
and DIR/audit.log (one line per deploy, rollback, failure and forced lock release). The common options may
stand anywhere on the line.

Subcommands:
  begin --token KEY --who W --commit C --kind deploy|rollback [--rollback-of N] --message M
        [--lock-token T] [--wait SECONDS]
      Before a release changes anything (pulumi up): takes the lock (kind deploy, token KEY) when it is free;
      proceeds when it is held with T (a rollback's own lock) or KEY (this release, run again); takes over a
      deploy lock held with another token (an interrupted pulumi up: Pulumi's own stack lock shows none runs now),
      saying whose; waits up to SECONDS (default 0) for a rollback or manual lock, then fails (75) naming its
      holder. Notes the release as pending (releases/pending.json). Prints nothing on stdout.
  record --token KEY --who W --commit C --kind deploy|rollback [--rollback-of N] --keep N --services-b64 B64
         [--config-b64 B64]
      Once every gate passed: reads each service's Swarm spec, writes the record (status ok; migrated = services
      with a migration whose image changed), makes it live, appends the audit line, keeps its images on the
      engine (a created, never started container per service: <prefix>-keep-<seq>-<service>), keeps the newest
      N records (and always the live one and its rollback target), posts to the webhook, releases the lock if
      KEY holds it. B64: base64 of a JSON object {name: {swarm, image, release, migration, gate}}; of the stack
      file's text. Prints {"seq":N,"at":"TIME"}.
  fail --step gate|migration --service NAME --exit N --reason TEXT
      Records a failed release (from the pending one: who, commit, kind; "-" without one), its audit line and
      webhook; releases a deploy lock. (The gate's and migration's failure paths do the same through the library.)
      Prints {"seq":N,"at":"TIME"}.
  list [--json]       the records, oldest first (live marked *), or a JSON array of them without config and specs
                      (each with "live": true|false)
  show N              record N's JSON
  live                the live release's number (77 when there is none)
  previous            the release a rollback goes back to (77 when there is none): with R the release the live
                      one rolled back to (a rollback) or the live one itself, the newest ok release older than R
                      that ran something else (its key differs from the live one's); repeated rollbacks walk back
  check-images N      whether every image of record N is on this engine (76 naming each missing one)
  lock acquire --who W --kind rollback|manual --message M --token T [--wait SECONDS]
                      takes the lock (proceeds when T holds it); waits up to SECONDS, then fails (75)
  lock release [--token T] [--force] [--who W]
                      releases the lock T holds (75 when another holds it); --force releases whoever holds it and
                      appends a lock-released audit line (W: who released it; default the user running this)
  lock status         the holder (holder.json), or "unlocked"
  audit [--lines N]   the last N lines of the audit log (default 20)

Audit line: <time UTC> <who> <stack> <what> <release> <commit>, what one of deploy, rollback, host-rollback,
failed, lock-released; release and commit "-" when none; who with any character but A-Z a-z 0-9 . _ @ + -
made _, at most 64. A stale lock (its holder is gone, e.g. a rollback killed half-way) is released by hand with
  railyard-release.sh --stack-dir DIR --stack PREFIX lock release --force --who YOU
or from the operator's machine: npm run lock -- --stack STACK --release --force.

Arguments: DIR an absolute path (an existing folder); PREFIX a lower-case name; KEY 64 lower-case hex digits;
T 1 to 128 of A-Z a-z 0-9 . _ -; C lower-case hex (4 to 64) or empty; N (releases) 1 to 999999; --keep 1 to 100;
--wait whole seconds 0 to 86400; --lines 1 to 10000; --exit 1 to 255; M and TEXT at most 1024 and 2000 characters.

Exit codes:
  0   done
  2   bad arguments, or the stack's folder cannot be written (nothing changed)
  70  record: a service of the release is not on the engine, or the engine did not answer (nothing recorded);
      check-images: the engine did not answer
  74  jq or curl is missing (apt-get install jq curl)
  75  the stack is locked by another (begin, lock acquire, lock release without --force)
  76  check-images: an image of the record is not on this engine
  77  no such release (show, check-images), no live release (live), nothing to roll back to (previous)
  78  the record is unusable (not JSON, a failed release, or no services)
USAGE
}

stack_dir="" stack="" command="" action="" number=""
declare -A opts=()
given=()

parse_args() {
  local words=() value
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --stack-dir) opt_value stack_dir "$@"; shift 2 ;;
      --stack) opt_value stack "$@"; shift 2 ;;
      --json|--force) opts[$1]=1; given+=("$1"); shift ;;
      --token|--who|--commit|--kind|--rollback-of|--message|--lock-token|--wait|--keep|--services-b64|--config-b64|--step|--service|--exit|--reason|--lines)
        opt_value value "$@"
        opts[$1]=$value
        given+=("$1")
        shift 2 ;;
      -*) unknown_argument "$1" ;;
      *) words+=("$1"); shift ;;
    esac
  done
  [ -n "$stack_dir" ] || fail 2 "--stack-dir is required (the stack's folder, <dataDir>/<prefix>)"
  check --stack-dir "$stack_dir" "an absolute path (letters, digits, . _ - between slashes)" is_abs_path
  [ -d "$stack_dir" ] || fail 2 "--stack-dir: no folder $(q "$stack_dir")"
  [ -n "$stack" ] || fail 2 "--stack is required (the stack's prefix)"
  check --stack "$stack" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
  [ "${#words[@]}" -gt 0 ] || { usage >&2; fail 2 "a subcommand is required"; }
  command=${words[0]}
  local allowed="" n_words=1
  case "$command" in
    begin) allowed="--token --who --commit --kind --rollback-of --message --lock-token --wait" ;;
    record) allowed="--token --who --commit --kind --rollback-of --keep --services-b64 --config-b64" ;;
    fail) allowed="--step --service --exit --reason" ;;
    list) allowed="--json" ;;
    show|check-images) n_words=2 ;;
    live|previous) ;;
    audit) allowed="--lines" ;;
    lock)
      n_words=2
      action=${words[1]:-}
      case "$action" in
        acquire) allowed="--who --kind --message --token --wait" ;;
        release) allowed="--token --force --who" ;;
        status) ;;
        "") fail 2 "lock needs acquire, release or status" ;;
        *) fail 2 "lock needs acquire, release or status, got $(q "$action")" ;;
      esac ;;
    *) usage >&2; fail 2 "unknown subcommand: $(q "$command")" ;;
  esac
  if [ "$n_words" = 2 ] && [ "$command" != lock ]; then
    number=${words[1]:-}
    [ -n "$number" ] || fail 2 "$command needs a release number"
    check "$command" "$number" "a release number (1 to 999999)" is_int_in 1 999999
  fi
  [ "${#words[@]}" -le "$n_words" ] || fail 2 "unexpected argument: $(q "${words[n_words]}")"
  local o
  for o in ${given[@]+"${given[@]}"}; do
    [[ " $allowed " == *" $o "* ]] || fail 2 "$o is not an option of $command${action:+ $action}"
  done
  check_options
}

# need OPTION…: fails (2) naming the first OPTION that was not given.
need() {
  local o
  for o in "$@"; do [ -n "${opts[$o]+set}" ] || fail 2 "$command${action:+ $action} needs $o"; done
}

is_key() { [[ $1 =~ ^[0-9a-f]{64}$ ]]; }
is_token() { [[ $1 =~ ^[A-Za-z0-9._-]{1,128}$ ]]; }
is_commit() { [[ $1 =~ ^([0-9a-f]{4,64})?$ ]]; }
is_text() { [ "${#2}" -le "$1" ]; }
is_nonempty() { [ -n "$1" ]; }
is_base64() { [[ $1 =~ ^[A-Za-z0-9+/]*={0,2}$ ]] && printf '%s' "$1" | base64 -d >/dev/null 2>&1; }

# The checks of every option given, before anything runs.
check_options() {
  case "$command${action:+ $action}" in
    begin|record)
      need --token --who --commit --kind
      check --token "${opts[--token]}" "a release key (64 lower-case hex digits)" is_key
      check --who "${opts[--who]}" "not empty" is_nonempty
      check --commit "${opts[--commit]}" "lower-case hex (4 to 64 digits) or empty" is_commit
      check --kind "${opts[--kind]}" "deploy or rollback" matches '^(deploy|rollback)$'
      if [ "${opts[--kind]}" = rollback ]; then
        need --rollback-of
      else
        [ -z "${opts[--rollback-of]+set}" ] || fail 2 "--rollback-of needs --kind rollback"
      fi
      [ -z "${opts[--rollback-of]+set}" ] || check --rollback-of "${opts[--rollback-of]}" "a release number (1 to 999999)" is_int_in 1 999999 ;;
  esac
  case "$command${action:+ $action}" in
    begin)
      need --message
      check --message "${opts[--message]}" "at most 1024 characters" is_text 1024
      [ -z "${opts[--lock-token]+set}" ] || check --lock-token "${opts[--lock-token]}" "1 to 128 of A-Z a-z 0-9 . _ -" is_token ;;
    record)
      need --keep --services-b64
      check --keep "${opts[--keep]}" "1 to 100" is_int_in 1 100
      check --services-b64 "${opts[--services-b64]}" "base64" is_base64
      services_given >/dev/null
      [ -z "${opts[--config-b64]+set}" ] || check --config-b64 "${opts[--config-b64]}" "base64" is_base64 ;;
    fail)
      need --step --service --exit --reason
      check --step "${opts[--step]}" "gate or migration" matches '^(gate|migration)$'
      check --service "${opts[--service]}" "a lower-case name (a-z, 0-9, inner -, at most 63)" is_name
      check --exit "${opts[--exit]}" "1 to 255" is_int_in 1 255
      check --reason "${opts[--reason]}" "at most 2000 characters" is_text 2000 ;;
    "lock acquire")
      need --who --kind --message --token
      check --who "${opts[--who]}" "not empty" is_nonempty
      check --kind "${opts[--kind]}" "rollback or manual" matches '^(rollback|manual)$'
      check --message "${opts[--message]}" "at most 1024 characters" is_text 1024
      check --token "${opts[--token]}" "1 to 128 of A-Z a-z 0-9 . _ -" is_token ;;
    "lock release")
      [ -z "${opts[--token]+set}" ] || check --token "${opts[--token]}" "1 to 128 of A-Z a-z 0-9 . _ -" is_token
      [ -z "${opts[--who]+set}" ] || check --who "${opts[--who]}" "not empty" is_nonempty ;;
    audit)
      [ -z "${opts[--lines]+set}" ] || check --lines "${opts[--lines]}" "1 to 10000" is_int_in 1 10000 ;;
  esac
  [ -z "${opts[--wait]+set}" ] || check --wait "${opts[--wait]}" "whole seconds, 0 to 86400" is_int_in 0 86400
}

# The programs the store needs, named by their Debian packages.
require_tools() {
  local missing=() pair
  for pair in jq:jq curl:curl; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ "${#missing[@]}" -eq 0 ] ||
    fail "$REL_TOOL_MISSING" "the release store needs programs this host lacks; install them as root: apt-get install ${missing[*]}"
}

note() { printf '%s: %s\n' "$RAILYARD_SCRIPT" "$*" >&2; }

# ---- begin ----------------------------------------------------------------------------------------------------

cmd_begin() {
  local key=${opts[--token]} lock_token=${opts[--lock-token]:-} wait=${opts[--wait]:-0} who
  who=$(who_word "${opts[--who]}")
  local deadline=$((SECONDS + wait)) said=0 vanished=0 holder_token holder_kind
  while :; do
    lock_try deploy "$key" "$who" "${opts[--message]}" && break
    holder_token=$(lock_field token || true)
    holder_kind=$(lock_field kind || true)
    # Released between the two looks: try again (a lock that cannot be made at all is not waited on forever).
    if [ ! -d "$rel_lock" ]; then
      vanished=$((vanished + 1))
      [ "$vanished" -lt 50 ] || fail 2 "cannot make the lock $(q "$rel_lock")"
      continue
    fi
    if [ -n "$lock_token" ] && [ "$holder_token" = "$lock_token" ]; then break; fi
    [ "$holder_token" != "$key" ] || break
    if [ "$holder_kind" = deploy ]; then
      note "taking over the deploy lock of $(lock_field who || true) since $(lock_field at || true) (an interrupted pulumi up: Pulumi's own stack lock shows none runs now)"
      lock_drop || true
      continue
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      lock_refusal
      exit "$REL_LOCKED"
    fi
    [ "$said" = 1 ] || { note "$rel_stack is locked by $(lock_field who || true) ($holder_kind); waiting up to ${wait}s"; said=1; }
    sleep 1
  done
  pending_write "$who" "${opts[--commit]}" "${opts[--kind]}" "${opts[--rollback-of]:-}" "$key" "${opts[--message]}" ||
    fail 2 "cannot write $(q "$rel_pending")"
}

# ---- record ---------------------------------------------------------------------------------------------------

# The services given, checked: an object of {swarm, image, release, migration, gate}.
services_given() {
  printf '%s' "${opts[--services-b64]}" | base64 -d | jq -ce '
    if type == "object" and length > 0 and all(.[];
      type == "object" and (.swarm | type) == "string" and (.image | type) == "string" and (.release | type) == "string"
      and (.migration | type) == "boolean" and (.gate | type) == "array" and all(.gate[]; type == "string"))
    then . else error("bad") end' 2>/dev/null ||
    fail 2 "--services-b64 must be base64 of a JSON object {name: {swarm, image, release, migration, gate}} with at least one service"
}

# spec_of SWARM: the Swarm spec of the service named exactly SWARM, compact JSON; status 1 when there is none.
spec_of() {
  local out
  out=$(docker service inspect --format '{{json .Spec}}' "$1" 2>/dev/null) || return 1
  jq -ce --arg n "$1" 'select(.Name == $n)' <<<"$out" 2>/dev/null
}

do_record() {
  local services name swarm spec seq at who config=null previous record
  services=$(services_given)
  while IFS=$'\t' read -r name swarm; do
    spec=$(spec_of "$swarm") || fail 70 "the release's service $swarm ($name) is not on the engine (or the engine did not answer); nothing recorded"
    services=$(jq -c --arg n "$name" --argjson spec "$spec" '.[$n].spec = $spec' <<<"$services")
  done < <(jq -r 'to_entries[] | [.key, .value.swarm] | @tsv' <<<"$services")
  if [ -n "${opts[--config-b64]+set}" ]; then
    config=$(printf '%s' "${opts[--config-b64]}" | base64 -d | jq -Rs .)
  fi
  who=$(who_word "${opts[--who]}")
  at=$(now_utc)
  seq=$(next_seq)
  previous=$(all_records | jq -c 'map(select(.status == "ok")) | last // {services: {}}')
  record=$(jq -cn --argjson seq "$seq" --arg kind "${opts[--kind]}" --arg at "$at" --arg who "$who" --arg commit "${opts[--commit]}" \
    --arg stack "$rel_stack" --arg key "${opts[--token]}" --argjson rollbackOf "${opts[--rollback-of]:-null}" \
    --argjson services "$services" --argjson previous "$previous" --argjson config "$config" '
    {version: 1, seq: $seq, status: "ok", kind: $kind, at: $at, who: $who, commit: $commit, stack: $stack, key: $key,
     rollbackOf: $rollbackOf, services: $services,
     migrated: [$services | to_entries[] | select(.value.migration and (.value.image != ($previous.services[.key].image // null))) | .key],
     config: $config}')
  write_record "$seq" "$record" || fail 2 "cannot write $(q "$(release_file "$seq")")"
  set_live "$seq" || fail 2 "cannot write $(q "$rel_live")"
  audit_line "$who" "${opts[--kind]}" "$seq" "${opts[--commit]}"
  recorded_seq=$seq recorded_at=$at
}

recorded_seq="" recorded_at=""
cmd_record() {
  local seq at images
  # In this shell, not in $(…): there `set -e` is off, and a failed check would not stop the record.
  with_store_lock do_record
  seq=$recorded_seq at=$recorded_at
  keep_images "$seq"
  prune_records "${opts[--keep]}"
  rm -f -- "$rel_pending"
  lock_release "${opts[--token]}" || true
  images=$(release_json "$seq" | jq -r '[.services | to_entries[] | "\(.key)=\(.value.image)"] | join(", ")')
  if [ "${opts[--kind]}" = rollback ]; then
    notify "railyard: $(who_word "${opts[--who]}") rolled $rel_stack back to release ${opts[--rollback-of]} (now release $seq): $images"
  else
    notify "railyard: $(who_word "${opts[--who]}") deployed $rel_stack release $seq${opts[--commit]:+ (${opts[--commit]:0:12})}: $images"
  fi
  jq -cn --argjson seq "$seq" --arg at "$at" '{seq: $seq, at: $at}'
}

# ---- fail -----------------------------------------------------------------------------------------------------

cmd_fail() {
  local seq reason=${opts[--reason]//[$'\x01'-$'\x1f']/ }
  seq=$(with_store_lock write_failed "${opts[--step]}" "${opts[--service]}" "${opts[--exit]}" "$reason") ||
    fail 2 "cannot write the failed record in $(q "$rel_dir")"
  notify "railyard: release $seq of $rel_stack FAILED at its ${opts[--step]} of ${opts[--service]} (exit ${opts[--exit]}): $reason"
  release_json "$seq" | jq -c '{seq, at}'
}

# ---- reading --------------------------------------------------------------------------------------------------

cmd_list() {
  local live records
  live=$(live_seq || echo 0)
  records=$(all_records | jq -c --argjson live "$live" 'map(del(.config) | .services |= ((. // {}) | map_values(del(.spec))) | .live = (.seq == $live))')
  if [ -n "${opts[--json]+set}" ]; then
    printf '%s\n' "$records"
    return 0
  fi
  if [ "$records" = '[]' ]; then
    echo "no releases recorded for $rel_stack"
    return 0
  fi
  printf '  %-6s %-6s %-13s %-20s %-16s %-12s %s\n' SEQ STATUS KIND TIME WHO COMMIT IMAGES
  jq -r '.[] | [(if .live then "*" else " " end), (.seq | tostring), .status, .kind, .at, .who, ((.commit // "")[0:12] | if . == "" then "-" else . end),
      (if .status == "failed" then "\(.failure.step) of \(.failure.service) failed (exit \(.failure.exit))"
       else [.services | to_entries[] | "\(.key)=\(.value.image)"] | join(" ") end)] | map(gsub("[\u0000-\u001f]"; " ")) | @tsv' <<<"$records" |
    while IFS=$'\t' read -r mark seq status kind at who commit images; do
      printf '%s %-6s %-6s %-13s %-20s %-16s %-12s %s\n' "$mark" "$seq" "$status" "$kind" "$at" "$who" "$commit" "$images"
    done
}

# the_record N: record N's JSON, or fail 77 (none) / 78 (not a record).
the_record() {
  [ -e "$(release_file "$1")" ] || fail "$REL_NONE" "no release $1 of $rel_stack (npm run rollback -- --list shows those kept)"
  release_json "$1" || fail "$REL_UNUSABLE" "release $1 of $rel_stack: $(q "$(release_file "$1")") is not a record (not JSON)"
}

cmd_show() { the_record "$number" | jq .; }

cmd_live() {
  live_seq || fail "$REL_NONE" "no live release of $rel_stack recorded yet"
}

cmd_previous() {
  local live
  live=$(live_seq) || fail "$REL_NONE" "no live release of $rel_stack recorded yet: nothing to roll back to"
  previous_good "$live" || fail "$REL_NONE" "release $live of $rel_stack has no earlier good release that ran something else: nothing to roll back to"
}

cmd_check_images() {
  local record name image absent=0
  record=$(the_record "$number")
  [ "$(jq -r .status <<<"$record")" = ok ] || fail "$REL_UNUSABLE" "release $number of $rel_stack is a failed release: there is nothing of it to run"
  [ "$(jq '.services // {} | length' <<<"$record")" -gt 0 ] || fail "$REL_UNUSABLE" "release $number of $rel_stack records no services"
  command -v docker >/dev/null 2>&1 || fail "$REL_IMAGE_MISSING" "docker is missing: no image of release $number can be checked"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || fail 70 "the Docker engine did not answer: the images of release $number cannot be checked"
  while IFS=$'\t' read -r name image; do
    if ! docker image inspect "$image" >/dev/null 2>&1; then
      note "release $number: the image of $name is not on this engine: $(q "$image")"
      absent=1
    fi
  done < <(jq -r '.services | to_entries[] | [.key, .value.image] | @tsv' <<<"$record")
  [ "$absent" = 0 ] || exit "$REL_IMAGE_MISSING"
}

cmd_audit() {
  [ -e "$rel_audit" ] || return 0
  tail -n "${opts[--lines]:-20}" -- "$rel_audit"
}

# ---- lock -----------------------------------------------------------------------------------------------------

cmd_lock() {
  case "$action" in
    acquire)
      lock_acquire "${opts[--kind]}" "${opts[--token]}" "${opts[--who]}" "${opts[--message]}" "${opts[--wait]:-0}"
      note "$rel_stack locked by $(lock_field who || true) (${opts[--kind]})" ;;
    status)
      local file
      if file=$(lock_holder_file); then
        jq -c . "$file" 2>/dev/null || echo '{"who":"unknown","kind":"manual","token":"","message":"no holder.json","at":"unknown"}'
      else
        echo unlocked
      fi ;;
    release)
      if [ ! -d "$rel_lock" ]; then
        note "$rel_stack is not locked"
        return 0
      fi
      if [ -n "${opts[--force]+set}" ]; then
        local holder by
        holder=$(lock_field who || true)
        by=${opts[--who]:-${SUDO_USER:-${USER:-$(id -un 2>/dev/null || echo unknown)}}}
        lock_drop || fail "$REL_LOCKED" "the lock of $rel_stack could not be removed ($(q "$rel_lock"))"
        audit_line "$by" lock-released - -
        note "released the lock $holder held on $rel_stack"
        return 0
      fi
      if [ -n "${opts[--token]+set}" ] && lock_release "${opts[--token]}"; then
        note "released the lock of $rel_stack"
        return 0
      fi
      lock_refusal
      note "this is not your lock${opts[--token]+ (its token is not the one given)}: --force releases it"
      exit "$REL_LOCKED" ;;
  esac
}

main() {
  parse_args "$@"
  require_tools
  releases_init "$stack_dir" "$stack"
  case "$command${action:+ $action}" in
    begin|record|fail|"lock acquire"|"lock release")
      { mkdir -p -- "$rel_dir" 2>/dev/null && [ -w "$rel_dir" ]; } ||
        fail 2 "--stack-dir: cannot write $(q "$rel_dir") (the stack's folder belongs to the SSH user that deploys)" ;;
  esac
  case "$command" in
    begin) cmd_begin ;;
    record) cmd_record ;;
    fail) cmd_fail ;;
    list) cmd_list ;;
    show) cmd_show ;;
    live) cmd_live ;;
    previous) cmd_previous ;;
    check-images) cmd_check_images ;;
    lock) cmd_lock ;;
    audit) cmd_audit ;;
  esac
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
