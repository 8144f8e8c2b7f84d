#!/usr/bin/env bash
# CI: commits the stack file a deploy pinned (scripts/ci/set-images.ts) back to the branch it deployed, so previews
# and laptops see the digests that run. Only that file is committed, with [skip ci]. When the branch moved meanwhile
# the commit is rebased onto it and pushed again; where both changed the same lines (or neighbouring ones: one hunk)
# the deployed file's lines win, since they are what runs now; changes elsewhere in the file are kept.
set -euo pipefail
me="commit-stack-file"

usage() {
  cat <<'EOF2'
usage: commit-stack-file.sh --stack STACK --branch BRANCH [--remote NAME] [--attempts N]

Run in the checkout the deploy ran in. Commits Pulumi.<STACK>.yaml alone (nothing when it is unchanged) and pushes
it to BRANCH of the remote (default origin), rebasing onto the branch and retrying up to N times (default 5).

exit codes: 0 pushed or nothing to commit, 2 bad arguments, 3 not a git checkout or the stack file is missing or
            untracked, 4 the push was refused N times or the fetch failed, 5 the rebase stopped on a conflict
            (the branch deleted or renamed the stack file): the commit is left unpushed.
EOF2
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/ci/git-bot.sh
source "$(dirname "${BASH_SOURCE[0]}")/git-bot.sh"

parse_args() {
  stack="" branch="" remote=origin attempts=5
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --stack | --branch | --remote | --attempts)
        [ $# -ge 2 ] || die 2 "$1 needs a value"
        case $1 in
          --stack) stack=$2 ;;
          --branch) branch=$2 ;;
          --remote) remote=$2 ;;
          --attempts) attempts=$2 ;;
        esac
        shift 2
        ;;
      *) die 2 "unknown argument $1 (see --help)" ;;
    esac
  done
  [[ $stack =~ ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die 2 "--stack must be a stack name (a-z, 0-9, inner -), got '$stack'"
  [[ $branch =~ ^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$ ]] || die 2 "--branch must be a git branch name, got '$branch'"
  [[ $remote =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die 2 "--remote must be a git remote's name, got '$remote'"
  [[ $attempts =~ ^[1-9][0-9]?$ ]] || die 2 "--attempts must be a whole number from 1 to 99, got '$attempts'"
}

push_with_retries() {
  local n
  for ((n = 1; n <= attempts; n++)); do
    if git push -q "$remote" "HEAD:refs/heads/$branch"; then
      echo "$me: pushed $file to $branch ($(git rev-parse --short HEAD))"
      return 0
    fi
    [ "$n" -lt "$attempts" ] || break
    echo "$me: $branch moved: rebasing onto it (attempt $((n + 1)) of $attempts)"
    git fetch -q "$remote" "refs/heads/$branch" || die 4 "could not fetch $branch from $remote"
    # -X theirs: in a rebase "theirs" is the commit being replayed, the deployed stack file.
    if ! git_as_bot rebase -q -X theirs FETCH_HEAD; then
      git rebase --abort || true
      die 5 "rebasing the deploy's $file onto $branch stopped on a conflict: the commit is left unpushed; commit $file by hand"
    fi
  done
  die 4 "$remote refused the push to $branch $attempts times"
}

main() {
  parse_args "$@"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die 3 "$(pwd) is not a git checkout"
  cd "$(git rev-parse --show-toplevel)"
  file="Pulumi.$stack.yaml"
  [ -f "$file" ] || die 3 "no stack file $file"
  git ls-files --error-unmatch -- "$file" >/dev/null 2>&1 || die 3 "$file is not tracked by git"
  if git diff --quiet HEAD -- "$file"; then
    echo "$me: $file is unchanged: nothing to commit"
    return 0
  fi
  git_as_bot commit -q -m "$stack: pin the deployed images in $file [skip ci]" -- "$file"
  push_with_retries
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] && main "$@"
