#!/usr/bin/env bash
# CI: the stack's SSH key (railyard:sshPrivateKey, Pulumi secret config in the stack file) loaded into a new
# ssh-agent for the job's later steps (npm run rollback and the other operator commands ssh to the host). The key
# goes from `pulumi config get` straight into ssh-add: never into a file, an argument or the log.
set -euo pipefail
me="ssh-agent"

usage() {
  cat <<'EOF2'
usage: ssh-agent.sh --stack STACK

Starts ssh-agent on a socket in $RUNNER_TEMP (else a new temporary folder), adds railyard:sshPrivateKey of STACK
(read with `pulumi config get --stack STACK`), and appends SSH_AUTH_SOCK and SSH_AGENT_PID to $GITHUB_ENV.

exit codes: 0 loaded, 2 bad arguments or GITHUB_ENV unset, 3 pulumi or ssh-agent missing, 4 the stack has no
            railyard:sshPrivateKey (or pulumi could not read it), 5 ssh-add refused the key.
EOF2
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

parse_args() {
  stack=""
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --stack) [ $# -ge 2 ] || die 2 "--stack needs a value"; stack=$2; shift 2 ;;
      *) die 2 "unknown argument $1 (see --help)" ;;
    esac
  done
  check_stack_option --stack "$stack"
  [[ ${GITHUB_ENV:-} == /* ]] || die 2 "GITHUB_ENV must be the absolute path of the job's environment file"
}

main() {
  parse_args "$@"
  command -v pulumi >/dev/null 2>&1 || die 3 "pulumi is not on PATH (pulumi/actions installs it)"
  command -v ssh-agent >/dev/null 2>&1 || die 3 "ssh-agent is not on PATH"
  local dir sock pid
  dir=${RUNNER_TEMP:-$(mktemp -d)}
  sock="$dir/railyard-ssh-agent.$$.sock"
  eval "$(ssh-agent -s -a "$sock")" >/dev/null
  pid=$SSH_AGENT_PID
  # A failed read leaves no agent behind.
  if ! pulumi config get railyard:sshPrivateKey --stack "$stack" 2>/dev/null | ssh-add -q - 2>/dev/null; then
    local read_ok=0
    pulumi config get railyard:sshPrivateKey --stack "$stack" >/dev/null 2>&1 && read_ok=1
    kill "$pid" 2>/dev/null || true
    rm -f "$sock"
    [ "$read_ok" -eq 1 ] || die 4 "could not read railyard:sshPrivateKey of $stack: set it with pulumi config set --secret railyard:sshPrivateKey --stack $stack < key"
    die 5 "ssh-add refused railyard:sshPrivateKey of $stack (not an unencrypted private key?)"
  fi
  printf 'SSH_AUTH_SOCK=%s\nSSH_AGENT_PID=%s\n' "$sock" "$pid" >>"$GITHUB_ENV"
  echo "$me: $stack's key is in the agent at $sock"
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] && main "$@"
