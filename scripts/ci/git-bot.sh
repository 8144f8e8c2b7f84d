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
