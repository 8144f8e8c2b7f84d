#!/usr/bin/env bash
# Test stand-in for the official mysql image's entrypoint, on Debian's MariaDB: reads MYSQL_USER, MYSQL_DATABASE,
# MYSQL_PASSWORD_FILE and MYSQL_ROOT_PASSWORD_FILE the same way and applies them only when it initialises an empty
# data directory; root@localhost and root@'%' sign in with the root password (as in MySQL's image: no socket
# trust), the app user as USER@'%'. Then runs the server as PID 1 on every address, names not resolved.
set -euo pipefail
datadir=/var/lib/mysql
password=$(cat "${MYSQL_PASSWORD_FILE:?MYSQL_PASSWORD_FILE is required}")
root_password=$(cat "${MYSQL_ROOT_PASSWORD_FILE:?MYSQL_ROOT_PASSWORD_FILE is required}")
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"
if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 120); do mariadb-admin --socket=/run/mysqld/init.sock -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  mariadb --socket=/run/mysqld/init.sock -uroot <<SQL
CREATE USER 'root'@'%' IDENTIFIED BY '$root_password';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE \`${MYSQL_DATABASE:?}\`;
CREATE USER '${MYSQL_USER:?}'@'%' IDENTIFIED BY '$password';
GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';
SQL
  kill "$pid"
  wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --skip-name-resolve
