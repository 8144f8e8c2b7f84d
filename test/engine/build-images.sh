#!/usr/bin/env bash
# Builds the real-engine test images without a registry: a Debian rootfs from debootstrap (python3, postgresql,
# mariadb, redis, curl, caddy, haproxy, and Debian's real celery, alembic and uvicorn) imported with `docker import`,
# then small images on top of it. Everything is tagged with a hash
# of its inputs, so a second run reuses what exists. Prints the image names as KEY=IMAGE lines on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mirror=${RAILYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=ca-certificates,curl,python3,postgresql,redis-server,procps,caddy,haproxy,mariadb-server,mariadb-client,python3-celery,python3-redis,alembic,python3-sqlalchemy,python3-psycopg2,uvicorn,python3-fastapi

base_hash=$(printf '%s\n' "$packages" "bookworm" | sha256sum | cut -c1-12)
base=railyard-test/base:$base_hash
if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || { echo "build-images: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 10; }
  rootfs=$(mktemp -d /tmp/railyard-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "build-images: debootstrap $packages (a few minutes, once)" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >&2
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$base" >/dev/null
  echo "build-images: imported $base" >&2
fi

# build NAME VERSION MODE DOCKERFILE-BODY: an image from the base, tagged with a hash of its inputs.
build() {
  local name=$1 body=$2 ctx hash tag
  hash=$(printf '%s\n' "$base" "$body" | cat - "$root/examples/app/app.py" "$here"/images/* | sha256sum | cut -c1-12)
  tag=railyard-test/$name:$hash
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    ctx=$(mktemp -d /tmp/railyard-ctx.XXXXXX)
    cp "$root/examples/app/app.py" "$here"/images/* "$ctx/"
    printf 'FROM %s\n%s\n' "$base" "$body" >"$ctx/Dockerfile"
    # The legacy builder's deprecation notice is noise; its errors are shown.
    if ! docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx/build.log"; then cat "$ctx/build.log" >&2; exit 1; fi
    rm -rf "$ctx"
  fi
  echo "$tag"
}

# Debian's real celery runs the Celery app in images/celery_app.py (app.celery_app: a beat that records each send);
# Debian's real alembic runs the migration history in images/alembic_*.py (its wrapper picks the config); Debian's
# real uvicorn serves images/fastapi_main.py (app.main:app), which answers like app.py's serve.
app_body='COPY app.py /app/app.py
COPY alembic celery /usr/local/bin/
COPY celery_app.py /opt/railyard-app/app/celery_app.py
COPY fastapi_main.py /opt/railyard-app/app/main.py
RUN touch /opt/railyard-app/app/__init__.py
ENV PYTHONPATH=/opt/railyard-app
COPY alembic.ini alembic-twoheads.ini /opt/railyard-app/
COPY alembic_env.py /opt/railyard-app/migrations/env.py
COPY alembic_0001_items.py /opt/railyard-app/migrations/versions/0001_items.py
COPY alembic_0002a.py alembic_0002b.py /opt/railyard-app/migrations/twoheads/
CMD ["python3", "/app/app.py", "serve"]'
echo "APP_V1=$(build app-v1 "$app_body
ENV APP_VERSION=v1")"
echo "APP_V2=$(build app-v2 "$app_body
ENV APP_VERSION=v2")"
echo "APP_WEB80=$(build app-web80 "$app_body
ENV APP_VERSION=v1 PORT=80")"
echo "APP_CRASH=$(build app-crash "$app_body
ENV APP_VERSION=v3 APP_MODE=crash")"
echo "POSTGRES=$(build postgres 'COPY pg-entrypoint.sh /usr/local/bin/pg-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/pg-entrypoint.sh"]')"
# MySQL stand-in: MariaDB with the official mysql image's entrypoint behaviour (an empty data directory, no socket trust).
echo "MARIADB=$(build mariadb $'COPY mariadb-entrypoint.sh /usr/local/bin/\nRUN rm -rf /var/lib/mysql/*\nENTRYPOINT ["/usr/local/bin/mariadb-entrypoint.sh"]')"
echo "REDIS=$(build redis 'CMD ["redis-server", "--protected-mode", "no"]')"
echo "EDGE=$(build edge 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]')"
# A bad edge release: its first task runs, its second fails a few seconds after it started (images/caddy-second-fails.sh).
echo "EDGE_SECOND_FAILS=$(build edge-second-fails 'COPY caddy-second-fails.sh /usr/local/bin/caddy
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]')"
echo "FRONT=$(build front 'CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]')"
