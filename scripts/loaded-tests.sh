#!/usr/bin/env bash
# The whole test suite, N times in a row, while stress-ng keeps every core
# busy: a test that needs an idle machine to pass shows up here, not in CI.
#
#   apt-get install stress-ng            # once
#   scripts/loaded-tests.sh              # five runs
#   RUNS=10 scripts/loaded-tests.sh
#
# Builds first (unloaded), then prints one line per run: pass or FAIL, the
# wall time, tests passed and failed, the load average. Each run's output is
# kept in target/loaded-tests/run-N.log.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }
runs=${RUNS:-5}
logs=target/loaded-tests
mkdir -p "$logs"
cargo test --workspace --no-run >"$logs/build.log" 2>&1 || { echo "build failed: $logs/build.log" >&2; exit 2; }
stress-ng --cpu "$(nproc)" --timeout 6h --quiet &
stress=$!
trap 'kill $stress 2>/dev/null; wait $stress 2>/dev/null' EXIT
failed=0
for i in $(seq "$runs"); do
    start=$(date +%s)
    if cargo test --workspace >"$logs/run-$i.log" 2>&1; then verdict=pass; else verdict=FAIL; failed=1; fi
    counts=$(grep -h '^test result' "$logs/run-$i.log" | awk '{p+=$4; f+=$6} END {print p+0 " passed, " f+0 " failed"}')
    echo "run $i: $verdict in $(($(date +%s) - start)) s, $counts, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
exit $failed
