#!/usr/bin/env bash
# Test stand-in for the official postgres image's entrypoint: reads POSTGRES_USER, POSTGRES_DB,
# POSTGRES_PASSWORD_FILE, POSTGRES_HOST_AUTH_METHOD and PGDATA the same way, initialises the cluster once, then runs
# postgres as PID 1. Its pg_hba.conf is the official image's: initdb's defaults (trust on the socket and
# 127.0.0.1/::1), then POSTGRES_HOST_AUTH_METHOD (default scram-sha-256) from every other address, so only a
# connection over the network proves a password. As in the official image, POSTGRES_HOST_AUTH_METHOD=trust needs no
# password (a throwaway server: railyard's scratch restores).
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
password=""
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password=$(cat "$POSTGRES_PASSWORD_FILE")
elif [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
  echo "pg-entrypoint: POSTGRES_PASSWORD_FILE is required (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
  exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s' "$password" >"$pwfile"
  chown postgres "$pwfile"
  if [ -n "$password" ]; then
    runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" >/dev/null
  else
    runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" >/dev/null
  fi
  rm -f "$pwfile"
  echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
  # The first server listens on the socket only (as the official image's): a client waiting on 127.0.0.1 sees
  # the final server, never this one.
  runuser -u postgres -- pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != "postgres" ]; then
    runuser -u postgres -- psql -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  runuser -u postgres -- pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*'
