#!/usr/bin/env bash
# CI: tags a production release railyard/<stack>/<seq> (the release number the host recorded, the stack output
# release.seq) on the commit that was deployed (--commit: the pinned commit commit-stack-file.sh made before any
# retry, which holds exactly the deployed tree even when the branch moved or the push back failed), and pushes the
# tag. Run again for the same release and commit, it does nothing; a tag of that name on another commit is never
# moved.
set -euo pipefail
me="tag-release"

usage() {
  cat <<'EOF2'
usage: tag-release.sh --stack STACK --seq N [--commit REV] [--remote NAME]

Tags REV (default HEAD) railyard/STACK/N (annotated) and pushes the tag to the remote (default origin).
GIT_PUSH_TOKEN, when set, authenticates to GITHUB_SERVER_URL.

exit codes: 0 tagged (or already tagged on REV), 2 bad arguments (--seq must be a release number: a preview or a
            run without services records none; --commit must name a commit), 3 not a git checkout,
            4 the tag exists on another commit,
            5 the push failed.
EOF2
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/ci/git-bot.sh
source "$(dirname "${BASH_SOURCE[0]}")/git-bot.sh"

parse_args() {
  stack="" seq="" remote=origin commit=HEAD
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --stack | --seq | --remote | --commit)
        [ $# -ge 2 ] || die 2 "$1 needs a value"
        case $1 in
          --stack) stack=$2 ;;
          --seq) seq=$2 ;;
          --remote) remote=$2 ;;
          --commit) commit=$2 ;;
        esac
        shift 2
        ;;
      *) die 2 "unknown argument $1 (see --help)" ;;
    esac
  done
  check_stack_option --stack "$stack"
  [[ $seq =~ ^[1-9][0-9]{0,9}$ ]] || die 2 "--seq must be a release number (1 or more), got '$seq': did pulumi up record a release?"
  check_remote_option --remote "$remote"
  [[ $commit =~ ^(HEAD|[0-9a-f]{7,64})$ ]] || die 2 "--commit must be HEAD or a commit id, got '$commit'"
}

main() {
  parse_args "$@"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die 3 "$(pwd) is not a git checkout"
  local tag="railyard/$stack/$seq" head remote_ref
  head=$(git rev-parse -q --verify "$commit^{commit}") || die 2 "--commit $commit is not a commit of this checkout"
  git_remote fetch -q "$remote" "refs/tags/$tag:refs/tags/$tag" 2>/dev/null || true
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    [ "$(git rev-parse "refs/tags/$tag^{commit}")" = "$head" ] || die 4 "$tag already tags $(git rev-parse --short "refs/tags/$tag^{commit}"), not the deployed commit ($(git rev-parse --short "$head")): a release number is tagged once"
  else
    git_as_bot tag -a -m "release $seq of $stack" "$tag" "$head"
  fi
  git_remote push -q "$remote" "refs/tags/$tag" || die 5 "could not push $tag to $remote"
  remote_ref=$(git_remote ls-remote "$remote" "refs/tags/$tag^{}" | cut -f1)
  [ "$remote_ref" = "$head" ] || die 5 "$remote has $tag on '${remote_ref:-nothing}', not $head"
  echo "$me: tagged $tag on $(git rev-parse --short "$head")"
}

[[ "${BASH_SOURCE[0]}" == "$0" ]] && main "$@"
