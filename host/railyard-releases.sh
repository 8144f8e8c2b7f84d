# shellcheck shell=bash
# railyard-releases: the host's release store, shared by railyard-release.sh (the store's own commands), the
# host rollback and the gate's and migration's failure paths. Sourced after railyard-lib.sh (fail, q, json_str,
# write_json, post_webhook). Needs jq; the webhook needs curl.
#
# Layout under the stack's folder (<dataDir>/<prefix>, owned by the SSH user):
#   releases/<seq>.json   one record per release (ok or failed), seq zero-padded to 6 digits, written atomically
#   releases/live         the seq of the live release (the newest ok one that went live)
#   releases/pending.json the release under way (written by begin): who, commit, kind, rollbackOf, token, message, at
#   releases/lock/        the stack's host lock, holder.json inside: who, kind, token, message, at
#   audit.log             one line per event: <time> <who> <stack> <what> <release> <commit> (append only)
#   hooks/deploy-webhook.url  optional: POST {"text"} on each deploy, rollback and failed release

# Marks the library as loaded.
railyard_releases() { :; }

# Exit codes of the store (railyard-release.sh --help lists them).
# shellcheck disable=SC2034  # read by the scripts that source the store
REL_LOCKED=75 REL_IMAGE_MISSING=76 REL_NONE=77 REL_UNUSABLE=78 REL_TOOL_MISSING=74

# releases_init STACK_DIR [STACK]: the store's paths; STACK defaults to STACK_DIR's last name (<dataDir>/<prefix>).
# shellcheck disable=SC2034  # the paths are what the callers read
releases_init() {
  rel_stack_dir=${1%/}
  rel_stack=${2:-${rel_stack_dir##*/}}
  rel_dir=$rel_stack_dir/releases
  rel_lock=$rel_dir/lock
  rel_live=$rel_dir/live
  rel_pending=$rel_dir/pending.json
  rel_audit=$rel_stack_dir/audit.log
  rel_webhook=$rel_stack_dir/hooks/deploy-webhook.url
}

# now_utc: the time as records and audit lines write it (UTC, second precision, Z).
now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# who_word WHO: WHO as one word: any character outside [A-Za-z0-9._@+-] becomes _, at most 64; "-" when empty.
who_word() {
  local w=${1//[^A-Za-z0-9._@+-]/_}
  w=${w:0:64}
  printf '%s\n' "${w:--}"
}

# seq_name N: the record's file name stem (6 digits).
seq_name() { printf '%06d' "$((10#$1))"; }

# release_file N: the path of record N.
release_file() { printf '%s/%s.json\n' "$rel_dir" "$(seq_name "$1")"; }

# release_seqs: the seqs of the records there are, oldest first (numbers, no padding).
release_seqs() {
  local f n
  for f in "$rel_dir"/[0-9][0-9][0-9][0-9][0-9][0-9].json; do
    [ -e "$f" ] || continue
    n=${f##*/}
    n=${n%.json}
    printf '%s\n' "$((10#$n))"
  done
}

# live_seq: the live release's seq; status 1 when there is none (or the pointer is not a number).
live_seq() {
  local n
  n=$(head -n 1 -- "$rel_live" 2>/dev/null) || return 1
  [[ $n =~ ^[0-9]{1,9}$ ]] || return 1
  printf '%s\n' "$((10#$n))"
}

# set_live N: the live pointer to N, atomically.
set_live() { write_json "$rel_live" "$1"; }

# audit_line WHO WHAT RELEASE COMMIT: appends one line to audit.log (one write: lines never interleave).
# RELEASE and COMMIT are "-" when empty.
audit_line() {
  local line
  printf -v line '%s %s %s %s %s %s\n' "$(now_utc)" "$(who_word "$1")" "$rel_stack" "$2" "${3:--}" "${4:--}"
  mkdir -p -- "$rel_stack_dir" 2>/dev/null || true
  printf '%s' "$line" >>"$rel_audit"
}

# write_record N JSON: writes record N atomically (a reader, or a run killed half-way, never leaves half a record).
write_record() { write_json "$(release_file "$1")" "$2"; }

# next_seq: one more than the newest record's seq (1 for the first).
next_seq() {
  local last
  last=$(release_seqs | tail -n 1)
  printf '%s\n' "$((${last:-0} + 1))"
}

# with_store_lock CMD…: CMD under the store's own short lock (flock on releases/.store.lock), so two writers
# never take one seq. Without flock CMD runs as is (the stack lock already keeps releases apart).
with_store_lock() {
  mkdir -p -- "$rel_dir"
  if command -v flock >/dev/null 2>&1; then
    local fd status
    exec {fd}>>"$rel_dir/.store.lock"
    flock -w 30 "$fd" || true
    # Not `"$@" || …`: that would turn off `set -e` inside CMD. Under `set -e` a failing CMD ends the (sub)shell,
    # and the lock with it.
    "$@"
    status=$?
    exec {fd}>&-
    return "$status"
  fi
  "$@"
}

# release_json N: record N's text; status 1 when there is none or it is not a JSON object.
release_json() {
  local f
  f=$(release_file "$1")
  [ -r "$f" ] || return 1
  jq -ce 'if type == "object" then . else error("not a record") end' "$f" 2>/dev/null
}

# all_records: every record as one JSON array, oldest first (unreadable ones left out).
all_records() {
  local f files=()
  for f in "$rel_dir"/[0-9][0-9][0-9][0-9][0-9][0-9].json; do [ -e "$f" ] && files+=("$f"); done
  if [ "${#files[@]}" -eq 0 ]; then echo '[]'; return 0; fi
  # One unreadable file must not hide the others: each read on its own.
  for f in "${files[@]}"; do jq -c 'select(type == "object" and (.seq | type) == "number")' "$f" 2>/dev/null || true; done | jq -sc 'sort_by(.seq)'
}

# previous_good [LIVE]: the seq a rollback from the live release (or LIVE) goes back to: with R the release LIVE
# rolled back to (a rollback record) or LIVE itself, the newest ok record older than R whose key differs from
# LIVE's; status 1 when there is none.
previous_good() {
  local live=${1:-}
  [ -n "$live" ] || live=$(live_seq) || return 1
  all_records | jq -er --argjson live "$live" '
    (map(select(.seq == $live)) | first) as $l
    | if $l == null then empty else
        (if ($l.kind == "rollback" or $l.kind == "host-rollback") and ($l.rollbackOf | type) == "number" then $l.rollbackOf else $l.seq end) as $r
        | map(select(.status == "ok" and .seq < $r and .key != $l.key)) | last | .seq // empty
      end' 2>/dev/null
}

# ---- the lock -------------------------------------------------------------------------------------------------

# lock_holder_file: the holder's file when the lock is held; status 1 when unlocked. A lock just taken may not
# have its holder yet (mkdir, then the holder written): waited on for up to 2 s.
lock_holder_file() {
  local i
  for ((i = 0; i < 20; i++)); do
    [ -d "$rel_lock" ] || return 1
    [ ! -e "$rel_lock/holder.json" ] || break
    sleep 0.1
  done
  printf '%s\n' "$rel_lock/holder.json"
}

# lock_field FIELD: a field of the lock's holder.json (empty when it has none); status 1 when unlocked.
lock_field() {
  local file
  file=$(lock_holder_file) || return 1
  jq -r --arg f "$1" '.[$f] // "" | tostring' "$file" 2>/dev/null || printf '\n'
}

# lock_holder: the holder as "who|kind|token|at|message" (message with control characters escaped); status 1 when
# unlocked. A lock folder without a readable holder (broken: its taker died) reads as held by "unknown".
lock_holder() {
  local file
  file=$(lock_holder_file) || return 1
  jq -r '[.who, .kind, .token, .at, .message] | map(. // "" | tostring | gsub("[\u0000-\u001f|]"; "_")) | join("|")' \
    "$file" 2>/dev/null || printf 'unknown|manual||unknown|no holder.json in %s\n' "$rel_lock"
}

# lock_try KIND TOKEN WHO MESSAGE: takes the lock when it is free (status 0), else status 1: mkdir is atomic, so
# of two takers one wins; the holder is then written into it atomically.
lock_try() {
  local holder
  mkdir -p -- "$rel_dir" 2>/dev/null || return 1
  mkdir -- "$rel_lock" 2>/dev/null || return 1
  holder=$(jq -cn --arg who "$(who_word "$3")" --arg kind "$1" --arg token "$2" --arg message "$4" --arg at "$(now_utc)" \
    '{who: $who, kind: $kind, token: $token, message: $message, at: $at}')
  write_json "$rel_lock/holder.json" "$holder"
}

# lock_drop: removes the lock whoever holds it (renamed away first: a reader never sees a half-removed lock).
lock_drop() {
  local gone
  gone="$rel_dir/.lock.released.$$.$RANDOM"
  mv -T -- "$rel_lock" "$gone" 2>/dev/null || return 1
  rm -rf -- "$gone"
}

# lock_release TOKEN: releases the lock when it is held with TOKEN (status 0); status 1 when it is not (or free).
lock_release() {
  local token
  token=$(lock_field token) || return 1
  [ -n "$1" ] && [ "$token" = "$1" ] || return 1
  lock_drop
}

# lock_refusal: the message for a lock another holds (with how to wait and how to release a stale one), on stderr.
lock_refusal() {
  local who kind token at message
  IFS='|' read -r who kind token at message <<<"$(lock_holder || echo 'unknown|manual||unknown|')"
  printf 'railyard: %s is locked by %s since %s (%s: %s)\n' "$rel_stack" "$who" "$at" "$kind" "$message" >&2
  printf '  wait for it: pass --wait SECONDS (npm run rollback -- --wait 10m; RAILYARD_LOCK_WAIT=600 pulumi up)\n' >&2
  printf '  a stale lock (its holder is gone): npm run lock -- --stack %s --release --force\n' "$rel_stack" >&2
  printf '    (on the host: bash %s --stack-dir %s --stack %s lock release --force)\n' \
    "$(q "${RAILYARD_RELEASE_SCRIPT:-railyard-release.sh}")" "$(q "$rel_stack_dir")" "$rel_stack" >&2
}

# failed_deploy_lock: status 0 when the lock is a deploy's whose pending release failed (its gate or migration
# recorded the failure): that deploy's own steps are over, so a rollback may take the lock over.
failed_deploy_lock() {
  [ "$(lock_field kind || true)" = deploy ] || return 1
  [ -n "$(lock_field token || true)" ] || return 1
  jq -e --arg t "$(lock_field token)" '.token == $t and (.failed | type) == "object"' "$rel_pending" >/dev/null 2>&1
}

# rollback_pending STACK_DIR: status 0 when the release under way in STACK_DIR is a rollback (begin noted it): its
# migration jobs are not run (a rollback never runs the older release's migrations against the newer schema).
rollback_pending() {
  jq -e '.kind == "rollback" and (.failed == null)' "$1/releases/pending.json" >/dev/null 2>&1
}

# lock_acquire KIND TOKEN WHO MESSAGE WAIT: takes the lock, or proceeds when TOKEN already holds it; when another
# holds it, waits up to WAIT seconds for it to be free, then fails (75) naming the holder.
lock_acquire() {
  # SECONDS ticks with the wall clock's whole seconds: one tick may come a moment after the start, so a wait of N
  # seconds ends at the (N+1)th tick (at least N seconds, at most N+1). No wait (0) refuses at once.
  local deadline=$((SECONDS + ($5 > 0 ? $5 + 1 : 0))) said=0
  while :; do
    lock_try "$1" "$2" "$3" "$4" && return 0
    [ "$(lock_field token || true)" != "$2" ] || return 0
    if failed_deploy_lock; then
      printf '%s: taking over the lock of %s'"'"'s deploy of %s, which failed (%s)\n' "${RAILYARD_SCRIPT:-railyard}" \
        "$(lock_field who || true)" "$(lock_field at || true)" "$(jq -r '.failed | "\(.step) of \(.service), exit \(.exit)"' "$rel_pending" 2>/dev/null)" >&2
      lock_drop || true
      continue
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      lock_refusal
      exit "$REL_LOCKED"
    fi
    [ "$said" = 1 ] || { printf '%s: %s is locked by %s; waiting up to %ss\n' "${RAILYARD_SCRIPT:-railyard}" "$rel_stack" "$(lock_field who || true)" "$5" >&2; said=1; }
    sleep 1
  done
}

# ---- records --------------------------------------------------------------------------------------------------

# notify TEXT: POSTs TEXT to the stack's deploy webhook when it has one; never fails.
notify() {
  [ -e "$rel_webhook" ] || return 0
  post_webhook "$rel_webhook" "$1" || true
}

# keeper_name SEQ SERVICE: the never-started container that keeps record SEQ's image of SERVICE on the engine.
keeper_name() { printf '%s-keep-%s-%s\n' "$rel_stack" "$1" "$2"; }

# keep_images SEQ: creates (never starts) a keeper container for each service image of record SEQ, so that
# `docker image prune -a` keeps them. One that cannot be made (the image is gone) is said, not fatal.
keep_images() {
  local name image
  while IFS=$'\t' read -r name image; do
    [ -n "$name" ] || continue
    docker container inspect "$(keeper_name "$1" "$name")" >/dev/null 2>&1 && continue
    docker create --pull never --name "$(keeper_name "$1" "$name")" --network none \
      --label "railyard.stack=$rel_stack" --label railyard.role=keep --label "railyard.keep=$1" \
      --entrypoint /railyard-keep "$image" >/dev/null 2>&1 ||
      printf '%s: could not keep %s (record %s, %s) on this engine\n' "${RAILYARD_SCRIPT:-railyard}" "$(q "$image")" "$1" "$name" >&2
  done < <(release_json "$1" | jq -r '.services // {} | to_entries[] | [.key, .value.image] | @tsv')
}

# prune_records KEEP: removes all but the newest KEEP records, never the live one or its rollback target, and
# every keeper container of a record that is gone or failed.
prune_records() {
  local keep=$1 live target seq ids id label
  live=$(live_seq || true)
  target=$(previous_good "$live" || true)
  local seqs=() kept=" "
  mapfile -t seqs < <(release_seqs)
  local n=${#seqs[@]} i
  for ((i = 0; i < n; i++)); do
    seq=${seqs[i]}
    if ((i >= n - keep)) || [ "$seq" = "$live" ] || [ "$seq" = "$target" ]; then
      kept+="$seq "
    else
      rm -f -- "$(release_file "$seq")"
    fi
  done
  command -v docker >/dev/null 2>&1 || return 0
  mapfile -t ids < <(docker ps -aq --filter "label=railyard.stack=$rel_stack" --filter label=railyard.role=keep 2>/dev/null || true)
  for id in ${ids[@]+"${ids[@]}"}; do
    label=$(docker container inspect --format '{{index .Config.Labels "railyard.keep"}}' "$id" 2>/dev/null) || continue
    if [[ "$kept" == *" $label "* ]] && [ "$(release_json "$label" | jq -r .status 2>/dev/null)" = ok ]; then continue; fi
    remove_container "$id" || true
  done
}

# pending_write WHO COMMIT KIND ROLLBACK_OF TOKEN MESSAGE: notes the release under way (releases/pending.json), so
# that a gate or migration failing during it records who, what commit and which kind (ROLLBACK_OF "" for none).
pending_write() {
  local json
  json=$(jq -cn --arg who "$(who_word "$1")" --arg commit "$2" --arg kind "$3" --arg rollbackOf "$4" --arg token "$5" --arg message "$6" --arg at "$(now_utc)" \
    '{who: $who, commit: $commit, kind: $kind, rollbackOf: (if $rollbackOf == "" then null else ($rollbackOf | tonumber) end),
      token: $token, message: $message, at: $at}') || return 1
  write_json "$rel_pending" "$json"
}

# pending_field FIELD: a field of pending.json ("" when there is none).
pending_field() { jq -r --arg f "$1" '.[$f] // "" | tostring' "$rel_pending" 2>/dev/null || true; }

# write_failed STEP SERVICE EXIT REASON: the failed record (from pending.json: who, commit, kind; "-" without
# one), its audit line and webhook; releases a deploy lock. Prints the seq.
write_failed() {
  local who commit kind key rollback_of seq at json
  who=$(pending_field who) commit=$(pending_field commit) kind=$(pending_field kind) key=$(pending_field token)
  rollback_of=$(pending_field rollbackOf)
  [[ $rollback_of =~ ^[0-9]{1,9}$ ]] || rollback_of=null
  who=$(who_word "${who:--}")
  at=$(now_utc)
  seq=$(next_seq)
  json=$(jq -n --argjson seq "$seq" --arg kind "${kind:--}" --arg at "$at" --arg who "$who" --arg commit "$commit" \
    --arg stack "$rel_stack" --arg key "$key" --argjson rollbackOf "$rollback_of" \
    --arg step "$1" --arg service "$2" --argjson exit "$3" --arg reason "$4" \
    '{version: 1, seq: $seq, status: "failed", kind: $kind, at: $at, who: $who, commit: $commit, stack: $stack,
      key: $key, rollbackOf: $rollbackOf, services: {}, migrated: [], config: null,
      failure: {step: $step, service: $service, exit: $exit, reason: $reason}}') || return 1
  write_record "$seq" "$json" || return 1
  audit_line "$who" failed "$seq" "$commit"
  # The deploy's lock stays held: other steps of the same `pulumi up` may still run, and a retry of the same
  # release (its begin unchanged, so not run again) runs under it. The pending release is marked failed, so a
  # rollback may take the lock over (lock_acquire); the next begin takes it over anyway.
  if [ -e "$rel_pending" ]; then
    write_json "$rel_pending" "$(jq -c --argjson seq "$seq" --arg step "$1" --arg service "$2" --argjson exit "$3" \
      '. + {failed: {seq: $seq, step: $step, service: $service, exit: $exit}}' "$rel_pending")" || true
  fi
  printf '%s\n' "$seq"
}

# release_failed STACK_DIR STEP SERVICE EXIT REASON: records that a release failed at STEP (gate or migration)
# of SERVICE with EXIT, says it on the webhook, releases a deploy lock. For the gate's and migration's failure
# paths: it never fails (status 0), never exits the caller, and prints one note on stderr at most.
# Nothing is recorded when STACK_DIR has no releases/ folder (not a stack's folder, or no release began there).
release_failed() {
  (
    set +e
    set -o pipefail
    [ -d "$1/releases" ] || exit 0
    command -v jq >/dev/null 2>&1 || { printf '%s: jq is missing: the failed release is not recorded (apt-get install jq)\n' "${RAILYARD_SCRIPT:-railyard}" >&2; exit 0; }
    releases_init "$1"
    local rf_service=$3 rf_reason rf_seq
    [[ $rf_service != "$rel_stack-"* ]] || rf_service=${rf_service#"$rel_stack-"}
    rf_reason=${5//[$'\x01'-$'\x1f']/ }
    rf_reason=${rf_reason:0:2000}
    [[ $4 =~ ^[0-9]{1,3}$ ]] || set -- "$1" "$2" "$3" 1 "$5"
    rf_seq=$(with_store_lock write_failed "$2" "$rf_service" "$4" "$rf_reason") || {
      printf '%s: could not record the failed release in %s\n' "${RAILYARD_SCRIPT:-railyard}" "$(q "$rel_dir")" >&2
      exit 0
    }
    printf '%s: recorded failed release %s of %s (%s of %s, exit %s)\n' "${RAILYARD_SCRIPT:-railyard}" "$rf_seq" "$rel_stack" "$2" "$rf_service" "$4" >&2
    # In the background: the webhook (up to 15 s) must not hold the failing step past its own timeout.
    notify "railyard: release $rf_seq of $rel_stack FAILED at its $2 of $rf_service (exit $4): $rf_reason" >/dev/null 2>&1 &
  ) </dev/null || true
  # Always 0: in a caller's EXIT trap under `set -e`, a failing command would replace the caller's exit status.
  return 0
}
