#!/usr/bin/env bash
# Builds the image of a host that runs systemd as PID 1 (for test/engine/schedule-systemd.test.ts: real timers in a
# privileged container): a Debian rootfs from debootstrap with systemd, imported with `docker import`. Tagged with
# a hash of its inputs, so a second run reuses it. Prints the image name on stdout.
set -euo pipefail
mirror=${RAILYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv

tag=railyard-test/systemd:$(printf '%s\n' "$packages" "bookworm" | sha256sum | cut -c1-12)
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || { echo "build-systemd-image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 10; }
  rootfs=$(mktemp -d /tmp/railyard-systemd-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "build-systemd-image: debootstrap $packages (about a minute, once)" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >&2
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  # No getty on a console nobody reads; the journal to the console so `docker logs` shows the units.
  rm -f "$rootfs"/etc/systemd/system/getty.target.wants/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=docker' - "$tag" >/dev/null
  echo "build-systemd-image: imported $tag" >&2
fi
echo "$tag"
