#!/usr/bin/env bash
# Where the gateway spends its CPU on GET /v1/memories/{id}: `perf record` (call graphs) of one
# release binary under wrk, the same set-up as run.sh; prints the top of `perf report` (self time,
# by symbol) and leaves perf.data in OUT (default /tmp/mg-profile) for a closer look.
# Usage: Benchmarks/cpu/profile.sh BINARY [seconds] [out-dir]   (needs perf: Debian linux-perf)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
binary=$1 duration=${2:-10} out=${3:-/tmp/mg-profile}
mkdir -p "$out"
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

start_gateway "$binary"
created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
curl -fs -X POST "$url/v1/memories" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"memory_id":"m1","text":"User prefers Python for data work","metadata":{"topic":"language","n":1}}' >/dev/null

wrk -t1 -c16 -d1s -H "Authorization: Bearer $key" "$url/v1/memories/m1" >/dev/null   # warm-up
wrk -t1 -c16 -d"$((duration + 2))s" -H "Authorization: Bearer $key" "$url/v1/memories/m1" >"$out/wrk.txt" &
wrk_pid=$!
perf record -F 999 -g -p "$gw_pid" -o "$out/perf.data" -- sleep "$duration" 2>"$out/perf-record.log"
wait "$wrk_pid"
grep -E "requests in|Non-2xx" "$out/wrk.txt"
perf report -i "$out/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -60
