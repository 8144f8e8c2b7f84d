#!/usr/bin/env bash
# Test stand-in for the official mysql image's entrypoint, on Debian's MariaDB: reads MYSQL_USER, MYSQL_DATABASE,
# MYSQL_PASSWORD_FILE and MYSQL_ROOT_PASSWORD_FILE the same way and applies them only when it initialises an empty
# data directory; root@localhost and root@'%' sign in with the root password (as in MySQL's image: no socket
# trust), the app user as USER@'%'. As in the official images, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or
# MYSQL_ALLOW_EMPTY_PASSWORD (any non-empty value) allow no root password file: root then has an empty password (a
# throwaway server: railyard's scratch restores); MYSQL_DATABASE and MYSQL_USER are optional. Then runs the server
# as PID 1 on every address, names not resolved.
set -euo pipefail
datadir=/var/lib/mysql
if [ -n "${MYSQL_ROOT_PASSWORD_FILE:-}" ]; then
  root_password=$(cat "$MYSQL_ROOT_PASSWORD_FILE")
elif [ -n "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
  root_password=""
else
  echo "mariadb-entrypoint: MYSQL_ROOT_PASSWORD_FILE is required (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)" >&2
  exit 1
fi
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"
if [ ! -d "$datadir/mysql" ]; then
  sql="CREATE USER 'root'@'%' IDENTIFIED BY '$root_password';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  [ -z "${MYSQL_DATABASE:-}" ] || sql+="
CREATE DATABASE \`$MYSQL_DATABASE\`;"
  if [ -n "${MYSQL_USER:-}" ]; then
    password=$(cat "${MYSQL_PASSWORD_FILE:?MYSQL_PASSWORD_FILE is required with MYSQL_USER}")
    sql+="
CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$password';"
    [ -z "${MYSQL_DATABASE:-}" ] || sql+="
GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';"
  fi
  sql+="
ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 120); do mariadb-admin --socket=/run/mysqld/init.sock -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  mariadb --socket=/run/mysqld/init.sock -uroot <<<"$sql"
  kill "$pid"
  wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --skip-name-resolve
