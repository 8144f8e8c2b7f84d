#!/usr/bin/env bash
# Runs one benchmark on the real engine and prints its report last, so its final line is the machine-readable one
# ("<name>: key=value …"). On any failure (an assertion, the engine, a missing report) it exits non-zero and
# prints no report, so no figures line.
#   bash bench/run.sh <name> [--quick]   (name: a bench/<name>.bench-run.ts file: rollout, recovery, signals, …)
# --quick: a short run of the same steps (RAILYARD_BENCH_QUICK=1; each benchmark says what it cuts).
set -euo pipefail
usage() { echo "usage: bench/run.sh <name> [--quick]   (bench/<name>.bench-run.ts)" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
name=$1
shift
quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --help | -h) usage ;;
    *) echo "bench: unknown argument $arg" >&2; usage ;;
  esac
done
[[ -f "bench/$name.bench-run.ts" ]] || { echo "bench: no benchmark named $name" >&2; exit 2; }
report=$(mktemp /tmp/railyard-bench.XXXXXX)
trap 'rm -f "$report"' EXIT
if ! RAILYARD_BENCH_QUICK=$quick RAILYARD_BENCH_REPORT=$report npx vitest run -c bench/vitest.config.ts "bench/$name.bench-run.ts" >&2; then
  echo "bench: $name failed (see above); no figures" >&2
  exit 1
fi
if [[ "$(tail -n 1 "$report")" != "$name: "* ]]; then
  echo "bench: $name wrote no figures line" >&2
  exit 1
fi
cat "$report"
