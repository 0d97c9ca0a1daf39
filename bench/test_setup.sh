#!/usr/bin/env bash
# Test set-up, side by side in one run: 100 tests each on the same
# 20-migration set (34 tables, 37 indexes, 48 foreign keys) for
#   pgdbm_schema    #[pgdbm::test], schema isolation (the default)
#   pgdbm_database  #[pgdbm::test(isolation = "database")]
#   sqlx            #[sqlx::test(migrations = ..)]
# Each test's body is an insert and a select (a few ms), so the figures
# are the frameworks' own cost per test.
#
#   bash bench/test_setup.sh            # THREADS="1 4" ROUNDS=3
#   THREADS="1 2 8" ROUNDS=5 bash bench/test_setup.sh
#
# The three test binaries are built first (build time is not measured),
# then run directly, one after another on the same server, with the same
# --test-threads: every round runs every target at every thread count,
# the order of the targets rotating from round to round. One untimed run
# of each target comes first (it makes pgdbm's template database, which
# later runs reuse, and warms the server).
#
# Per run it measures:
#   whole run  wall time of the test binary, from launch to exit;
#   per test   whole run / 100;
#   set-up     with one thread only: the median gap between one test's
#              body ending and the next one's starting (each test logs
#              its body's start and end, bench/tests/setup_common), which
#              is all the framework does per test: the previous test's
#              tear-down and this test's set-up;
#   first      launch to the first test's body: process start and, for
#              schema isolation, the one real run of the migrations.
# Each figure is the median over the rounds.
#
# The server is PGDBM_TEST_URL or DATABASE_URL if set (sslmode=disable is
# advisable: the sqlx build here has no TLS), else a throwaway cluster from
# the local PostgreSQL binaries, the one pgdbm's tests start
# (bench/src/bin/test_server.rs). Logs are left in $OUT
# (default /tmp/pgdbm-test-setup).
set -euo pipefail
cd "$(dirname "$0")/.."

threads_list=${THREADS:-"1 4"}
rounds=${ROUNDS:-3}
out=${OUT:-/tmp/pgdbm-test-setup}
targets=(setup_pgdbm_schema setup_pgdbm_database setup_sqlx)
rm -rf "$out"
mkdir -p "$out"

echo "building the test binaries (not timed)" >&2
build=$(cargo test -p pgdbm-bench --test setup_pgdbm_schema --test setup_pgdbm_database \
    --test setup_sqlx --no-run 2>&1) || { echo "$build" >&2; exit 1; }
declare -A bin
for t in "${targets[@]}"; do
    bin[$t]=$(sed -nE "s|.*Executable tests/$t\.rs \((.*)\)$|\1|p" <<<"$build")
    [ -x "${bin[$t]}" ] || { echo "no binary for $t in:" >&2; echo "$build" >&2; exit 1; }
done

url=${PGDBM_TEST_URL:-${DATABASE_URL:-}}
if [ -n "$url" ]; then
    source="$( [ -n "${PGDBM_TEST_URL:-}" ] && echo PGDBM_TEST_URL || echo DATABASE_URL )"
else
    server=$(cargo build -q -p pgdbm-bench --bin test_server --message-format=json |
        sed -nE 's/.*"executable":"([^"]+)".*/\1/p' | tail -1)
    mkfifo "$out/server.stdin"
    "$server" <"$out/server.stdin" >"$out/server.url" 2>"$out/server.log" &
    server_pid=$!
    # The server runs until this descriptor closes: when the script exits.
    exec 3>"$out/server.stdin"
    trap 'exec 3>&-; wait $server_pid 2>/dev/null || true' EXIT
    for _ in $(seq 100); do
        [ -s "$out/server.url" ] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
        sleep 0.1
    done
    url=$(head -1 "$out/server.url")
    source="a throwaway cluster (pgdbm::testing::TestCluster: fsync=off, synchronous_commit=off)"
fi
export PGDBM_TEST_URL=$url DATABASE_URL=$url

now_us() { echo $(($(date +%s%N) / 1000)); }

# run TARGET THREADS LABEL: one run of a test binary, its figures appended
# to $out/runs: target threads label whole_ms first_ms gap_ms body_ms.
run() {
    local t=$1 threads=$2 label=$3 log="$out/$1-$2-$3.log" start end
    start=$(now_us)
    if ! SETUP_BENCH_LOG="$log" "${bin[$t]}" --test-threads "$threads" -q \
        >"$out/$t-$threads-$label.out" 2>&1; then
        echo "$t failed (threads $threads, $label):" >&2
        tail -30 "$out/$t-$threads-$label.out" >&2
        exit 1
    fi
    end=$(now_us)
    [ "$(wc -l <"$log")" -eq 100 ] || { echo "$t logged $(wc -l <"$log") tests, not 100" >&2; exit 1; }
    sort -k3,3n "$log" | awk -v t="${t#setup_}" -v th="$threads" -v label="$label" \
        -v start="$start" -v end="$end" '
        { s[NR] = $3; e[NR] = $4 }
        END {
            n = 0
            for (i = 2; i <= NR; i++) gaps[++n] = s[i] - e[i - 1]
            for (i = 1; i <= NR; i++) bodies[i] = e[i] - s[i]
            printf "%s %s %s %.1f %.1f %.1f %.2f\n", t, th, label, (end - start) / 1000,
                (s[1] - start) / 1000, median(gaps, n) / 1000, median(bodies, NR) / 1000
        }
        function median(a, n,    i, j, x) {
            for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }' >>"$out/runs"
}

echo "server: $source" >&2
echo "warm-up: one untimed run of each target" >&2
for t in "${targets[@]}"; do run "$t" 2 warmup; done
: >"$out/runs"
for round in $(seq "$rounds"); do
    for threads in $threads_list; do
        # Rotate the order so that no target always runs first.
        for k in 0 1 2; do
            t=${targets[$(((k + round) % 3))]}
            echo "round $round/$rounds, --test-threads $threads: $t" >&2
            run "$t" "$threads" "r$round"
        done
    done
done

echo
echo "Test set-up: 100 tests, 20 migrations (34 tables, 37 indexes, 48 foreign keys)"
echo "server: $source; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); medians of $rounds rounds"
echo
awk -v rounds="$rounds" '
    function median(list,    a, n, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        k = $1 SUBSEP $2
        if (!(k in whole)) { keys[++nk] = k }
        whole[k] = whole[k] " " $4; first[k] = first[k] " " $5
        gap[k] = gap[k] " " $6; body[k] = body[k] " " $7
        R[$1, $2, $3] = $4
    }
    END {
        printf "%-15s %7s %14s %14s %16s %14s %10s\n", "target", "threads", "whole run ms",
            "per test ms", "set-up ms (1 t.)", "first test ms", "body ms"
        for (i = 1; i <= nk; i++) {
            split(keys[i], p, SUBSEP)
            w = median(whole[keys[i]])
            g = p[2] == 1 ? sprintf("%.1f", median(gap[keys[i]])) : "-"
            printf "%-15s %7s %14.0f %14.1f %16s %14.0f %10.1f\n", p[1], p[2], w, w / 100, g,
                median(first[keys[i]]), median(body[keys[i]])
            W[p[1], p[2]] = w; if (p[2] == 1) G[p[1]] = median(gap[keys[i]])
            T[p[2]] = 1
        }
        print ""
        for (th in T) {
            if (W["pgdbm_schema", th] > 0)
                printf "threads %s: sqlx / pgdbm_schema whole run %.1fx; sqlx / pgdbm_database %.1fx\n", th,
                    W["sqlx", th] / W["pgdbm_schema", th], W["sqlx", th] / W["pgdbm_database", th]
        }
        # Within a round the three ran back to back: their ratio is less
        # exposed to the load of a shared machine than the medians above.
        for (th in T) {
            list = ""; lo = ""; hi = ""
            for (r = 1; r <= rounds; r++) {
                s = R["sqlx", th, "r" r]; p0 = R["pgdbm_schema", th, "r" r]
                if (p0 > 0) {
                    x = s / p0; list = list " " x
                    if (lo == "" || x < lo) lo = x
                    if (hi == "" || x > hi) hi = x
                }
            }
            if (list != "")
                printf "threads %s: sqlx / pgdbm_schema whole run per round: median %.1fx, from %.1fx to %.1fx\n",
                    th, median(list), lo, hi
        }
        if (G["pgdbm_schema"] > 0)
            printf "set-up per test (1 thread): sqlx / pgdbm_schema %.1fx; sqlx / pgdbm_database %.1fx\n",
                G["sqlx"] / G["pgdbm_schema"], G["sqlx"] / G["pgdbm_database"]
    }' "$out/runs"
