#!/usr/bin/env bash
# Builds the image of a multi-node test bed's node: the engine tests' base image (build-images.sh: Debian from
# debootstrap, no Docker Hub) plus Debian's docker.io, openssh-server and iptables, with images/node-entrypoint.sh
# as its command (dockerd on the container's own /var/lib/docker, the Engine API on tcp :2375, sshd). Tagged with a
# hash of its inputs, so a second run reuses it. Run after build-images.sh (the base must exist). Prints the image
# name on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# The base image's tag, computed as build-images.sh computes it (from its package list).
base_packages=$(sed -n 's/^packages=//p' "$here/../build-images.sh")
base=railyard-test/base:$(printf '%s\n' "$base_packages" "bookworm" | sha256sum | cut -c1-12)
docker image inspect "$base" >/dev/null 2>&1 || { echo "build-node-image: no $base: run test/engine/build-images.sh first" >&2; exit 10; }
packages="docker.io openssh-server iptables"
body="RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /etc/ssh/ssh_host_*
COPY node-entrypoint.sh /usr/local/bin/railyard-test-node
CMD [\"/usr/local/bin/railyard-test-node\"]"
tag=railyard-test/node:$(printf '%s\n' "$base" "$body" | cat - "$here/node-entrypoint.sh" | sha256sum | cut -c1-12)
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  ctx=$(mktemp -d /tmp/railyard-node-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  cp "$here/node-entrypoint.sh" "$ctx/"
  printf 'FROM %s\n%s\n' "$base" "$body" >"$ctx/Dockerfile"
  echo "build-node-image: $packages on $base (about a minute, once)" >&2
  if ! docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx/build.log"; then cat "$ctx/build.log" >&2; exit 1; fi
fi
echo "$tag"
