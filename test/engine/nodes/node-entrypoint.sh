#!/usr/bin/env bash
# PID 1 of a test bed node (a privileged container): sshd with the host key and authorized key the bed mounts
# (/bed/ssh_host_ed25519_key, /bed/authorized_keys), then dockerd on the Engine API's unix socket and on
# tcp://0.0.0.0:2375 (the bed's own network only; no TLS: a test network). dockerd's exit ends the container.
set -euo pipefail
# The bed cannot use --privileged here (this machine's engine lacks a capability --privileged asks for): the
# container gets every other capability, no seccomp/AppArmor profile and unmasked /proc, and makes its /sys and
# cgroup hierarchies writable itself, which dockerd needs to run containers.
mount -o remount,rw /sys
awk '$3 == "cgroup" { print $2 }' /proc/mounts | while read -r m; do mount -o remount,bind,rw "$m" 2>/dev/null || true; done
mkdir -p /run/sshd /root/.ssh
install -m 0600 /bed/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 0600 /bed/authorized_keys /root/.ssh/authorized_keys
cat >/etc/ssh/sshd_config.d/railyard-test.conf <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
CONF
/usr/sbin/sshd
# After an abrupt stop (the bed kills a node's container), the last run's pid files and sockets are still there.
rm -rf /run/docker.pid /run/docker.sock /run/docker/containerd
exec dockerd --host unix:///var/run/docker.sock --host tcp://0.0.0.0:2375 --storage-driver overlay2 --log-level warn
