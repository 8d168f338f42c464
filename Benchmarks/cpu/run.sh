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
FIRST_BINARY=$before . Benchmarks/cpu/fixture.sh

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
