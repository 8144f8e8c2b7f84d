#!/usr/bin/env bash
# railyard-restore: list the complete dumps of a railyard database in the backup bucket, or restore one (the
# newest at or before a time) into a throwaway scratch container of the live service's own image — or, asked
# explicitly, into the live database after a fresh safety dump. Streams from the bucket (or stdin): no temp file.
set -euo pipefail
RAILYARD_SCRIPT=railyard-restore
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
Usage: railyard-restore.sh --service NAME --engine ENGINE --user USER --database DB SOURCE [MODE] [options]
       railyard-restore.sh --list --engine ENGINE S3-OPTIONS [--at TIME]

SOURCE, one of:
  S3-OPTIONS [--at TIME | --key KEY]   the bucket (read with a read-only key): the newest COMPLETE dump (one with
                                       its manifest) at or before TIME (default: now), or the dump KEY
  --stdin --key KEY --sha256 HEX       the compressed object on stdin (npm run restore streams it from the
                                       operator's machine), checked against HEX (its manifest's sha256)
S3-OPTIONS: --bucket NAME --prefix STACK/DATABASE --credentials FILE [--endpoint URL] [--region REGION]
TIME: 2026-11-20 (the end of that UTC day), 2026-11-20T14:30Z or 2026-11-20T14:30:00Z (UTC).

MODE:
  --list              the complete dumps newest first (time, bytes, key), the one --at picks marked with *,
                      incomplete ones (no manifest: never restored) marked as such. Needs no Docker.
  --into scratch      (default) a throwaway container of the live service's own image (its exact server
                      version): no network, an anonymous volume, labelled railyard.scratch=NAME; the dump is
                      restored into it through `docker exec -i` from the stream, then its tables and exact row
                      counts (redis: keys per db) are printed. The container is removed on exit unless --keep
                      (then its name and how to connect and remove it are printed).
  --into live --yes   into the running database itself, after a fresh safety dump with railyard-backup.sh
                      (--safety-credentials FILE: into the bucket under the same prefix, with that put-only key;
                      or --safety-dir DIR); one of them is required. A bucket source is first read once to check
                      its sha256 and zstd frames before anything is dumped or changed. postgres: pg_restore
                      --clean --if-exists --single-transaction; mysql: the SQL through the client; mongo:
                      mongorestore --drop. Redis is refused (exit 2): a running redis cannot load an RDB; stop
                      the service, put the file in its volume as dump.rdb with appendonly off, start it.
                      A database whose task runs on another node of the swarm: the clients run in a one-off
                      Swarm job of its own image pinned to this node (its password secret, its network) and
                      reach it by its service name over the overlay (the safety dump likewise); the job is
                      removed on exit.

Options:
  --keep                    keep the scratch container (--into scratch)
  --check                   fail (63) when the restored database holds nothing (no tables; no keys)
  --freshness-query SQL     with --max-age SECONDS (postgres, mysql): SQL returns one timestamp (e.g.
                            `select max(created_at) from orders`); fails (63) when it is older than SECONDS
  --json                    print one JSON object on stdout (key, dump_time, bytes, restore_seconds, counts, result)
  --start-timeout SECONDS   how long the scratch server may take to answer (default 120)

Engines: postgres pg_restore --no-owner --exit-on-error (custom format, .dump.zst); mysql the mariadb/mysql
client (.sql.zst); redis the RDB (.rdb.zst) in place before redis-server starts; mongo mongorestore --archive
(.archive.zst). The stream's sha256 is checked against the manifest (or --sha256); zstd checks its frames.

Arguments: NAME a Swarm service name; USER and DB lower-case names (a-z, 0-9, _; at most 63); KEY
STACK/DATABASE/YYYYmmddTHHMMSSZ.EXT.zst (under --prefix when given); FILE an absolute path only its owner can
read; DIR an absolute path; SQL one line. Needs aws (awscli), zstd, sha256sum and docker.

Exit codes:
  0   listed; restored (and checked)
  2   bad arguments (also: --into live without --yes or without a safety destination; redis into live)
  20  no Swarm service NAME (scratch: its image), or no running task of it (live; a task on another node is
      restored from a one-off job of its image on this node: 20 also when that job cannot run or start in 120 s)
  60  no complete dump at or before TIME (or KEY has no manifest)
  61  download or checksum failed (sha256 mismatch, corrupt zstd frames, listing or manifest unreadable)
  62  restore failed
  63  check failed (nothing restored, freshness too old)
  64  safety dump failed (live untouched)
  65  scratch container did not start or answer
USAGE
}

service="" engine="" user="" database="" at="" at_given=0 at_stamp="" key="" key_given=0 sha256="" stdin=0 list=0 into=scratch yes=0
safety_credentials="" safety_dir="" keep=0 check_mode=0 freshness_query="" max_age="" json=0 start_timeout=120
ext="" scratch="" restoring=0 picked_bytes="" counts_json="{}" restore_started=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --engine) opt_value engine "$@"; shift 2 ;;
      --user) opt_value user "$@"; shift 2 ;;
      --database) opt_value database "$@"; shift 2 ;;
      --at) opt_value at "$@"; at_given=1; shift 2 ;;
      --key) opt_value key "$@"; key_given=1; shift 2 ;;
      --sha256) opt_value sha256 "$@"; shift 2 ;;
      --stdin) stdin=1; shift ;;
      --list) list=1; shift ;;
      --into) opt_value into "$@"; shift 2 ;;
      --yes) yes=1; shift ;;
      --safety-credentials) opt_value safety_credentials "$@"; shift 2 ;;
      --safety-dir) opt_value safety_dir "$@"; shift 2 ;;
      --keep) keep=1; shift ;;
      --check) check_mode=1; shift ;;
      --freshness-query) opt_value freshness_query "$@"; shift 2 ;;
      --max-age) opt_value max_age "$@"; shift 2 ;;
      --json) json=1; shift ;;
      --start-timeout) opt_value start_timeout "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) if s3_parse_option "$@"; then shift 2; else unknown_argument "$1"; fi ;;
    esac
  done
  ext=$(engine_ext "$engine") || fail 2 "--engine must be postgres, mysql, mongo or redis, got $(q "$engine")"
  check_source
  ((list)) && return 0
  check_database
  check --start-timeout "$start_timeout" "1 to 3600" is_int_in 1 3600
  check_mode_options
}

# The source: the bucket (S3 options, --at or --key) or stdin (--key and --sha256); --list reads the bucket.
check_source() {
  if ((stdin)); then
    ((!list)) || fail 2 "--list reads the bucket: it cannot be combined with --stdin"
    ((!at_given)) || fail 2 "--at picks from the bucket: with --stdin give --key and --sha256 of the object on stdin"
    check --sha256 "$sha256" "64 lower-case hex digits (the manifest's sha256)" matches '^[0-9a-f]{64}$'
    check_key
    # The S3 options are then only the safety dump's destination (checked with the live options).
    return 0
  fi
  [ -z "$sha256" ] || fail 2 "--sha256 goes with --stdin (from the bucket, the manifest's sha256 is used)"
  s3_check_options
  ((!key_given || !at_given)) || fail 2 "give --at TIME or --key KEY, not both"
  ((!list || !key_given)) || fail 2 "--list takes --at (the mark), not --key"
  ((!key_given)) || check_key
  if ((at_given)); then
    at_stamp=$(parse_time "$at") || fail 2 "--at must be a UTC date or time: 2026-11-20, 2026-11-20T14:30Z or 2026-11-20T14:30:00Z, got $(q "$at")"
  else
    at_stamp=$(utc_stamp "")
  fi
}

# check_key: KEY names a dump of ENGINE (STACK/DATABASE/STAMP.EXT.zst), under --prefix when one was given.
check_key() {
  local re="^[a-z]([a-z0-9-]{0,61}[a-z0-9])?/[a-z]([a-z0-9-]{0,61}[a-z0-9])?/[0-9]{8}T[0-9]{6}Z\\.$ext\\.zst\$"
  check --key "$key" "a dump key STACK/DATABASE/YYYYmmddTHHMMSSZ.$ext.zst" matches "$re"
  [ -z "$s3_prefix" ] || [[ $key == "$s3_prefix/"* ]] || fail 2 "--key must be under --prefix $(q "$s3_prefix"), got $(q "$key")"
}

# parse_time TIME: TIME (2026-11-20 = the end of that day, 2026-11-20T14:30Z, 2026-11-20T14:30:00Z) as a stamp
# YYYYmmddTHHMMSSZ; status 1 for anything else, an impossible date included (2026-02-30).
parse_time() {
  local t=$1 iso
  if [[ $t =~ ^([0-9]{4}-[0-9]{2}-[0-9]{2})$ ]]; then
    iso="${t}T23:59:59Z"
  elif [[ $t =~ ^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2})Z$ ]]; then
    iso="${BASH_REMATCH[1]}:00Z"
  elif [[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]; then
    iso=$t
  else
    return 1
  fi
  # The date must come back as it went in (GNU date rolls 2026-02-30 over, or refuses it).
  [ "$(date -u -d "$iso" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)" = "$iso" ] || return 1
  date -u -d "$iso" +%Y%m%dT%H%M%SZ
}

check_mode_options() {
  case "$into" in
    scratch)
      [ -z "$safety_credentials$safety_dir" ] || fail 2 "--safety-credentials and --safety-dir go with --into live"
      ((!yes)) || fail 2 "--yes goes with --into live" ;;
    live)
      ((!keep)) || fail 2 "--keep goes with --into scratch"
      [ "$engine" != redis ] || fail 2 "redis cannot be restored into the live service: a running redis cannot load an RDB. Stop the service (scale it to 0), put the dump (zstd -dc) in its volume as dump.rdb with appendonly off, start it; or restore --into scratch and copy keys from there"
      ((yes)) || fail 2 "--into live replaces the live database $(q "$service"): add --yes to confirm (a safety dump is taken first)"
      [ -n "$safety_credentials$safety_dir" ] || fail 2 "--into live needs a safety destination for the dump taken first: --safety-credentials FILE (the bucket's put-only key) or --safety-dir DIR"
      [ -z "$safety_credentials" ] || [ -z "$safety_dir" ] || fail 2 "give --safety-credentials or --safety-dir, not both"
      [ -z "$safety_dir" ] || check --safety-dir "$safety_dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
      if [ -n "$safety_credentials" ]; then
        check --safety-credentials "$safety_credentials" "an absolute path to a file only its owner can read (chmod 600)" is_secret_file
        if ((stdin)); then
          # The bucket options then name only where the safety dump goes.
          local reading=$s3_credentials
          s3_credentials=$safety_credentials
          s3_check_options
          s3_credentials=$reading
        fi
      fi ;;
    *) fail 2 "--into must be scratch or live, got $(q "$into")" ;;
  esac
  if [ -n "$freshness_query$max_age" ]; then
    [[ -n $freshness_query && -n $max_age ]] || fail 2 "--freshness-query and --max-age go together"
    [[ $engine == postgres || $engine == mysql ]] || fail 2 "--freshness-query is for postgres and mysql, not $engine"
    check --freshness-query "$freshness_query" "one line of SQL" matches '^[^[:cntrl:]]{1,4000}$'
    check --max-age "$max_age" "1 to 999999999 seconds" is_int_in 1 999999999
  fi
}

say() { printf '%s\n' "$*" >&2; }

# ---- the bucket: listing, the pick, the manifest ----

# Set by list_dumps: complete dump keys and their sizes, newest first; incomplete dump keys (no manifest).
complete_keys=() complete_sizes=() incomplete_keys=()

# list_dumps: lists the prefix's objects (every page) and sorts them into complete and incomplete dumps.
list_dumps() {
  local out k size
  local -A manifests=() sizes=()
  out=$(aws_cli s3api list-objects-v2 --bucket "$s3_bucket" --prefix "$s3_prefix/" --output text \
    --query 'Contents[].[Key,Size]' 2>&1) || fail 61 "could not list s3://$s3_bucket/$s3_prefix/: $(tail -n 3 <<<"$out")"
  local dumps=()
  while IFS=$'\t' read -r k size; do
    [[ $k == "$s3_prefix/"* && $size =~ ^[0-9]+$ ]] || continue
    if [[ $k =~ ^.*/[0-9]{8}T[0-9]{6}Z\.$ext\.zst$ ]]; then
      dumps+=("$k")
      sizes[$k]=$size
    elif [[ $k =~ ^(.*/[0-9]{8}T[0-9]{6}Z\.$ext\.zst)\.json$ ]]; then
      manifests[${BASH_REMATCH[1]}]=1
    fi
  done <<<"$out"
  complete_keys=() complete_sizes=() incomplete_keys=()
  ((${#dumps[@]})) || return 0
  while IFS= read -r k; do
    if [ -n "${manifests[$k]:-}" ]; then
      complete_keys+=("$k")
      complete_sizes+=("${sizes[$k]}")
    else
      incomplete_keys+=("$k")
    fi
  done < <(printf '%s\n' "${dumps[@]}" | sort -r)
}

# pick_index STAMP: the index in complete_keys of the newest complete dump at or before STAMP; status 1 if none.
pick_index() {
  local i name
  for i in "${!complete_keys[@]}"; do
    # The key's file name starts with its stamp (list_dumps kept only such keys): no subshell per key.
    name=${complete_keys[$i]##*/}
    [[ ${name:0:16} > $1 ]] || { echo "$i"; return 0; }
  done
  return 1
}

print_list() {
  local i picked=-1 k t
  picked=$(pick_index "$at_stamp") || picked=-1
  printf '%-1s %-20s %14s  %s\n' "" TIME BYTES KEY
  for i in "${!complete_keys[@]}"; do
    k=${complete_keys[$i]}
    t=$(key_time "$k")
    printf '%-1s %-20s %14s  %s\n' "$([ "$i" = "$picked" ] && echo '*' || echo ' ')" "$(stamp_iso "$t")" "${complete_sizes[$i]}" "$k"
  done
  for k in "${incomplete_keys[@]}"; do
    printf '%-1s %-20s %14s  %s\n' "" "$(stamp_iso "$(key_time "$k")")" incomplete "$k (no manifest: never restored)"
  done
  if [ "$picked" = -1 ]; then
    say "no complete dump at or before $(stamp_iso "$at_stamp") under s3://$s3_bucket/$s3_prefix/"
  else
    say "* the newest complete dump at or before $(stamp_iso "$at_stamp")"
  fi
}

# pick_dump: sets key (and picked_bytes) to the dump to restore, and sha256 from its manifest.
pick_dump() {
  local i manifest
  list_dumps
  if ((key_given)); then
    for i in "${!complete_keys[@]}"; do [ "${complete_keys[$i]}" != "$key" ] || picked_bytes=${complete_sizes[$i]}; done
    [ -n "$picked_bytes" ] || fail 60 "$key is not a complete dump in s3://$s3_bucket (no such object, or no manifest: an incomplete dump is never restored)"
  else
    i=$(pick_index "$at_stamp") || fail 60 "no complete dump at or before $(stamp_iso "$at_stamp") under s3://$s3_bucket/$s3_prefix/ (--list shows what there is)"
    key=${complete_keys[$i]} picked_bytes=${complete_sizes[$i]}
  fi
  manifest=$(aws_s3 cp --quiet "$(s3_url "$key.json")" - 2>&1) || fail 61 "could not read the manifest $key.json: $(tail -n 3 <<<"$manifest")"
  [ "$(json_field key "$manifest" || true)" = "$key" ] || fail 61 "the manifest $key.json does not name $key"
  sha256=$(json_field sha256 "$manifest" || true)
  [[ $sha256 =~ ^[0-9a-f]{64}$ ]] || fail 61 "the manifest $key.json has no sha256"
  local bytes
  bytes=$(json_field bytes "$manifest" || true)
  [ "$bytes" = "$picked_bytes" ] || fail 61 "$key is $picked_bytes bytes in the bucket, its manifest says $(q "$bytes")"
}

# source_stream: the compressed object on stdout (the bucket's, or this script's stdin).
source_stream() {
  if ((stdin)); then cat <&3; else aws_s3 cp --quiet "$(s3_url "$key")" -; fi
}

# ---- the database side: scratch container, restore, counts ----

# scratch_run: starts the scratch container (sets scratch); its data is an anonymous volume removed with it.
# shellcheck disable=SC2016  # redis's command is for the container's shell
scratch_run() {
  local image data env=() cmd=()
  image=$(service_field "$service" '{{.Spec.TaskTemplate.ContainerSpec.Image}}') || fail 20 "no Swarm service $service on this node's swarm (its image is the scratch server's)"
  case "$engine" in
    postgres) data=/var/lib/postgresql/data env=(POSTGRES_HOST_AUTH_METHOD=trust "POSTGRES_USER=$user" "POSTGRES_DB=$database") ;;
    mysql) data=/var/lib/mysql env=(MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 MYSQL_ALLOW_EMPTY_PASSWORD=yes "MYSQL_DATABASE=$database") ;;
    mongo) data=/data/db ;;
    # The RDB must be in place before redis-server starts: the container waits for the file's marker.
    redis) data=/data cmd=(--entrypoint sh "$image" -c 'until [ -e /data/railyard-ready ]; do sleep 0.2; done; exec redis-server --dir /data --dbfilename dump.rdb --appendonly no --save "" --protected-mode no') ;;
  esac
  ((${#cmd[@]})) || cmd=("$image")
  scratch="$service-scratch-$(date -u +%Y%m%dt%H%M%S)-$$"
  local e envargs=()
  for e in "${env[@]}"; do envargs+=(--env "$e"); done
  ((keep)) || trap scratch_remove EXIT
  local out
  out=$(docker run --detach --name "$scratch" --label "railyard.scratch=$service" --network none --volume "$data" \
    "${envargs[@]}" "${cmd[@]}" 2>&1) || fail 65 "the scratch container of $image did not start: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
}

# scratch_remove: the scratch container is removed; one the engine keeps refusing is named with the command.
scratch_remove() { [ -z "$scratch" ] || remove_container "$scratch" || say "remove it with: docker rm -f -v $scratch"; }

# in_db ARGS...: ARGS run inside the database's container (the scratch one, or the live task); stdin passed on.
# For a live database on another node they run in the restore job here and reach it by its service name (db_host).
db_host=127.0.0.1
in_db() {
  if [ "$db_host" = 127.0.0.1 ]; then docker exec -i "$target" "$@"; return; fi
  local args=("${@//127.0.0.1/$db_host}")
  args=("${args[@]//exec mongorestore /exec mongorestore --host $db_host }")
  docker exec -i "$target" "${args[@]}"
}

# sql ARGS...: the engine's SQL client inside the container with ARGS, signed in to DB (scratch: trust, or
# root's empty password; live: USER with the task's Swarm secret, read inside the container); stdin passed on.
# Their $(…) and "$1" are meant for the container's shell, not this one.
# shellcheck disable=SC2016
sql() {
  local secret=/run/secrets/railyard_db_password
  case "$engine:$into" in
    postgres:scratch) in_db psql -X -q -h 127.0.0.1 -U "$user" -d "$database" -v ON_ERROR_STOP=1 "$@" ;;
    postgres:live) in_db sh -c 'PGPASSWORD="$(cat "$0")"; export PGPASSWORD; u=$1 d=$2; shift 2
      exec psql -X -q -h 127.0.0.1 -U "$u" -d "$d" -v ON_ERROR_STOP=1 "$@"' "$secret" "$user" "$database" "$@" ;;
    mysql:scratch) in_db sh -c 'c=mysql; command -v mariadb >/dev/null && c=mariadb
      exec "$c" -h 127.0.0.1 --protocol=tcp -uroot "$@"' sh --database="$database" "$@" ;;
    mysql:live) in_db sh -c 'MYSQL_PWD="$(cat "$0")"; export MYSQL_PWD; u=$1 d=$2; shift 2; c=mysql
      command -v mariadb >/dev/null && c=mariadb
      exec "$c" -h 127.0.0.1 --protocol=tcp -u "$u" --database="$d" "$@"' "$secret" "$user" "$database" "$@" ;;
  esac
}

# wait_ready: the scratch server answers within --start-timeout; exit 65 with its last log lines if not.
wait_ready() {
  local deadline=$((SECONDS + start_timeout)) state
  while ((SECONDS < deadline)); do
    state=$(docker inspect --format '{{.State.Running}}' "$scratch" 2>/dev/null || echo gone)
    [ "$state" = true ] || break
    if ready_once; then return 0; fi
    sleep 0.5
  done
  fail 65 "the scratch $engine server did not answer within ${start_timeout}s: $(docker logs --tail 5 "$scratch" 2>&1 | tr '\n' ' ')"
}

# shellcheck disable=SC2016  # for the container's shell
ready_once() {
  case "$engine" in
    postgres) sql -tAc 'select 1' >/dev/null 2>&1 ;;
    mysql) sql -N -B -e 'select 1' >/dev/null 2>&1 ;;
    mongo) in_db sh -c 'c=mongo; command -v mongosh >/dev/null && c=mongosh; exec "$c" --quiet --eval "db.adminCommand({ping: 1})"' >/dev/null 2>&1 ;;
    redis) in_db true >/dev/null 2>&1 ;;
  esac
}

# restore_tool: reads the uncompressed dump on stdin and restores it into the target container.
# shellcheck disable=SC2016  # for the container's shell
restore_tool() {
  local secret=/run/secrets/railyard_db_password
  case "$engine:$into" in
    postgres:scratch) in_db pg_restore -h 127.0.0.1 -U "$user" -d "$database" --no-owner --exit-on-error ;;
    postgres:live) in_db sh -c 'PGPASSWORD="$(cat "$0")" exec pg_restore -h 127.0.0.1 -U "$1" -d "$2" --no-owner --exit-on-error --clean --if-exists --single-transaction' "$secret" "$user" "$database" ;;
    mysql:*) sql ;;
    mongo:scratch) in_db mongorestore --quiet --archive ;;
    mongo:live) in_db sh -c 'exec mongorestore --quiet --archive --drop --username "$1" --password "$(cat "$0")" --authenticationDatabase admin' "$secret" "$user" ;;
    redis:scratch) in_db sh -c 'cat >/data/dump.rdb' ;;
  esac
}

# stream_into SINK...: the object through sha256 (tee), zstd and SINK; exit 61 on a failed download, a sha256
# mismatch or bad zstd frames, 62 when SINK failed on an intact stream.
stream_into() {
  local got status sums
  sums=$(mktemp "${TMPDIR:-/tmp}/railyard-restore.XXXXXX")
  # tee -p keeps hashing the whole object when the sink stops reading early.
  set +e
  source_stream | tee -p >(sha256sum >"$sums") | zstd -q -dc | "$@"
  status=("${PIPESTATUS[@]}")
  set -e
  # sha256sum (in tee's process substitution) writes its line once tee has closed its input.
  for _ in {1..100}; do [ ! -s "$sums" ] || break; sleep 0.05; done
  got=$(cut -c1-64 "$sums")
  rm -f -- "$sums"
  [ "${status[0]}" = 0 ] || fail 61 "the download of $key failed"
  [ "$got" = "$sha256" ] || fail 61 "the sha256 of $key is ${got:-unknown}, its manifest says $sha256: the object is corrupt ($(untouched))"
  [ "${status[2]}" = 0 ] || fail 61 "zstd could not decompress $key: corrupt frames ($(untouched))"
  [ "${status[3]}" = 0 ] || fail 62 "the $engine restore of $key into $(target_name) failed"
}

# What a failed check left: the live database is untouched before the restore starts.
untouched() { if [ "$into" = live ] && ((!restoring)); then echo "live untouched"; else echo "nothing trusted from it"; fi; }

discard() { cat >/dev/null; }

target_name() { if [ "$into" = live ]; then echo "the live service $service"; else echo "scratch container $scratch"; fi; }

# redis_start: the RDB is in place; start redis-server and wait until it has loaded it (exit 62 if it refuses it).
redis_start() {
  in_db touch /data/railyard-ready
  local deadline=$((SECONDS + start_timeout)) state
  while ((SECONDS < deadline)); do
    state=$(docker inspect --format '{{.State.Running}}' "$scratch" 2>/dev/null || echo gone)
    [ "$state" = true ] || fail 62 "redis-server refused $key: $(docker logs --tail 5 "$scratch" 2>&1 | tr '\n' ' ')"
    [ "$(in_db redis-cli ping 2>/dev/null)" != PONG ] || return 0
    sleep 0.2
  done
  fail 62 "redis-server did not load $key within ${start_timeout}s"
}

# count_rows: sets counts_json to {"<table>": rows, …} (postgres schema.table; redis "dbN": keys; mongo
# collections), each name a JSON string made by the server itself.
# shellcheck disable=SC2016  # mongo's script is for the container's shell
count_rows() {
  local lines
  case "$engine" in
    postgres)
      lines=$(sql -tA -F $'\t' -c "select to_json(table_schema || '.' || table_name)::text,
          (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', table_schema, table_name), false, true, '')))[1]::text
        from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
        order by 1") || fail 63 "could not count the rows of the restored tables" ;;
    mysql)
      local union
      union=$(sql -N -B --raw -e "set session group_concat_max_len = 16777216;
        select group_concat(concat('select ', quote(json_quote(table_name)), ', count(*) from \`', replace(table_name, '\`', '\`\`'), '\`')
          order by table_name separator ' union all ')
        from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE'") ||
        fail 63 "could not list the restored tables"
      lines=""
      if [ -n "$union" ] && [ "$union" != NULL ]; then
        lines=$(sql -N -B --raw <<<"$union") || fail 63 "could not count the rows of the restored tables"
      fi ;;
    redis)
      lines=$(in_db redis-cli info keyspace | tr -d '\r' | sed -n 's/^\(db[0-9]*\):keys=\([0-9]*\),.*/"\1"\t\2/p') ||
        fail 63 "could not count the restored keys" ;;
    mongo)
      lines=$(in_db sh -c 'c=mongo; command -v mongosh >/dev/null && c=mongosh; exec "$c" --quiet "$1" --eval "db.getCollectionNames().forEach(function (n) { print(JSON.stringify(n) + \"\t\" + db.getCollection(n).countDocuments({})) })"' sh "$database") ||
        fail 63 "could not count the restored documents" ;;
  esac
  local name rows parts=()
  while IFS=$'\t' read -r name rows; do
    [ -n "$name" ] || continue
    [[ $name =~ ^\".*\"$ && $rows =~ ^[0-9]+$ ]] || fail 63 "unexpected count line: $(q "$name $rows")"
    parts+=("$name: $rows")
    ((json)) || printf '%-40s %12s\n' "$name" "$rows"
  done <<<"$lines"
  counts_json="{$(IFS=,; printf '%s' "${parts[*]}")}"
  counts_json=${counts_json//,/, }
  if ((check_mode)) && ((${#parts[@]} == 0)); then
    fail 63 "the restored $engine database holds nothing (no tables, no keys): $key"
  fi
}

# freshness: the timestamp the query returns is at most --max-age seconds old (exit 63 if older or none).
freshness() {
  local epoch age
  case "$engine" in
    postgres) epoch=$(sql -tA -c "select floor(extract(epoch from ($freshness_query)))::bigint") ;;
    mysql) epoch=$(sql -N -B -e "select floor(unix_timestamp(($freshness_query)))") ;;
  esac || fail 63 "the freshness query failed"
  [[ $epoch =~ ^[0-9]+$ ]] || fail 63 "the freshness query returned no timestamp (got $(q "$epoch"))"
  age=$(($(date -u +%s) - epoch))
  ((age <= max_age)) || fail 63 "the newest data is ${age}s old (freshness query), more than --max-age $max_age"
  ((json)) || say "freshness: the newest data is ${age}s old (at most $max_age)"
}

# safety_dump: a fresh dump of the live database with railyard-backup.sh before it is replaced (exit 64 if not).
safety_dump() {
  local args=(--service "$service" --engine "$engine" --user "$user" --database "$database") out
  if [ -n "$safety_dir" ]; then
    args+=(--dir "$safety_dir")
  else
    args+=(--bucket "$s3_bucket" --prefix "$s3_prefix" --credentials "$safety_credentials" --region "$s3_region" --reason safety)
    [ -z "$s3_endpoint" ] || args+=(--endpoint "$s3_endpoint")
  fi
  say "safety dump of $service first (railyard-backup.sh)"
  out=$(bash "$railyard_dir/railyard-backup.sh" "${args[@]}") || fail 64 "the safety dump of $service failed: the live database was not touched"
  say "safety dump: $out"
}

live_container() {
  target=$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1)
  [ -n "$target" ] && return 0
  local node
  node=$(running_task_node "$service")
  [ -n "$node" ] || fail 20 "no running container of service $service on this node"
  remote_live "$node"
}

# The live database's task runs on NODE: its clients run in a one-off Swarm job of its own image on this node (its
# password secret, its network), reaching it by its service name over the overlay; removed on exit.
restore_job=""
remote_live() {
  local rc=0
  trap restore_job_remove EXIT
  db_job_waiting restore "$service" 86400 120 || rc=$?
  restore_job=$db_job_name
  [ "$rc" != 1 ] ||
    fail 20 "the task of service $service runs on node $1, and a restore job on this node cannot run: $db_job_error; the live database was not touched"
  [ "$rc" != 2 ] ||
    fail 20 "the task of service $service runs on node $1, and the restore job on this node did not start within 120 s ($db_job_error); the live database was not touched"
  target=$db_job_container
  db_host=$service
  say "the task of $service runs on node $1: restoring from a job on this node ($restore_job), over the overlay network"
}

restore_job_remove() { [ -z "$restore_job" ] || db_job_remove "$restore_job"; }

report() {
  local seconds=$1 dump_time
  dump_time=$(stamp_iso "$(key_time "$key")")
  if ((json)); then
    printf '{"result": "ok", "key": %s, "dump_time": "%s", "bytes": %s, "into": "%s", "restore_seconds": %s, "counts": %s%s}\n' \
      "$(json_str "$key")" "$dump_time" "${picked_bytes:-null}" "$into" "$seconds" "$counts_json" \
      "$( ((keep)) && printf ', "container": %s' "$(json_str "$scratch")")"
  else
    say "restored $key (dumped $dump_time) into $(target_name) in ${seconds}s"
  fi
  if ((keep)); then
    say "kept: $scratch (docker exec -it $scratch $(connect_hint)); remove it with: docker rm -f -v $scratch"
  fi
}

connect_hint() {
  case "$engine" in
    postgres) echo "psql -h 127.0.0.1 -U $user -d $database" ;;
    mysql) echo "mariadb -h 127.0.0.1 -uroot $database (or mysql)" ;;
    mongo) echo "mongosh $database" ;;
    redis) echo "redis-cli" ;;
  esac
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

main() {
  parse_args "$@"
  # A signal (timeout's TERM) ends the script through its EXIT trap: the scratch container is removed.
  trap 'exit 143' TERM
  trap 'exit 130' INT
  trap 'exit 129' HUP
  # The object on stdin moves to fd 3: every other command (docker exec -i among them) reads nothing.
  if ((stdin)); then exec 3<&0; fi
  exec 0</dev/null
  if ((list)); then
    list_dumps
    print_list
    return 0
  fi
  ((stdin)) || pick_dump
  [ -n "$picked_bytes" ] || picked_bytes=null
  local target=""
  restore_started=$EPOCHREALTIME
  if [ "$into" = live ]; then
    live_container
    # A bucket source is read once first: its sha256 and frames checked before anything changes.
    ((stdin)) || stream_into discard
    safety_dump
    restore_started=$EPOCHREALTIME
  else
    scratch_run
    target=$scratch
    [ "$engine" = redis ] || wait_ready
  fi
  say "restoring $key into $(target_name)"
  restoring=1
  stream_into restore_tool
  [ "$engine" != redis ] || redis_start
  if [ "$into" = scratch ] || ((check_mode)); then count_rows; fi
  [ -z "$freshness_query" ] || freshness
  report "$(elapsed "$restore_started")"
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
