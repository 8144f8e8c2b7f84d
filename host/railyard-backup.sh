#!/usr/bin/env bash
# railyard-backup: dump one railyard database with its engine's own tool into a folder, keep the newest N.
set -euo pipefail

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
dumps of NAME in DIR are removed. Nothing is removed when the dump fails.

Exit codes:
  0   the dump is in DIR
  2   bad arguments
  20  no running container of NAME on this node
  21  the dump failed (the partial file is removed; older dumps are kept)
USAGE
}

fail() {
  local code=$1
  shift
  echo "railyard-backup: $*" >&2
  exit "$code"
}

service="" engine="" user="" database="" dir="" keep=5
while [ $# -gt 0 ]; do
  case "$1" in
    --service) service=${2-}; shift 2 || fail 2 "--service needs a value" ;;
    --engine) engine=${2-}; shift 2 || fail 2 "--engine needs a value" ;;
    --user) user=${2-}; shift 2 || fail 2 "--user needs a value" ;;
    --database) database=${2-}; shift 2 || fail 2 "--database needs a value" ;;
    --dir) dir=${2-}; shift 2 || fail 2 "--dir needs a value" ;;
    --keep) keep=${2-}; shift 2 || fail 2 "--keep needs a value" ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail 2 "unknown argument: $1" ;;
  esac
done
[[ "$service" =~ ^[a-z][a-z0-9-]*$ ]] || fail 2 "--service must be a lower-case name, got '$service'"
[[ "$user" =~ ^[a-z_][a-z0-9_]*$ ]] || fail 2 "--user must be a lower-case name, got '$user'"
[[ "$database" =~ ^[a-z0-9_]+$ ]] || fail 2 "--database must be a lower-case name, got '$database'"
[[ "$dir" =~ ^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?/?$ && ! "$dir" =~ (^|/)\.\.(/|$) ]] || fail 2 "--dir must be an absolute path, got '$dir'"
[[ "$keep" =~ ^[1-9][0-9]{0,2}$ ]] || fail 2 "--keep must be 1 to 999, got '$keep'"

secret=/run/secrets/railyard_db_password
# The dump commands run inside the container: their $(…) and "$1" are meant for its shell, not this one.
# shellcheck disable=SC2016
case "$engine" in
  postgres) ext=dump; dump=(sh -c 'PGPASSWORD="$(cat "$0")" exec pg_dump -h 127.0.0.1 -U "$1" -d "$2" --format=custom' "$secret" "$user" "$database") ;;
  mysql) ext=sql; dump=(sh -c 'MYSQL_PWD="$(cat "$0")" exec mysqldump --single-transaction -h 127.0.0.1 -u "$1" "$2"' "$secret" "$user" "$database") ;;
  mongo) ext=archive; dump=(sh -c 'exec mongodump --quiet --archive --username "$1" --password "$(cat "$0")" --authenticationDatabase admin --db "$2"' "$secret" "$user" "$database") ;;
  redis) ext=rdb; dump=(sh -c 'REDISCLI_AUTH="$(cat "$0")" redis-cli -h 127.0.0.1 --rdb /tmp/railyard-backup.rdb >/dev/null && cat /tmp/railyard-backup.rdb && rm -f /tmp/railyard-backup.rdb' "$secret") ;;
  *) fail 2 "--engine must be postgres, mysql, mongo or redis, got '$engine'" ;;
esac

container=$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1)
[ -n "$container" ] || fail 20 "no running container of service $service on this node"

mkdir -p "$dir"
target="$dir/$service-$(date -u +%Y%m%dT%H%M%SZ).$ext"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT
if ! docker exec "$container" "${dump[@]}" >"$partial"; then
  fail 21 "the $engine dump of $service failed; older dumps in $dir are kept"
fi
[ -s "$partial" ] || fail 21 "the $engine dump of $service is empty; older dumps in $dir are kept"
mv "$partial" "$target"
trap - EXIT

# Keep the newest $keep dumps of this service (names sort by their UTC timestamps).
find "$dir" -maxdepth 1 -type f -name "$service-*.$ext" | sort | head -n "-$keep" | while IFS= read -r old; do
  rm -f -- "$old"
done
echo "$target"
