#!/usr/bin/env bash
# Instructions per operation, by stack, under valgrind's callgrind: a
# deterministic complement to the timed benchmark, whose figures move by
# more than the differences being looked for on two shared cores.
#
#   bash bench/callgrind.sh W1 raw pgdbm-raw pgdbm-typed pgdbm-mux
#
# Each stack runs its workload at concurrency 1 twice, for 1 s and for 4 s;
# the difference in instructions over the difference in operations is the
# marginal cost of one operation in the whole client process (caller,
# driver, connection task, scheduler), with start-up cancelled out. The
# profiles are left in $OUT (default /tmp/pgdbm-callgrind) for
# callgrind_annotate.
#
# PGDBM_BENCH_SUBSCRIBER=info (a tracing subscriber that keeps INFO: pgdbm's
# DEBUG spans stay off) or =debug (every span formatted, output discarded)
# measures what observability costs.
set -euo pipefail

workload=${1:?usage: callgrind.sh WORKLOAD STACK...}
shift
out=${OUT:-/tmp/pgdbm-callgrind}
mkdir -p "$out"
cd "$(dirname "$0")/.."
cargo build --release -p pgdbm-bench >&2
# The target directory cargo used (CARGO_TARGET_DIR may move it).
bin=$(cargo metadata --format-version 1 --no-deps | sed -nE 's/.*"target_directory":"([^"]*)".*/\1/p')/release/pgdbm-bench

run() { # stack seconds -> "ops instructions"
    local stack=$1 secs=$2 file="$out/$1-$workload-$2"
    valgrind --tool=callgrind --callgrind-out-file="$file.cg" "$bin" \
        --only "$workload" --stacks "$stack" --concurrency 1 --rounds 1 \
        --warmup 0.05 --duration "$secs" --rows 10 >/dev/null 2>"$file.err"
    local rate ir
    rate=$(sed -nE 's/.*round 1\/1 .*: ([0-9,]+) ops\/s.*/\1/p' "$file.err" | tr -d ,)
    ir=$(sed -nE 's/^(summary|totals): ([0-9]+).*/\2/p' "$file.cg" | head -1)
    echo "$((rate * secs)) $ir"
}

printf '%-14s %12s %14s\n' stack ops 'instr/op'
for stack in "$@"; do
    read -r ops1 ir1 < <(run "$stack" 1)
    read -r ops4 ir4 < <(run "$stack" 4)
    printf '%-14s %12d %14d\n' "$stack" "$((ops4 - ops1))" "$(((ir4 - ir1) / (ops4 - ops1)))"
done
