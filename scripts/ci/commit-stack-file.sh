#!/usr/bin/env bash
# CI: commits the stack file a deploy pinned (scripts/ci/set-images.ts) or a rollback restored back to the branch it
# deployed, so previews and laptops see what runs. Only that file is committed. When the branch moved meanwhile, the
# commit is made again on the branch's new head: the pins are re-applied there by running set-images.ts with the
# same source (--from-dir or --from), so a teammate's edits to the file, even next to an image line, are kept. A
# restored file (no source) is re-committed only when the branch did not change the file; otherwise nothing is
# pushed. No [skip ci]: a push made with GITHUB_TOKEN starts no workflow anyway, and the marker would also skip the
# checks of a pull request or a fast-forward merge that carries this commit.
set -euo pipefail
me="commit-stack-file"

usage() {
  cat <<'EOF2'
usage: commit-stack-file.sh --stack STACK --branch BRANCH [--from-dir DIR | --from SOURCE_STACK] [--remote NAME]
                            [--attempts N]

Run in the checkout the deploy ran in. Commits Pulumi.<STACK>.yaml alone (nothing when it is unchanged) and pushes
it to BRANCH of the remote (default origin), retrying up to N times (default 5). --from-dir/--from: the source the
deploy pinned the images from (set-images.ts), re-applied on the branch's head when the branch moved. With
GITHUB_OUTPUT set, commit=<the deployed commit> (the pinned commit made before any retry, or HEAD when nothing
changed) is written to it before the push. GIT_PUSH_TOKEN, when set, authenticates to GITHUB_SERVER_URL.

exit codes: 0 pushed or nothing to commit, 2 bad arguments, 3 not a git checkout or the stack file is missing or
            untracked, 4 the push was refused N times or the fetch failed, 5 the pins could not be re-applied on the
            branch (the file deleted there, set-images refused it, or, for a restored file, the branch changed it):
            nothing is pushed.
EOF2
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/ci/git-bot.sh
source "$(dirname "${BASH_SOURCE[0]}")/git-bot.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

parse_args() {
  stack="" branch="" remote=origin attempts=5 from_dir="" from=""
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --stack | --branch | --remote | --attempts | --from-dir | --from)
        [ $# -ge 2 ] || die 2 "$1 needs a value"
        case $1 in
          --stack) stack=$2 ;;
          --branch) branch=$2 ;;
          --remote) remote=$2 ;;
          --attempts) attempts=$2 ;;
          --from-dir) from_dir=$2 ;;
          --from) from=$2 ;;
        esac
        shift 2
        ;;
      *) die 2 "unknown argument $1 (see --help)" ;;
    esac
  done
  check_stack_option --stack "$stack"
  [[ $branch =~ ^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$ ]] || die 2 "--branch must be a git branch name, got '$branch'"
  check_remote_option --remote "$remote"
  [[ $attempts =~ ^[1-9][0-9]?$ ]] || die 2 "--attempts must be a whole number from 1 to 99, got '$attempts'"
  [ -z "$from_dir" ] || [ -z "$from" ] || die 2 "give --from-dir or --from, not both"
  [ -z "$from" ] || [[ $from =~ ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die 2 "--from must be a stack name, got '$from'"
  if [ -n "$from_dir" ]; then
    [ -d "$from_dir" ] || die 2 "--from-dir '$from_dir' is not a directory"
    from_dir="$(cd "$from_dir" && pwd)"
  fi
}

output() {
  [ -z "${GITHUB_OUTPUT:-}" ] || printf 'commit=%s\n' "$1" >>"$GITHUB_OUTPUT"
}

# The stack file as it must be on the branch's head $1, written to $2; fails (naming why) when it cannot be made.
pinned_on() {
  local head=$1 out=$2 tmp
  git cat-file -e "$head:$file" 2>/dev/null || { echo "$me: $branch has no $file (deleted or renamed)" >&2; return 1; }
  if [ -z "$from_dir" ] && [ -z "$from" ]; then
    # A restored file (a rollback): it replaces the whole file, so only over a branch that left the file alone.
    git diff --quiet "$deployed~1" "$head" -- "$file" || { echo "$me: $branch changed $file since this run's checkout" >&2; return 1; }
    git show "$deployed:$file" >"$out"
    return 0
  fi
  tmp=$(mktemp -d)
  git show "$head:$file" >"$tmp/$file"
  # --from: the source stack's file as this run deployed it, not as the branch has it now.
  [ -z "$from" ] || git show "$deployed:Pulumi.$from.yaml" >"$tmp/Pulumi.$from.yaml"
  if ! RAILYARD_PROJECT_DIR="$tmp" node "$here/../../node_modules/ts-node/dist/bin.js" --transpile-only "$here/set-images.ts" \
    --stack "$stack" ${from_dir:+--from-dir "$from_dir"} ${from:+--from "$from"}; then
    rm -rf "$tmp"
    echo "$me: set-images refused $branch's $file (above)" >&2
    return 1
  fi
  cp "$tmp/$file" "$out"
  rm -rf "$tmp"
}

push_with_retries() {
  local n head
  for ((n = 1; n <= attempts; n++)); do
    if git_remote push -q "$remote" "HEAD:refs/heads/$branch"; then
      echo "$me: pushed $file to $branch ($(git rev-parse --short HEAD))"
      return 0
    fi
    [ "$n" -lt "$attempts" ] || break
    echo "$me: $branch moved: making the commit again on its head (attempt $((n + 1)) of $attempts)"
    git_remote fetch -q "$remote" "refs/heads/$branch" || die 4 "could not fetch $branch from $remote"
    head=$(git rev-parse FETCH_HEAD)
    pinned_on "$head" "$work/$file" || die 5 "the deploy's $file could not be made again on $branch: nothing is pushed; commit $file by hand (the deployed commit is $(git rev-parse --short "$deployed"))"
    git reset -q "$head"
    cp "$work/$file" "$file"
    if git diff --quiet HEAD -- "$file"; then
      echo "$me: $branch already has the deployed $file: nothing to push"
      return 0
    fi
    git_as_bot commit -q -m "$stack: pin the deployed images in $file" -- "$file"
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
    output "$(git rev-parse HEAD)"
    return 0
  fi
  git_as_bot commit -q -m "$stack: pin the deployed images in $file" -- "$file"
  deployed=$(git rev-parse HEAD)
  output "$deployed"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  push_with_retries
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] && main "$@"
