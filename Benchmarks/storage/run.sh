#!/usr/bin/env bash
# What the storage accounting costs on POST /v1/memories throughput. One release instance on a
# private PostgreSQL (fsync on), one professional tenant with a limit nothing reaches; rounds of
# wrk alternate between the storage triggers enabled ("on", as shipped) and disabled ("off", the
# writes as before m0005), so a noisy shared machine affects both alike. The gateway's own check
# (an in-memory lookup per write) runs in both. Prints Markdown rows and the on/off ratio per round.
# Usage: Benchmarks/storage/run.sh [seconds per run] [rounds]     (CONNECTIONS=32 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-8}
rounds=${2:-4}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"

tmp=$(mktemp -d /tmp/mg-storagebench.XXXXXX)
pg_port=$(mg_free_port); port=$(mg_free_port)
gw_pid=""
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"   # fsync on, as in production
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"   # psql below connects over TCP
psql() { "$(mg_pg_bindir)/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway "$@"; }
url="http://127.0.0.1:$port"
token=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)

HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$token DB_POOL_SIZE=${DB_POOL_SIZE:-16} \
    "$bin" serve >>"$tmp/gw.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}'
LUA

triggers() { # ENABLE|DISABLE
    psql -c "ALTER TABLE memories $1 TRIGGER memories_storage_added" \
         -c "ALTER TABLE memories $1 TRIGGER memories_storage_removed" \
         -c "ALTER TABLE memories $1 TRIGGER memories_storage_changed"
}
run() { # accounting
    local out rps p50 p99
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$tmp/post.lua" "$url/v1/memories")
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    echo "| $round | $1 | $rps | $p50 | $p99 | ${errors:-0} |" >&2
    echo "$rps"
}

wrk -t2 -c"$connections" -d2s -s "$tmp/post.lua" "$url/v1/memories" >/dev/null  # warm-up
echo "| round | storage accounting | requests/s | p50 | p99 | non-2xx |" >&2
echo "|---|---|---|---|---|---|" >&2
ratios=()
for round in $(seq 1 "$rounds"); do
    # Alternate which goes first, so neither always runs on a warmer (or more bloated) table.
    if [ $((round % 2)) = 1 ]; then order="on off"; else order="off on"; fi
    for mode in $order; do
        if [ "$mode" = on ]; then triggers ENABLE; else triggers DISABLE; fi
        rps=$(run "$mode")
        eval "rps_$mode=$rps"
    done
    ratios+=("$(python3 -c "print(f'{$rps_on / $rps_off:.3f}')")")
done
triggers ENABLE
echo >&2
echo "on/off ratios by round: ${ratios[*]}" >&2
joined=$(IFS=,; echo "${ratios[*]}")
python3 -c "import statistics; r=[$joined]; print(f'median on/off ratio: {statistics.median(r):.3f}')" >&2
