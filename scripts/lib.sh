# shellcheck shell=bash
# Shared by the scripts in scripts/ and scripts/ci/ (sourced, never run): the set-up they do by themselves on a fresh
# machine, and the option checks they share.
# The caller has done `set -euo pipefail`, changed to the project's root and set `me` (its name for messages).

# die <exit code> <message…>: the message on stderr, prefixed with the script's name, and exit.
die() {
  local code=$1
  shift
  printf '%s: %s\n' "${me:-railyard}" "$*" >&2
  exit "$code"
}

# The dev scripts' own options (the rest goes to pulumi): --help prints the caller's `usage`; the stack is always dev.
# check_stack_option OPTION VALUE: VALUE is a stack name (a DNS label: a-z first, a-z 0-9 and inner -), else exit 2.
check_stack_option() {
  [[ $2 =~ ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die 2 "$1 must be a stack name (a-z, 0-9, inner -), got '$2'"
}

# check_remote_option OPTION VALUE: VALUE is a git remote's name, else exit 2.
check_remote_option() {
  [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die 2 "$1 must be a git remote's name, got '$2'"
}

dev_script_args() {
  local arg
  for arg in "$@"; do
    case $arg in
      -h | --help) usage; exit 0 ;;
      --stack | --stack=* | -s) die 2 "the stack is always dev" ;;
    esac
  done
}

# Node.js as package.json's engines ask (vitest's vite needs 20.19 or 22.12): a clear stop instead of a crash later.
ensure_node() {
  command -v node >/dev/null 2>&1 || die 12 "Node.js is not installed: install Node.js 20.19 or newer (https://nodejs.org/)"
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' ||
    die 12 "Node.js $(node --version) is too old: install Node.js 20.19+ (or 22.12+) (https://nodejs.org/); Debian bookworm's nodejs is 18"
}

# Installs node_modules with `npm ci` when it is missing.
ensure_node_modules() {
  ensure_node
  [ -d node_modules ] && return 0
  command -v npm >/dev/null 2>&1 || die 12 "npm is not installed: install Node.js 20 or newer (https://nodejs.org/)"
  echo "${me:-railyard}: node_modules is missing: running npm ci"
  npm ci --no-audit --no-fund
}

# Puts a Pulumi CLI on PATH: the one already there, else the one in .railyard/pulumi, else installs it there with
# Pulumi's official installer (the version of @pulumi/pulumi in package.json, as the Automation API does).
ensure_pulumi() {
  local root="$PWD/.railyard/pulumi"
  if ! command -v pulumi >/dev/null 2>&1 && [ -x "$root/bin/pulumi" ]; then PATH="$root/bin:$PATH"; fi
  command -v pulumi >/dev/null 2>&1 && return 0
  local version
  version=${RAILYARD_PULUMI_VERSION:-$(node -p 'require("./package.json").dependencies["@pulumi/pulumi"]')}
  local manual="curl -fsSL https://get.pulumi.com/install.sh | sh -s -- --version $version --install-root \"$root\" --no-edit-path"
  command -v curl >/dev/null 2>&1 || die 10 "the Pulumi CLI is not installed and curl is missing to install it; install curl, or install Pulumi yourself: $manual"
  echo "${me:-railyard}: the Pulumi CLI is not installed: installing Pulumi $version into .railyard/pulumi (your PATH and shell files are not changed)"
  mkdir -p "$root"
  local installer="$root/install.sh"
  if ! curl -fsSL --connect-timeout 15 --retry 2 -o "$installer" https://get.pulumi.com/install.sh; then
    rm -f "$installer"
    die 10 "could not download Pulumi's installer from https://get.pulumi.com (offline?). When online, run this again, or install it by hand: $manual"
  fi
  if ! sh "$installer" --version "$version" --install-root "$root" --no-edit-path; then
    die 10 "Pulumi's installer failed (output above). Install it by hand: $manual"
  fi
  rm -f "$installer"
  [ -x "$root/bin/pulumi" ] || die 10 "Pulumi's installer finished but $root/bin/pulumi is missing. Install it by hand: $manual"
  PATH="$root/bin:$PATH"
}

# The dev stack's state lives in this project (.railyard/state, git-ignored), given to each pulumi command through
# PULUMI_BACKEND_URL: the user's own `pulumi login` is never changed. Dev secrets use an empty passphrase.
use_project_backend() {
  mkdir -p .railyard/state
  export PULUMI_BACKEND_URL="file://$PWD/.railyard/state"
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
  export PULUMI_SKIP_UPDATE_CHECK=true
}

# Resolves the engine once, as the docker CLI does (DOCKER_HOST, else the current context's endpoint), exports it as
# DOCKER_HOST so the check below, the Pulumi Docker provider (components/host.ts) and the local commands all use it,
# and checks that it answers.
use_docker_engine() {
  command -v docker >/dev/null 2>&1 || die 11 "the docker CLI is not installed (Debian: apt-get install docker.io)"
  if [ -z "${DOCKER_HOST:-}" ]; then
    DOCKER_HOST=$(docker context inspect --format '{{.Endpoints.docker.Host}}') ||
      die 11 "docker context inspect failed (output above): fix the current context (docker context ls) or set DOCKER_HOST"
    DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
  fi
  export DOCKER_HOST
  # The provider would let DOCKER_CONTEXT override the host: the context is resolved into DOCKER_HOST above.
  unset DOCKER_CONTEXT
  local why
  why=$(docker info 2>&1 >/dev/null) ||
    die 11 "the Docker engine at $DOCKER_HOST does not answer (${why##*$'\n'}): start dockerd, or let this user use its socket (the docker group), or choose another engine with DOCKER_HOST=… or docker context use … (a TLS engine needs DOCKER_TLS_VERIFY and DOCKER_CERT_PATH too)"
}
