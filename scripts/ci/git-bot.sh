# shellcheck shell=bash
# Sourced by the CI scripts that commit or tag (never run).

# git with an author when the checkout has none (a CI runner): the GitHub Actions bot's.
git_as_bot() {
  if git config user.email >/dev/null 2>&1; then
    git "$@"
  else
    git -c user.name="github-actions[bot]" -c user.email="41898282+github-actions[bot]@users.noreply.github.com" "$@"
  fi
}

# git that talks to the remote (fetch, push, ls-remote). The workflows check out without persisting a token
# (persist-credentials: false) and hand GITHUB_TOKEN to the commit and tag steps alone as GIT_PUSH_TOKEN: it goes to
# git as the same header actions/checkout would set, for GITHUB_SERVER_URL only, through git's environment config
# (GIT_CONFIG_COUNT…), so it is never in an argument list, a file or the log.
git_remote() {
  if [ -n "${GIT_PUSH_TOKEN:-}" ]; then
    local header
    header="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GIT_PUSH_TOKEN" | base64 | tr -d '\n')"
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader" GIT_CONFIG_VALUE_0="$header" git "$@"
  else
    git "$@"
  fi
}
