#!/usr/bin/env bash
# Test stand-in for a bad edge release whose SECOND task fails (test/engine/edge-release.test.ts), installed as
# /usr/local/bin/caddy ahead of Debian's /usr/bin/caddy. The release's first task, the one that creates the marker
# on the /data volume every Caddy task of the stack mounts, runs Caddy as usual. Any later task of the release
# runs Caddy too (healthy, so Swarm counts it running) for FAIL_AFTER seconds (default 7), then fails: inside the
# edge's 10 s monitor window, after the provider's first look at 7 s into the update.
set -euo pipefail
marker=/data/railyard-test-second-fails
if mkdir "$marker" 2>/dev/null; then exec /usr/bin/caddy "$@"; fi
echo "railyard-test: another task of this release started first ($marker exists); this one fails in ${FAIL_AFTER:-7} s" >&2
/usr/bin/caddy "$@" &
caddy=$!
# Stopped by Swarm before its time (a rollback): leave cleanly.
trap 'kill "$caddy" 2>/dev/null; wait "$caddy" || true; exit 0' TERM INT
sleep "${FAIL_AFTER:-7}" &
wait $!
kill "$caddy"
wait "$caddy" || true
echo "railyard-test: the second task of this release fails now (exit 1)" >&2
exit 1
