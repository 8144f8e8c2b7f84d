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

Dumps the database that runs as Swarm service NAME with the engine's own tool, reading the password from its
Swarm secret: inside its running container when that is on this node; when its task runs on another node of the
swarm, from a one-off Swarm job of the database's own image pinned to this node (with the database's password
secret, on its network, reaching it by its service name over the overlay), whose dump reaches this host through
a named pipe in a private temporary folder bind-mounted into the job (no dump file; the job and its container
are removed on every exit). That image must be on this node or pullable by it:
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
  20  no running task of NAME (on this node or any other)
  21  the dump failed (--dir: the partial file is removed, older dumps are kept; --bucket: the upload aborted)
  22  the upload failed (aborted: no complete-looking object)
  23  the manifest could not be written (the dump object exists but is not complete-looking)
  24  a tool is missing on this host (aws, zstd, sha256sum, curl)
  25  interrupted (TERM, INT or HUP) before the manifest was written: the upload aborted, no manifest
  26  NAME's task runs on another node and the dump job could not be made or did not start within 120 s
      (the message names the node and Swarm's reason; nothing is written)
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

# --- a database whose task runs on another node ---

# Where the dump job's pipe is mounted, and how long the job may take to start (its image pulled, say).
JOB_DIR=/railyard-dump
JOB_START_S=120
# The running container here (container), else the other node running the task (remote_node, its host name).
container="" remote_node="" dump_job="" dump_dir=""

# Finds the database: its container on this node, else the node its running task is on (exit 20 when neither).
locate_database() {
  container=$(service_container)
  [ -z "$container" ] || return 0
  remote_node=$(running_task_node "$service")
  [ -n "$remote_node" ] || fail_now 20 "no running task of service $service, on this node or any other"
  # The dump reaches the database by its service name (dnsrr: its task's address), not 127.0.0.1.
  dump=("${dump[@]//127.0.0.1/$service}")
  [ "$engine" != mongo ] || dump=("${dump[@]//exec mongodump /exec mongodump --host $service }")
  printf '%s: %s runs on node %s: dumping it from a job on this node, over the overlay network\n' "$RAILYARD_SCRIPT" "$service" "$remote_node" >&2
}

# fail_now CODE MESSAGE: bucket_fail in bucket mode (records the failure), fail otherwise.
fail_now() { if [ -n "$dir" ]; then fail "$@"; else bucket_fail "$@"; fi; }

# Creates the dump job: the database's image, network and password secret (read from its service), pinned to this
# node, writing the dump to the pipe DUMP_DIR/dump. Exit 26 when it cannot.
start_dump_job() {
  local where="$service's task runs on node $remote_node"
  if ! dump_dir=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/railyard-dump.XXXXXX") || ! mkfifo -m 600 "$dump_dir/dump"; then
    fail_now 26 "$where, and the dump's pipe cannot be made in ${TMPDIR:-/tmp}"
  fi
  # Root in the job writes to the owner-only pipe; its shell sends the dump tool's output there.
  # shellcheck disable=SC2016  # "$@" and $0 are the job's shell's
  db_job dump "$service" --mount "type=bind,source=$dump_dir,target=$JOB_DIR" --entrypoint sh -- \
    -c 'exec "$@" >"$0"' "$JOB_DIR/dump" "${dump[@]}" || fail_now 26 "$where, and the dump job cannot run: $db_job_error"
  dump_job=$db_job_name
}

# dump_job_state: the job's task as STATE|EXIT|ERR (empty before Swarm made it).
dump_job_state() {
  local task
  task=$(docker service ps -q --no-trunc "$dump_job" 2>/dev/null | head -n 1)
  [ -z "$task" ] || docker inspect --format '{{.Status.State}}|{{with .Status.ContainerStatus}}{{.ExitCode}}{{end}}|{{.Status.Err}}' "$task" 2>/dev/null || true
}

# remote_dump: the dump job's output on stdout, from its pipe. Status 0 only when the job completed with exit 0;
# 26 when it did not start within JOB_START_S (Swarm's reason on stderr); otherwise the dump tool's exit code.
remote_dump() {
  local reader state started=$SECONDS rc="" fd
  cat -- "$dump_dir/dump" &
  reader=$!
  while :; do
    state=$(dump_job_state)
    case "${state%%|*}" in
      complete) rc=0 ;;
      failed|rejected|shutdown|orphaned|remove)
        rc=${state#*|}; rc=${rc%%|*}; [[ "$rc" =~ ^[1-9][0-9]*$ ]] || rc=1
        printf '%s: the dump job on this node ended %s (%s); its output:\n' "$RAILYARD_SCRIPT" "${state%%|*}" "${state##*|}" >&2
        { timeout 10 docker service logs --raw --tail 20 "$dump_job" 2>&1 || true; } >&2 ;;
      running) ;;
      *) if [ $((SECONDS - started)) -ge "$JOB_START_S" ]; then
           printf '%s: the dump job did not start within %s s: %s\n' "$RAILYARD_SCRIPT" "$JOB_START_S" "${state:-no task yet}" >&2
           rc=26
         fi ;;
    esac
    [ -z "$rc" ] || break
    sleep 0.5
  done
  # A job that never opened the pipe leaves the reader waiting for a writer: one that closes at once ends it.
  if [ "$rc" != 0 ]; then exec {fd}<>"$dump_dir/dump"; exec {fd}>&-; fi
  wait "$reader" || [ "$rc" != 0 ] || rc=1
  return "$rc"
}

# Removes the dump job, its container (it ran here) and its pipe's folder.
remove_dump_job() {
  [ -z "$dump_job" ] || db_job_remove "$dump_job"
  [ -z "$dump_dir" ] || rm -rf -- "$dump_dir"
  dump_job=""
}

# The dump on stdout, wherever the database runs.
run_dump() {
  if [ -n "$container" ]; then docker exec "$container" "${dump[@]}"; else remote_dump; fi
}

# Dumps through a .partial file renamed when complete; prints the dump's path.
write_dump() {
  local target partial rc=0
  locate_database
  mkdir -p "$dir"
  target="$dir/$service-$(utc_stamp).$ext"
  partial="$target.partial"
  # shellcheck disable=SC2064  # the path is fixed now
  trap "rm -f -- $(q "$partial"); remove_dump_job" EXIT
  [ -n "$container" ] || start_dump_job
  run_dump >"$partial" || rc=$?
  [ "$rc" != 26 ] || fail 26 "$service's task runs on node $remote_node, and the dump job on this node did not start; older dumps in $dir are kept"
  if [ "$rc" != 0 ]; then
    fail 21 "the $engine dump of $service failed${remote_node:+ (its task runs on node $remote_node; dumped from a job on this node)}; older dumps in $dir are kept"
  fi
  [ -s "$partial" ] || fail 21 "the $engine dump of $service is empty; older dumps in $dir are kept"
  mv "$partial" "$target"
  trap - EXIT
  remove_dump_job
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

# stream_dump: the dump (run_dump: docker exec, or the dump job) | zstd | tee (sha256sum, byte count) into the
# uploader, run in the background (a signal's trap then runs at once); its stages' statuses, the hash and the count
# come back as lines on the meta pipe. Each stage closes the uploader's and the meta pipe's fds it does not write to (the uploader
# must see the end of its input only when the script closes its own). The uncompressed stream is not copied
# again to be counted: an empty dump is known by its compressed form (empty_sha256).
stream_dump() {
  (
    set +e
    trap - HUP INT TERM
    run_dump {up_fd}>&- {meta_fd}>&- |
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
  local url size="" expected=() tool
  started=$(utc_iso)
  for tool in aws zstd sha256sum ${webhook_file:+curl}; do
    command -v "$tool" >/dev/null || bucket_fail 24 "$tool is not installed on this host (aws: apt-get install awscli; zstd: apt-get install zstd)"
  done
  locate_database
  key=$(dump_key "$(utc_stamp)" "$ext")
  url=$(s3_url "$key")
  # (A database on another node: no estimate; aws's default parts then hold about 78 GB compressed.)
  [ -z "$container" ] || size=$(size_estimate "$container")
  if [ -z "$container" ]; then trap remove_dump_job EXIT; start_dump_job; fi
  [ -z "$size" ] || expected=(--expected-size "$size")
  trap 'bucket_fail 25 "interrupted: the upload of $url was stopped before its manifest was written (no complete dump)"' HUP INT TERM
  exec {meta_fd}<> <(:)
  exec {up_fd}> >(exec "${aws_argv[@]}" s3 cp - "$url" --only-show-errors "${expected[@]}" {meta_fd}>&-)
  up_pid=$!
  stream_dump
  wait "$pipe_pid" || true
  pipe_pid=""
  read_meta || bucket_fail 21 "the dump pipeline of $service reported nothing within 120 s; the upload of $url was aborted"
  if [ "${status[2]:-1}" != 0 ]; then
    local code=0
    wait "$up_pid" || code=$?
    up_pid=""
    bucket_fail 22 "the upload of $url failed (aws exit $code); it was aborted"
  elif [ "${status[0]}" = 26 ] && [ -n "$remote_node" ]; then
    bucket_fail 26 "$service's task runs on node $remote_node, and the dump job on this node did not start; the upload of $url was aborted"
  elif [ "${status[0]}" != 0 ]; then
    bucket_fail 21 "the $engine dump of $service failed (exit ${status[0]})${remote_node:+ (its task runs on node $remote_node; dumped from a job on this node)}; the upload of $url was aborted"
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
