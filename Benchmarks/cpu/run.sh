#!/usr/bin/env bash
# CPU per request of GET /v1/memories/{id}, two gateway binaries compared in the same run.
# The gateway's own CPU time (utime + stime from /proc/<pid>/stat) over a fixed-length wrk run,
# divided by the requests wrk completed; the binaries alternate for ROUNDS rounds on the same
# private PostgreSQL, so machine noise falls on both. Prints one Markdown row per round and run.
# Usage: Benchmarks/cpu/run.sh BEFORE_BINARY AFTER_BINARY [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
before=$1 after=$2 duration=${3:-5} rounds=${4:-4}
tmp=$(mktemp -d /tmp/mg-cpubench.XXXXXX)
pg_port=$(mg_free_port); port=$(mg_free_port)
gw_pid=""
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
url="http://127.0.0.1:$port"
token=cpu-bench-operator-token-0123456789abcdef

start_gateway() { # binary
    [ -n "$gw_pid" ] && { kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; }
    HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$token GATEWAY_THREADS=1 \
        DB_POOL_SIZE=8 "$1" serve >>"$tmp/gw.log" 2>&1 &
    gw_pid=$!
    for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "gateway did not start:" >&2; tail -20 "$tmp/gw.log" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gw_pid/stat"; }

start_gateway "$before"
created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
curl -fs -X POST "$url/v1/memories" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"memory_id":"m1","text":"User prefers Python for data work","metadata":{"topic":"language","n":1}}' >/dev/null

hz=$(getconf CLK_TCK)
echo "| round | binary | requests | CPU ms | CPU µs/request |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
    for which in before after; do
        bin=$before; [ $which = after ] && bin=$after
        start_gateway "$bin"
        wrk -t1 -c16 -d1s -H "Authorization: Bearer $key" "$url/v1/memories/m1" >/dev/null   # warm-up
        t0=$(cpu_ticks)
        out=$(wrk -t1 -c16 -d"${duration}s" -H "Authorization: Bearer $key" "$url/v1/memories/m1")
        t1=$(cpu_ticks)
        requests=$(echo "$out" | awk '/requests in/ {print $1}')
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
        [ -z "$non2xx" ] || { echo "non-2xx responses: $non2xx" >&2; exit 1; }
        python3 -c "import sys; t=$t1-$t0; r=$requests; print(f'| $round | $which | {r} | {t*1000/$hz:.0f} | {t*1e6/$hz/r:.1f} |')"
    done
done
