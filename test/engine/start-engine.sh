#!/usr/bin/env bash
# Makes sure a Docker engine in swarm mode answers: starts dockerd when none does (overlay2, then vfs),
# then initialises a single-node swarm when the node is in none. Leaves an engine that already runs alone.
set -euo pipefail

log=${RAILYARD_DOCKERD_LOG:-/tmp/railyard-dockerd.log}

answers() { timeout 5 docker info >/dev/null 2>&1; }

start_dockerd() {
  local driver=$1
  echo "start-engine: starting dockerd (storage driver $driver), log in $log"
  # The daemon keeps no descriptor of whoever started it: not a `flock` lock (held for as long as dockerd runs),
  # not a test runner's pipe.
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      n=${fd##*/}
      if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi
    done
    exec nohup dockerd --storage-driver "$driver" >>"$log" 2>&1
  ) &
  for _ in $(seq 1 60); do
    answers && return 0
    kill -0 $! 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

command -v docker >/dev/null 2>&1 || { echo "start-engine: docker is not installed (apt-get install docker.io)" >&2; exit 10; }
if ! answers; then
  command -v dockerd >/dev/null 2>&1 || { echo "start-engine: dockerd is not installed (apt-get install docker.io)" >&2; exit 10; }
  if ! start_dockerd overlay2; then
    pkill dockerd 2>/dev/null || true
    sleep 1
    start_dockerd vfs || { echo "start-engine: dockerd did not start; see $log" >&2; tail -20 "$log" >&2; exit 11; }
  fi
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  echo "start-engine: initialised a single-node swarm"
fi
echo "start-engine: engine ready ($(docker info --format '{{.Driver}}'), swarm $(docker info --format '{{.Swarm.LocalNodeState}}'))"
