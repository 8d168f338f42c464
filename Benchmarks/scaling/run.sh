#!/usr/bin/env bash
# Query latency as one tenant grows (issue 15): one tenant is grown through the batch API (1,000
# items per batch, CLIENTS concurrent clients) to each size given, and at each size POST /v1/query
# (2-3 word context from the seeded benchmark's vocabulary, max_memories 20) is timed at
# relevance_threshold 0.5 and 0 over one connection. With a baseline the two release builds run
# side by side on the same database, queries interleaved, and their answers are compared.
# Private PostgreSQL 15, fsync on. Prints Markdown rows.
#
# Usage: Benchmarks/scaling/run.sh [SIZE...]            (default 10000 100000 1000000)
#   MG_BASELINE_COMMIT=<rev>  build that commit (git archive into /tmp) as the baseline, or
#   MG_BASELINE_BIN=<path>    use that memory-gateway binary as the baseline
#   QUERIES (default 200) contexts per threshold; CLIENTS (default 4) loading clients
#   MG_SCALING_DATA (default /tmp/mg-scaling-data): the database, kept between runs so a second
#     run reuses what was loaded (delete it to start over); never inside the repository
set -euo pipefail
cd "$(dirname "$0")/../.."
here=Benchmarks/scaling
. scripts/postgres.sh
mg_swift_path
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
queries=${QUERIES:-200}
clients=${CLIENTS:-4}
data=${MG_SCALING_DATA:-/tmp/mg-scaling-data}

swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"
base_bin=${MG_BASELINE_BIN:-}
if [ -z "$base_bin" ] && [ -n "${MG_BASELINE_COMMIT:-}" ]; then
    rev=$(git rev-parse --short "$MG_BASELINE_COMMIT")
    src=/tmp/mg-scaling-base-$rev
    if [ ! -x "$src/.build/release/memory-gateway" ]; then
        rm -rf "$src"; mkdir -p "$src"
        git archive "$rev" | tar -x -C "$src"
        (cd "$src" && swift build -c release --product memory-gateway >/dev/null)
    fi
    base_bin=$src/.build/release/memory-gateway
fi

mkdir -p "$data"
# The baseline may take longer than the default 15 s statement timeout at 1M memories: time it.
export DB_STATEMENT_TIMEOUT_MS=${DB_STATEMENT_TIMEOUT_MS:-300000}
operator_token="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pg_port=$(mg_free_port)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    mg_pg_stop "$data"
}
trap cleanup EXIT
mg_pg_start "$data" "$pg_port"
export DATABASE_URL="$(mg_pg_url "$data" "$pg_port")"

start_gateway() {  # start_gateway BINARY LOG: sets gw_port (not in a subshell, so cleanup knows the pid)
    gw_port=$(mg_free_port)
    HOST=127.0.0.1 PORT=$gw_port ACCESS_LOG=false GATEWAY_RATE_LIMITS=off GATEWAY_OPERATOR_TOKEN=$operator_token \
        "$1" serve >>"$2" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$gw_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$gw_port/readyz" >/dev/null || { echo "gateway $1 did not start" >&2; tail "$2" >&2; exit 1; }
}
# The baseline starts first, so the current build's migrations (if any) run after it migrated.
gateways=()
if [ -n "$base_bin" ]; then
    start_gateway "$base_bin" "$data/baseline.log"
    gateways+=("baseline=http://127.0.0.1:$gw_port")
fi
start_gateway "$bin" "$data/current.log"
port=$gw_port
gateways+=("current=http://127.0.0.1:$port")
url="http://127.0.0.1:$port"
[ -s "$data/state.json" ] || python3 $here/scaling.py setup "$url" "$operator_token" "$data/state.json"

echo "| memories | gateway | threshold 0.5: p50 · p95 · p99 | threshold 0: p50 · p99 |"
echo "|---|---|---|---|"
for size in "${sizes[@]}"; do
    python3 $here/scaling.py grow "$url" "$data/state.json" "$size" "$clients"
    # the planner's statistics as autovacuum would have them after such growth
    mg_as_pg_user "$(mg_pg_bindir)/psql" -h "$data" -p "$pg_port" -U postgres -d memory_gateway -Xqc "VACUUM ANALYZE memories" >/dev/null
    python3 $here/scaling.py measure "$data/state.json" "$queries" "${gateways[@]}"
done
