#!/usr/bin/env bash
# railyard-backup: dump one railyard database with its engine's own tool into a folder, keep the newest N.
set -euo pipefail
RAILYARD_SCRIPT=railyard-backup
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
Usage: railyard-backup.sh --service NAME --engine ENGINE --user USER --database DB --dir DIR [--keep N]

Dumps the database that runs as Swarm service NAME (a running container of it on this node) with the engine's
own tool, reading the password from the container's Swarm secret:
  postgres  pg_dump --format=custom          -> NAME-YYYYmmddTHHMMSSZ.dump
  mysql     mysqldump --single-transaction   -> NAME-YYYYmmddTHHMMSSZ.sql
  mongo     mongodump --archive              -> NAME-YYYYmmddTHHMMSSZ.archive
  redis     redis-cli --rdb (a fresh snapshot)-> NAME-YYYYmmddTHHMMSSZ.rdb
The dump is written to a .partial file and renamed only when complete; then all but the newest N (default 5)
dumps of NAME in DIR are removed: only files named as this script names them (NAME-YYYYmmddTHHMMSSZ.EXT), never
another file. Nothing is removed when the dump fails. No Swarm object is changed.

Arguments: NAME a Swarm service name (lower-case letters, digits and inner hyphens, at most 63 characters,
starting with a letter); USER and DB lower-case names (a-z, 0-9, _; at most 63); DIR an absolute path without
`..`; N 1 to 999.

Exit codes:
  0   the dump is in DIR
  2   bad arguments
  20  no running container of NAME on this node
  21  the dump failed (the partial file is removed; older dumps are kept)
USAGE
}

service="" engine="" user="" database="" dir="" keep=5 ext="" dump=()

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --service) opt_value service "$@"; shift 2 ;;
      --engine) opt_value engine "$@"; shift 2 ;;
      --user) opt_value user "$@"; shift 2 ;;
      --database) opt_value database "$@"; shift 2 ;;
      --dir) opt_value dir "$@"; shift 2 ;;
      --keep) opt_value keep "$@"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  check --service "$service" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
  check --user "$user" "a lower-case name (a-z, 0-9, _; at most 63)" matches '^[a-z_][a-z0-9_]{0,62}$'
  check --database "$database" "a lower-case name (a-z, 0-9, _; at most 63)" matches '^[a-z0-9_]{1,63}$'
  check --dir "$dir" "an absolute path (letters, digits, ._- and /, no ..)" is_abs_path
  check --keep "$keep" "1 to 999" is_int_in 1 999
  dump_command
}

# The engine's own dump tool, run inside the container: sets dump (argv) and ext.
dump_command() {
  local secret=/run/secrets/railyard_db_password
  # The dump commands run inside the container: their $(…) and "$1" are meant for its shell, not this one.
  # shellcheck disable=SC2016
  case "$engine" in
    postgres) ext=dump; dump=(sh -c 'PGPASSWORD="$(cat "$0")" exec pg_dump -h 127.0.0.1 -U "$1" -d "$2" --format=custom' "$secret" "$user" "$database") ;;
    mysql) ext=sql; dump=(sh -c 'MYSQL_PWD="$(cat "$0")" exec mysqldump --single-transaction -h 127.0.0.1 -u "$1" "$2"' "$secret" "$user" "$database") ;;
    mongo) ext=archive; dump=(sh -c 'exec mongodump --quiet --archive --username "$1" --password "$(cat "$0")" --authenticationDatabase admin --db "$2"' "$secret" "$user" "$database") ;;
    redis) ext=rdb; dump=(sh -c 'REDISCLI_AUTH="$(cat "$0")" redis-cli -h 127.0.0.1 --rdb /tmp/railyard-backup.rdb >/dev/null && cat /tmp/railyard-backup.rdb && rm -f /tmp/railyard-backup.rdb' "$secret") ;;
    *) fail 2 "--engine must be postgres, mysql, mongo or redis, got $(q "$engine")" ;;
  esac
}

# Dumps through a .partial file renamed when complete; prints the dump's path.
write_dump() {
  local container target partial
  container=$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1)
  [ -n "$container" ] || fail 20 "no running container of service $service on this node"
  mkdir -p "$dir"
  target="$dir/$service-$(date -u +%Y%m%dT%H%M%SZ).$ext"
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

main() {
  parse_args "$@"
  write_dump
  prune
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
