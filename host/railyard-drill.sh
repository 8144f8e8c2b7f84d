#!/usr/bin/env bash
# railyard-drill: the restore drill — restore the newest complete dump of a railyard database from the bucket
# into a scratch container (railyard-restore.sh --into scratch --check --json), record the result, its age (RPO)
# and the restore time (RTO) on the host, and fail as loudly as a failed backup.
set -euo pipefail
RAILYARD_SCRIPT=railyard-drill
# The shared libraries live beside the script (or were fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
railyard_dir=${BASH_SOURCE[0]:-}
railyard_dir=${railyard_dir%/*}
[ -n "$railyard_dir" ] && [ "$railyard_dir" != "${BASH_SOURCE[0]:-}" ] || railyard_dir=.
if ! declare -F railyard_lib >/dev/null; then
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi
if ! declare -F railyard_s3 >/dev/null; then
  # shellcheck source=host/railyard-s3.sh
  source "$railyard_dir/railyard-s3.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-drill.sh --service NAME --engine ENGINE --user USER --database DB
                         --bucket NAME --prefix STACK/DATABASE --credentials FILE [--endpoint URL] [--region REGION]
                         --state-dir DIR [--webhook-file FILE] [--max-dump-age SECONDS]
                         [--freshness-query SQL --max-age SECONDS] [--start-timeout SECONDS]

Restores the newest complete dump under STACK/DATABASE (read with FILE, the bucket's read-only key) into a
scratch container of the live service's image with railyard-restore.sh --into scratch --check --json (tables and
exact row counts, redis keys; the optional freshness query), removes the container, and records
DIR/drill-DATABASE.json (DATABASE: the prefix's second name):
  {"result": "ok"|"failed", "database", "key", "dump_time", "rpo_seconds" (now - the dump's time),
   "rto_seconds" (the restore's time), "counts", "checked_at", and on failure "exit_code" and "reason"}
With --max-dump-age the drill also fails (67) when the newest complete dump is older than SECONDS (the backups
stopped: the RPO is broken even though the dump restores). A failed drill exits with the restore's code, records result failed with the reason, and POSTs
{"text": "..."} to the URL in the webhook file (the URL never in argv). Arguments as railyard-restore.sh's.

Exit codes:
  0   the drill passed (recorded)
  2   bad arguments
  20, 60-65  the drill failed: railyard-restore.sh's code (20 no such service, 60 no complete dump, 61 download
      or checksum failed, 62 restore failed, 63 check failed, 65 scratch container did not start); recorded
  66  the drill passed or failed but its state file could not be written
  67  the newest complete dump restores but is older than --max-dump-age (recorded as failed)
  68  the drill was stopped by a signal (its timeout, a stop) before it finished (recorded as failed)
USAGE
}

checked_at="" service="" engine="" user="" database="" state_dir="" webhook_file="" max_dump_age="" restore_args=()

parse_args() {
  local freshness="" max_age="" start_timeout=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --engine) opt_value engine "$@"; shift 2 ;;
      --user) opt_value user "$@"; shift 2 ;;
      --database) opt_value database "$@"; shift 2 ;;
      --state-dir) opt_value state_dir "$@"; shift 2 ;;
      --webhook-file) opt_value webhook_file "$@"; shift 2 ;;
      --max-dump-age) opt_value max_dump_age "$@"; shift 2 ;;
      --freshness-query) opt_value freshness "$@"; shift 2 ;;
      --max-age) opt_value max_age "$@"; shift 2 ;;
      --start-timeout) opt_value start_timeout "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) if s3_parse_option "$@"; then shift 2; else unknown_argument "$1"; fi ;;
    esac
  done
  check_database
  engine_ext "$engine" >/dev/null || fail 2 "--engine must be postgres, mysql, mongo or redis, got $(q "$engine")"
  s3_check_options
  check --state-dir "$state_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  [ -z "$max_dump_age" ] || check --max-dump-age "$max_dump_age" "1 to 999999999 seconds" is_int_in 1 999999999
  [ -z "$webhook_file" ] || check --webhook-file "$webhook_file" "an absolute path to a file only its owner can read (chmod 600)" is_secret_file
  restore_args=(--service "$service" --engine "$engine" --user "$user" --database "$database"
    --bucket "$s3_bucket" --prefix "$s3_prefix" --credentials "$s3_credentials" --region "$s3_region"
    --into scratch --check --json)
  [ -z "$s3_endpoint" ] || restore_args+=(--endpoint "$s3_endpoint")
  [ -z "$freshness$max_age" ] || restore_args+=(--freshness-query "$freshness" --max-age "$max_age")
  [ -z "$start_timeout" ] || restore_args+=(--start-timeout "$start_timeout")
  # railyard-restore.sh checks the rest of its own arguments first (exit 2): a bad one is a bad argument here.
  return 0
}

# drill_record JSON: the state file DIR/drill-DATABASE.json (exit 66 when it cannot be written).
drill_record() {
  write_json "$state_dir/drill-$s3_database.json" "$1" || fail 66 "could not write $(q "$state_dir/drill-$s3_database.json")"
}

# A drill stopped part-way (timeout's TERM, systemd's stop) is a failed drill: recorded and posted.
on_signal() {
  trap - TERM INT HUP
  checked_at=$(utc_iso "")
  failed 68 "the drill was stopped by a signal (its timeout, or a stop) before it finished"
}

main() {
  parse_args "$@"
  trap on_signal TERM INT HUP
  local out err status=0 now key dump_time rpo rto counts reason
  err=$(mktemp "${TMPDIR:-/tmp}/railyard-drill.XXXXXX")
  # shellcheck disable=SC2064  # the path is fixed now
  trap "rm -f -- $(q "$err")" EXIT
  out=$(bash "$railyard_dir/railyard-restore.sh" "${restore_args[@]}" 2>"$err") || status=$?
  cat -- "$err" >&2
  now=$(date -u +%s)
  checked_at=$(utc_iso "$now")
  if ((status == 2)); then
    # Its arguments were refused before anything ran: nothing to record.
    fail 2 "railyard-restore.sh refused the arguments: $(grep '^railyard-restore: ' "$err" | tail -n 1)"
  fi
  if ((status == 0)); then
    key=$(json_field key "$out" || true)
    dump_time=$(json_field dump_time "$out" || true)
    rto=$(sed -n 's/.*"restore_seconds": \([0-9.]*\).*/\1/p' <<<"$out")
    # The counts are the report's last member (the names in them are JSON strings: cut by position, not pattern).
    counts=${out#*'"counts": '}
    counts=${counts%\}}
    if [[ -n $key && $counts == "{"*"}" && $dump_time =~ ^[0-9T:Z-]+$ && $rto =~ ^[0-9]+(\.[0-9]+)?$ && -n $counts ]]; then
      rpo=$((now - $(date -u -d "$dump_time" +%s)))
      if [ -n "$max_dump_age" ] && ((rpo > max_dump_age)); then
        failed 67 "the newest complete dump $key is ${rpo}s old, more than --max-dump-age $max_dump_age: are the backups running?" "$key" "$dump_time" "$rpo" "$rto" "$counts"
      fi
      drill_record "$(printf '{"result": "ok", "database": %s, "key": %s, "dump_time": "%s", "rpo_seconds": %s, "rto_seconds": %s, "counts": %s, "checked_at": "%s"}' \
        "$(json_str "$s3_database")" "$(json_str "$key")" "$dump_time" "$rpo" "$rto" "$counts" "$checked_at")"
      printf 'drill ok: %s restored in %ss, RPO %ss (dumped %s)\n' "$key" "$rto" "$rpo" "$dump_time"
      return 0
    fi
    status=62 reason="railyard-restore.sh answered without its report: $(q "$out")"
  fi
  reason=${reason:-$(grep '^railyard-restore: ' "$err" | tail -n 1 | sed 's/^railyard-restore: //')}
  failed "$status" "${reason:-"railyard-restore.sh exited $status"}"
}

# failed CODE REASON [KEY DUMP_TIME RPO RTO COUNTS]: records the failed drill (with what it measured when the
# dump restored), posts the webhook, exits CODE.
failed() {
  local code=$1 reason=$2 extra=""
  [ $# -lt 7 ] || extra=$(printf ', "key": %s, "dump_time": "%s", "rpo_seconds": %s, "rto_seconds": %s, "counts": %s' "$(json_str "$3")" "$4" "$5" "$6" "$7")
  drill_record "$(printf '{"result": "failed", "database": %s, "exit_code": %s, "reason": %s%s, "checked_at": "%s"}' \
    "$(json_str "$s3_database")" "$code" "$(json_str "$reason")" "$extra" "$checked_at")"
  [ -z "$webhook_file" ] || post_webhook "$webhook_file" "railyard: the restore drill of $s3_prefix ($service) FAILED (exit $code): $reason" || true
  fail "$code" "the restore drill of $s3_prefix failed (exit $code): $reason"
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
