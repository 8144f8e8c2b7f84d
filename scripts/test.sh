#!/usr/bin/env bash
# npm test: installs what the tests need when it is missing, then type check, shellcheck, unit and engine tests.
set -euo pipefail
me="npm test"

usage() {
  cat <<'EOF2'
usage: npm test
       bash scripts/test.sh [--prereqs-only] [--help]

Sets up what the tests need when it is missing, then runs them:
  1. system packages: shellcheck, curl, openssl, procps, awscli, zstd, systemd (systemd-analyze), and for the
     engine tests docker.io (dockerd) and debootstrap;
     installed with apt-get when run as root on Debian, else it stops and names the packages;
  2. node_modules: npm ci when it is missing;
  3. tsc --noEmit, shellcheck (npm run lint:shell), actionlint over the GitHub workflows (npm run
     lint:workflows), the unit tests (vitest), the real-engine tests
     (npm run test:engine; they start dockerd themselves when no engine answers and need root).
--prereqs-only stops after 1 and 2.

exit codes: 0 all passed, 2 bad arguments, 12 Node.js or npm missing or too old, 20 packages missing and not
            installable here (not root, or not Debian), 21 apt-get failed or left a tool missing; otherwise the
            failing step's code.
EOF2
}

prereqs_only=0
for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    --prereqs-only) prereqs_only=1 ;;
    *) echo "$me: unknown argument $arg" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# tool:package pairs. The host scripts (gate, test helpers) call curl and openssl; the engine tests start dockerd
# (test/engine/start-engine.sh) and build their images with debootstrap. The backup scripts stream through zstd to
# Debian's awscli (the tests run them with /usr/bin first: another `aws` on PATH is not the one a host has), and the
# schedule tests check calendars and units with systemd-analyze. The registry engine test serves a private image
# from Debian's docker-registry with htpasswd auth (apache2-utils). The delivery tests commit and push with git and
# load keys with ssh-agent (a CI container may lack both). The multi-node bed (test/engine/nodes) generates its keys with
# ssh-keygen and joins its nodes over ssh; its node image gets docker.io, openssh-server and iptables from Debian's
# mirror inside the image build (as debootstrap does), so nothing more on this machine.
NEEDS=(shellcheck:shellcheck curl:curl jq:jq openssl:openssl dockerd:docker.io debootstrap:debootstrap pgrep:procps /usr/bin/aws:awscli zstd:zstd systemd-analyze:systemd /usr/bin/docker-registry:docker-registry htpasswd:apache2-utils git:git ssh-agent:openssh-client ssh:openssh-client ssh-keygen:openssh-client)

missing_packages() {
  local pair
  for pair in "${NEEDS[@]}"; do
    # dockerd and debootstrap live in /usr/sbin, off a normal user's PATH on Debian.
    PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null 2>&1 || printf '%s\n' "${pair#*:}"
  done
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1 || [ ! -f /etc/debian_version ]; then
    die 20 "missing packages: ${missing[*]}. Install them (Debian, as root: apt-get install ${missing[*]}) and run npm test again"
  fi
  echo "$me: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die 21 "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die 21 "apt-get install ${missing[*]} failed"
  mapfile -t missing < <(missing_packages)
  [ "${#missing[@]}" -eq 0 ] || die 21 "still missing after apt-get install: ${missing[*]}"
fi
ensure_node_modules
[ "$prereqs_only" -eq 0 ] || exit 0

npm run --silent typecheck
npm run --silent lint:shell
npm run --silent lint:workflows
npx vitest run
npm run --silent test:engine
