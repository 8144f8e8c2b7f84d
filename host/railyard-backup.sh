#!/usr/bin/env bash
# railyard-backup: dump one railyard database with its engine's own tool into a folder (keeping the newest N), or
# stream it, compressed, to the backup bucket with a completion manifest written only after everything succeeded.
set -euo pipefail
RAILYARD_SCRIPT=railyard-backup
# The shared libraries live beside the script (railyard-lib.sh may have been fed before it on stdin).
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
Usage: railyard-backup.sh --service NAME --engine ENGINE --user USER --database DB --dir DIR [--keep N]
       railyard-backup.sh --service NAME --engine ENGINE --user USER --database DB
         --bucket BUCKET --prefix STACK/DATABASE --credentials FILE [--endpoint URL] [--region REGION]
         [--reason scheduled|pre-deploy|safety] [--level L] [--state-dir DIR] [--webhook-file FILE]

Dumps the database that runs as Swarm service NAME (a running container of it on this node) with the engine's
own tool, reading the password from the container's Swarm secret:
  postgres  pg_dump --format=custom (--compress=0 to the bucket)  -> .dump
  mysql     mysqldump --single-transaction --routines --triggers  -> .sql
  mongo     mongodump --archive                                   -> .archive
  redis     redis-cli --rdb - (a fresh snapshot, to stdout)       -> .rdb

--dir DIR: the dump is written to DIR/NAME-YYYYmmddTHHMMSSZ.EXT through a .partial file renamed only when
complete; then all but the newest N (default 5) dumps of NAME in DIR are removed: only files named as this
script names them, never another file. Nothing is removed when the dump fails. No Swarm object is changed.

--bucket BUCKET: the dump streams, compressed on this host (zstd -LEVEL, default 1: in bench:backup as
small as 3 and faster), to
s3://BUCKET/STACK/DATABASE/YYYYmmddTHHMMSSZ.EXT.zst with no temporary file on the host or in the container;
its sha256 and size are computed on the way. Only after the dump tool, the compression and the upload all
succeeded is the completion manifest STACK/DATABASE/YYYYmmddTHHMMSSZ.EXT.zst.json written (format, stack,
database, engine, key, bytes, sha256, compression, started, finished, reason, host): restores trust only dumps
that have one. When any stage fails the upload is aborted before it ends (no object; a multipart upload left
unfinished is removed by the bucket's lifecycle). Prints the key on success.
  --credentials FILE  an AWS shared-credentials file ([default] profile) that only its owner can read; no
                      other AWS setting of the environment is used. Keys never appear in a command line.
  --endpoint URL      an S3-compatible store (MinIO, R2, B2); --region defaults to us-east-1.
  --reason            recorded in the manifest (default scheduled).
  --state-dir DIR     records DIR/backup-DATABASE.json (result ok|failed, key, bytes, sha256, started,
                      finished, exit_code, message), replaced atomically.
  --webhook-file FILE on failure, POSTs {"text": "..."} to the URL in FILE (owner-only, like the credentials).
An upload stream beyond 10,000 parts needs aws's --expected-size: it is estimated from the database's own size
(postgres, mysql, redis); a mongo dump is limited to about 78 GB compressed (10,000 parts of 8 MiB).

Arguments: NAME a Swarm service name (lower-case letters, digits and inner hyphens, at most 63 characters,
starting with a letter); USER and DB lower-case names (a-z, 0-9, _; at most 63); DIR an absolute path without
`..`; N 1 to 999; STACK and DATABASE railyard names; FILE an absolute path; L 1 to 19.

Exit codes:
  0   the dump is in DIR, or in the bucket with its manifest
  2   bad arguments
  20  no running container of NAME on this node
  21  the dump failed (--dir: the partial file is removed, older dumps are kept; --bucket: the upload aborted)
  22  the upload failed (aborted: no complete-looking object)
  23  the manifest could not be written (the dump object exists but is not complete-looking)
  24  a tool is missing on this host (aws, zstd, sha256sum, curl)
  25  interrupted (TERM, INT or HUP) before the manifest was written: the upload aborted, no manifest
USAGE
}

service="" engine="" user="" database="" dir="" keep="" ext="" dump=()
reason="" level="" state_dir="" webhook_file=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --engine) opt_value engine "$@"; shift 2 ;;
      --user) opt_value user "$@"; shift 2 ;;
      --database) opt_value database "$@"; shift 2 ;;
      --dir) opt_value dir "$@"; shift 2 ;;
      --keep) opt_value keep "$@"; shift 2 ;;
      --reason) opt_value reason "$@"; shift 2 ;;
      --level) opt_value level "$@"; shift 2 ;;
      --state-dir) opt_value state_dir "$@"; shift 2 ;;
      --webhook-file) opt_value webhook_file "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) if s3_parse_option "$@"; then shift 2; else unknown_argument "$1"; fi ;;
    esac
  done
  check_database
  if [ -n "$dir" ]; then
    ! s3_given || fail 2 "--dir and --bucket (with --prefix, --credentials, --endpoint, --region) exclude each other: give one"
    [ -z "$reason$level$state_dir$webhook_file" ] || fail 2 "--reason, --level, --state-dir and --webhook-file go with --bucket, not --dir"
    check --dir "$dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
    keep=${keep:-5}
    check --keep "$keep" "1 to 999" is_int_in 1 999
  else
    s3_given || fail 2 "--dir DIR or --bucket BUCKET is required"
    [ -z "$keep" ] || fail 2 "--keep goes with --dir; the bucket's lifecycle expires old dumps"
    s3_check_options
    reason=${reason:-scheduled}
    check --reason "$reason" "scheduled, pre-deploy or safety" matches '^(scheduled|pre-deploy|safety)$'
    level=${level:-1}
    check --level "$level" "a zstd level from 1 to 19" is_int_in 1 19
    [ -z "$state_dir" ] || check --state-dir "$state_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
    [ -z "$webhook_file" ] ||
      check --webhook-file "$webhook_file" "an absolute path to a readable file that only its owner can read (chmod 600)" is_secret_file
  fi
  dump_command
}

# The engine's own dump tool, run inside the container: sets dump (argv) and ext. Each writes the dump to its
# standard output (redis-cli --rdb - included: no file in the container).
dump_command() {
  local secret=/run/secrets/railyard_db_password
  # The dump commands run inside the container: their $(…) and "$1" are meant for its shell, not this one.
  # shellcheck disable=SC2016
  case "$engine" in
    # To the bucket uncompressed (--compress=0): zstd on the host compresses better and faster than pg_dump's zlib.
    postgres) dump=(sh -c 'u=$1 d=$2; shift 2; PGPASSWORD="$(cat "$0")" exec pg_dump -h 127.0.0.1 -U "$u" -d "$d" --format=custom "$@"' "$secret" "$user" "$database")
      [ -n "$dir" ] || dump+=(--compress=0) ;;
    mysql) dump=(sh -c 'MYSQL_PWD="$(cat "$0")" exec mysqldump --single-transaction --routines --triggers --no-tablespaces -h 127.0.0.1 -u "$1" "$2"' "$secret" "$user" "$database") ;;
    # mongodump takes the password from a YAML --config file (fed on stdin: never in its argv, no file written).
    mongo) dump=(sh -c 'exec mongodump --quiet --archive --username "$1" --authenticationDatabase admin --db "$2" --config /dev/stdin <<EOF
password: "$(sed '"'"'s/[\\"]/\\&/g'"'"' "$0")"
EOF' "$secret" "$user" "$database") ;;
    # redis-cli streams to stdout from 7.0 on; an older one would write a file named "-" in the container.
    redis) dump=(sh -c 'case "$(redis-cli --version)" in "redis-cli "[0-6].*) echo "redis-cli 7 or later is needed to stream the snapshot (--rdb -)" >&2; exit 3 ;; esac
REDISCLI_AUTH="$(cat "$0")" exec redis-cli --no-auth-warning -h 127.0.0.1 --rdb -' "$secret") ;;
    *) fail 2 "--engine must be postgres, mysql, mongo or redis, got $(q "$engine")" ;;
  esac
  ext=$(engine_ext "$engine")
}

# The ID of a running container of the service on this node; empty when there is none.
service_container() {
  docker ps --quiet --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1
}

# Dumps through a .partial file renamed when complete; prints the dump's path.
write_dump() {
  local container target partial
  container=$(service_container)
  [ -n "$container" ] || fail 20 "no running container of service $service on this node"
  mkdir -p "$dir"
  target="$dir/$service-$(utc_stamp).$ext"
  partial="$target.partial"
  # shellcheck disable=SC2064  # the path is fixed now
  trap "rm -f -- $(q "$partial")" EXIT
  if ! docker exec "$container" "${dump[@]}" >"$partial"; then
    fail 21 "the $engine dump of $service failed; older dumps in $dir are kept"
  fi
  [ -s "$partial" ] || fail 21 "the $engine dump of $service is empty; older dumps in $dir are kept"
  mv "$partial" "$target"
  trap - EXIT
  echo "$target"
}

# Keeps the newest $keep dumps of this service: only files named as write_dump names them (their names sort by
# their UTC timestamps); any other file in DIR is left alone.
prune() {
  find "$dir" -maxdepth 1 -type f -regextype posix-extended -regex ".*/$service-[0-9]{8}T[0-9]{6}Z\\.$ext" |
    sort | head -n "-$keep" | while IFS= read -r old; do
    rm -f -- "$old"
  done
}

# --- bucket mode ---

# What the run has found so far, for the state file and the manifest.
key="" started="" bytes="" sha256="" up_fd="" up_pid="" meta_fd="" pipe_pid=""

# record RESULT CODE MESSAGE: the state file (when --state-dir is given) with this run's result.
record() {
  [ -n "$state_dir" ] || return 0
  local json
  json=$(printf '{"result":%s,"stack":%s,"database":%s,"engine":%s,"reason":%s,"key":%s,"bytes":%s,"sha256":%s,"started":%s,"finished":%s,"exit_code":%s,"message":%s}' \
    "$(json_str "$1")" "$(json_str "$s3_stack")" "$(json_str "$s3_database")" "$(json_str "$engine")" "$(json_str "$reason")" \
    "$(json_str "$key")" "${bytes:-null}" "$(json_str "$sha256")" "$(json_str "$started")" "$(json_str "$(utc_iso)")" "$2" "$(json_str "$3")")
  write_json "$state_dir/backup-$s3_database.json" "$json" ||
    printf '%s: could not write the state file %s\n' "$RAILYARD_SCRIPT" "$(q "$state_dir/backup-$s3_database.json")" >&2
}

# bucket_fail CODE MESSAGE: aborts the upload, records the failure, posts the webhook, then fails with CODE.
bucket_fail() {
  local code=$1 message=$2
  trap - HUP INT TERM
  abort_upload
  record failed "$code" "$message"
  [ -z "$webhook_file" ] ||
    post_webhook "$webhook_file" "railyard backup of $s3_stack/$s3_database ($engine, $reason) failed on ${HOSTNAME:-this host}: $message (exit $code)" || true
  fail "$code" "$message"
}

# abort_upload: kills the uploader before it sees the end of its input (it then completes no object), and the
# dump pipeline if it still runs.
abort_upload() {
  if [ -n "$up_pid" ]; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
    up_pid=""
  fi
  if [ -n "$up_fd" ]; then
    exec {up_fd}>&-
    up_fd=""
  fi
  if [ -n "$pipe_pid" ]; then
    kill -TERM "$pipe_pid" 2>/dev/null || true
    pipe_pid=""
  fi
}

# size_estimate CONTAINER: the database's own size in bytes (more than its compressed dump), so that aws picks
# parts large enough for any stream; empty when it cannot be read (mongo, or an error).
size_estimate() {
  local secret=/run/secrets/railyard_db_password probe
  # As in dump_command: the $(…) and "$1" are for the container's shell.
  # shellcheck disable=SC2016
  case "$engine" in
    postgres) probe=(sh -c 'PGPASSWORD="$(cat "$0")" exec psql -X -h 127.0.0.1 -U "$1" -d "$2" -tAc "select pg_database_size(current_database())"' "$secret" "$user" "$database") ;;
    mysql) probe=(sh -c 'MYSQL_PWD="$(cat "$0")" exec mysql -h 127.0.0.1 -u "$1" -N -B -e "select coalesce(sum(data_length + index_length), 0) from information_schema.tables where table_schema = database()" "$2"' "$secret" "$user" "$database") ;;
    redis) probe=(sh -c 'REDISCLI_AUTH="$(cat "$0")" exec redis-cli --no-auth-warning -h 127.0.0.1 info memory | sed -n "s/^used_memory:\([0-9]*\).*/\1/p"' "$secret") ;;
    *) return 0 ;;
  esac
  local size
  size=$(timeout 30 docker exec "$1" "${probe[@]}" 2>/dev/null | tr -d '[:space:]') || return 0
  if [[ $size =~ ^[1-9][0-9]{0,15}$ ]]; then echo "$size"; fi
}

# stream_dump CONTAINER: docker exec DUMP | zstd | tee (sha256sum, byte count) into the uploader, run in the
# background (a signal's trap then runs at once); its stages' statuses, the hash and the count come back as lines
# on the meta pipe. Each stage closes the uploader's and the meta pipe's fds it does not write to (the uploader
# must see the end of its input only when the script closes its own). The uncompressed stream is not copied
# again to be counted: an empty dump is known by its compressed form (empty_sha256).
stream_dump() {
  (
    set +e
    trap - HUP INT TERM
    docker exec "$1" "${dump[@]}" {up_fd}>&- {meta_fd}>&- |
      zstd -q -T0 "-$level" {up_fd}>&- {meta_fd}>&- |
      tee >(exec {up_fd}>&-; sha256sum | sed 's/^/sha256 /' >&"$meta_fd") >(exec {up_fd}>&-; wc -c | sed 's/^/bytes /' >&"$meta_fd") \
        >&"$up_fd" {up_fd}>&- {meta_fd}>&-
    echo "status ${PIPESTATUS[*]}" >&"$meta_fd"
  ) &
  pipe_pid=$!
}

# empty_sha256: the sha256 of what zstd makes of no input at all, with the same options (what an empty dump
# compresses to).
empty_sha256() { zstd -q -T0 "-$level" </dev/null | sha256sum | cut -d' ' -f1; }

# read_meta: reads the pipeline's lines from the meta pipe: sets status (dump, zstd, tee), and sha256 and bytes
# (the compressed stream's).
status=()
read_meta() {
  local tag rest
  while [ ${#status[@]} -eq 0 ] || [ -z "$sha256" ] || [ -z "$bytes" ]; do
    read -r -t 120 tag rest <&"$meta_fd" || return 1
    case "$tag" in
      status) read -r -a status <<<"$rest" ;;
      sha256) sha256=${rest%% *} ;;
      bytes) bytes=$rest ;;
    esac
    # A failed stage is known without the hash and the count.
    [ ${#status[@]} -eq 0 ] || [ "${status[*]}" = "0 0 0" ] || return 0
  done
}

stream_backup() {
  local container url size expected=() tool
  started=$(utc_iso)
  for tool in aws zstd sha256sum ${webhook_file:+curl}; do
    command -v "$tool" >/dev/null || bucket_fail 24 "$tool is not installed on this host (aws: apt-get install awscli; zstd: apt-get install zstd)"
  done
  container=$(service_container)
  [ -n "$container" ] || bucket_fail 20 "no running container of service $service on this node"
  key=$(dump_key "$(utc_stamp)" "$ext")
  url=$(s3_url "$key")
  size=$(size_estimate "$container")
  [ -z "$size" ] || expected=(--expected-size "$size")
  trap 'bucket_fail 25 "interrupted: the upload of $url was stopped before its manifest was written (no complete dump)"' HUP INT TERM
  exec {meta_fd}<> <(:)
  exec {up_fd}> >(exec "${aws_argv[@]}" s3 cp - "$url" --only-show-errors "${expected[@]}" {meta_fd}>&-)
  up_pid=$!
  stream_dump "$container"
  wait "$pipe_pid" || true
  pipe_pid=""
  read_meta || bucket_fail 21 "the dump pipeline of $service reported nothing within 120 s; the upload of $url was aborted"
  if [ "${status[2]:-1}" != 0 ]; then
    local code=0
    wait "$up_pid" || code=$?
    up_pid=""
    bucket_fail 22 "the upload of $url failed (aws exit $code); it was aborted"
  elif [ "${status[0]}" != 0 ]; then
    bucket_fail 21 "the $engine dump of $service failed (exit ${status[0]}); the upload of $url was aborted"
  elif [ "${status[1]}" != 0 ]; then
    bucket_fail 21 "zstd failed (exit ${status[1]}) compressing the $engine dump of $service; the upload of $url was aborted"
  elif [ "$sha256" = "$(empty_sha256)" ]; then
    bucket_fail 21 "the $engine dump of $service is empty; the upload of $url was aborted"
  fi
  # Every stage succeeded: the uploader now sees the end of its input and completes the object.
  exec {up_fd}>&-
  up_fd=""
  local code=0
  wait "$up_pid" || code=$?
  up_pid=""
  [ "$code" = 0 ] || bucket_fail 22 "the upload of $url failed (aws exit $code)"
  # (The object is not read back: the uploader's key may only put objects. aws checks every part's MD5.)
  # A signal to this script now waits for the manifest: the dump is then complete, or the manifest failed (23).
  trap : HUP INT TERM
  write_manifest "$url"
  trap - HUP INT TERM
  record ok 0 ""
  echo "$key"
}

# write_manifest URL: the completion manifest beside the object (exit 23 when it cannot be written).
write_manifest() {
  local manifest out
  manifest=$(printf '{"format":1,"stack":%s,"database":%s,"engine":%s,"key":%s,"bytes":%s,"sha256":%s,"compression":"zstd","started":%s,"finished":%s,"reason":%s,"host":%s}' \
    "$(json_str "$s3_stack")" "$(json_str "$s3_database")" "$(json_str "$engine")" "$(json_str "$key")" "$bytes" \
    "$(json_str "$sha256")" "$(json_str "$started")" "$(json_str "$(utc_iso)")" "$(json_str "$reason")" "$(json_str "${HOSTNAME:-}")")
  out=$(aws_s3 cp - "$1.json" --only-show-errors --content-type application/json <<<"$manifest" 2>&1) ||
    bucket_fail 23 "the manifest $1.json could not be written (${out//$'\n'/ }); the dump object is there but not complete-looking"
}

main() {
  parse_args "$@"
  if [ -n "$dir" ]; then
    write_dump
    prune
  else
    stream_backup
  fi
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
