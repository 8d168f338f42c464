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
FIRST_BINARY=$binary . Benchmarks/cpu/fixture.sh

wrk -t1 -c16 -d1s -H "Authorization: Bearer $key" "$url/v1/memories/m1" >/dev/null   # warm-up
wrk -t1 -c16 -d"$((duration + 2))s" -H "Authorization: Bearer $key" "$url/v1/memories/m1" >"$out/wrk.txt" &
wrk_pid=$!
perf record -F 999 -g -p "$gw_pid" -o "$out/perf.data" -- sleep "$duration" 2>"$out/perf-record.log"
wait "$wrk_pid"
grep -E "requests in|Non-2xx" "$out/wrk.txt"
perf report -i "$out/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -60
