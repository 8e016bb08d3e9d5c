#!/usr/bin/env bash
# Mutation testing of racegate's cores with cargo-mutants: every mutant of
# the listed files is built and run against the tests that guard it; a
# mutant no test catches ("missed") is a hole, unless it is equivalent
# (docs/mutants.md lists each with its reason).
#
#   cargo install cargo-mutants          # once
#   scripts/mutants.sh                   # every group (~2 h on two cores)
#   scripts/mutants.sh history kv gate   # some groups
#   JOBS=1 scripts/mutants.sh rate       # one build at a time
#   TIMEOUT=30 scripts/mutants.sh check  # a mutant that hangs the tests is
#                                        # cut after 30 s, not 60 (a timeout
#                                        # counts as caught)
#
# Each group writes target/mutants/<group>/mutants.out; then
# scripts/mutants-summary.py turns every group's outcomes into the table in
# docs/mutants.md (caught / missed / unviable / timeout per file).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null || {
    echo "cargo-mutants is not installed: cargo install cargo-mutants" >&2
    exit 2
}

run() {
    local group=$1
    shift
    echo "=== $group"
    # 2: some mutants were missed, 3: some timed out; the summary says which.
    local code=0
    mkdir -p "target/mutants/$group"
    cargo mutants --no-shuffle -j "${JOBS:-2}" --minimum-test-timeout "${TIMEOUT:-60}" \
        -o "target/mutants/$group" "$@" || code=$?
    case $code in
    0 | 2 | 3) ;;
    *) echo "cargo mutants failed on $group (exit $code)" >&2; exit "$code" ;;
    esac
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(history explain kv gate rate check cluster timeline pool)
for group in "${groups[@]}"; do
    case $group in
    history)
        run history -p racegate \
            -f harness/src/history/mod.rs -f harness/src/history/zones.rs \
            -f harness/src/history/wgl.rs -f harness/src/history/model.rs \
            -- --lib --test history_checker --test porcupine_suite ;;
    explain)
        run explain -p racegate \
            -f harness/src/history/explain.rs -f harness/src/history/parse.rs \
            -- --lib --test history_checker --test history_explain --test porcupine_suite --test kv_history ;;
    kv) run kv -p racegate -f harness/src/kv/judge.rs -- --lib --test kv_external --test kv_models ;;
    gate) run gate -p racegate -f harness/src/gate.rs -- --lib --test gate_exit_codes ;;
    rate) run rate -p racegate -f harness/src/rate.rs -- --lib ;;
    check) run check -p racegate -f 'harness/src/check/*.rs' -- --lib --test failure_kinds ;;
    cluster) run cluster -p racegate -f harness/src/cluster.rs -- --lib --test failure_kinds ;;
    timeline) run timeline -p racegate -f 'harness/src/timeline/*.rs' -- --lib --test timeline ;;
    # The pool's decisions are checked by its own tests and by the loom
    # models, which compile pool/src by path: both packages' tests run.
    # (cargo-mutants runs its unmutated baseline on the mutated package
    # only, where the loom tests are not: the baseline is skipped, and
    # `cargo test -p racegate-pool -p racegate-loom` passing is checked here.)
    pool)
        cargo test -q -p racegate-pool -p racegate-loom >/dev/null
        run pool -f pool/src/machine.rs -f pool/src/init.rs \
            --test-package racegate-pool,racegate-loom --baseline skip --timeout "${TIMEOUT:-180}" ;;
    *) echo "unknown group $group" >&2; exit 2 ;;
    esac
done
python3 scripts/mutants-summary.py target/mutants > docs/mutants.md.new
mv docs/mutants.md.new docs/mutants.md
echo "summary: docs/mutants.md"
