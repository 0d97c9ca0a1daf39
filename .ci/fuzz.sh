#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ and runs each for a short while.
#
# cargo-fuzz needs nightly-only compiler flags (sanitizers); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets the stable compiler accept them. A target
# that fails to build, or finds a crash, fails the script.
#
#   FUZZ_SECONDS=60 bash .ci/fuzz.sh      # longer runs
#   FUZZ_DEV=1 bash .ci/fuzz.sh           # unoptimised build: minutes less to
#                                         # compile, fewer runs per second
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz
profile=()
[ -n "${FUZZ_DEV:-}" ] && profile=(--dev)
echo "fuzz: building the targets ${profile[*]}"
cargo fuzz build "${profile[@]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in lexer template; do
    echo "fuzz: running $target for ${seconds}s"
    mkdir -p "corpus/$target"
    status=0
    cargo fuzz run "${profile[@]}" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -dict=sql.dict -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The final stats only, so a CI log shows the result, not every step.
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$log" || true
    if [ "$status" -ne 0 ]; then
        grep -E -A12 "panicked|ERROR: libFuzzer|Test unit written" "$log" >&2 || tail -40 "$log" >&2
        echo "fuzz: $target failed (exit $status); the input is saved under fuzz/artifacts/$target" >&2
        exit "$status"
    fi
done
echo "fuzz: both targets ran ${seconds}s without a failure"
