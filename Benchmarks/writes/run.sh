#!/usr/bin/env bash
# Group commit benchmark (issue 15): POST /v1/memories at 32 connections on a private PostgreSQL 15
# with fsync on, three ways in one run, interleaved round by round so the machine's load drifts
# over all of them alike:
#   today         GROUP_COMMIT=off: each create is its own autocommit INSERT and its own WAL flush
#   commit_delay  GROUP_COMMIT=off, PostgreSQL's own group commit: commit_delay / commit_siblings
#   group         GROUP_COMMIT=on: concurrent creates share one transaction (a savepoint each)
# Reports requests/s, p50, p99, WAL syncs (pg_stat_wal.wal_sync) and transactions committed
# (pg_stat_database.xact_commit, read-only ones included) per create. Prints a Markdown table.
# Usage: Benchmarks/writes/run.sh [seconds per run] [rounds]
#   CONNECTIONS (default 32), DB_POOL_SIZE (16), COMMIT_DELAY µs (1000), COMMIT_SIBLINGS (5)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-10}
rounds=${2:-2}
connections=${CONNECTIONS:-32}
pool=${DB_POOL_SIZE:-16}
commit_delay=${COMMIT_DELAY:-1000}
commit_siblings=${COMMIT_SIBLINGS:-5}

command -v wrk >/dev/null || {
    [ "$(id -u)" = 0 ] || { echo "install wrk" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"
bindir=$(mg_pg_bindir)

tmp=$(mktemp -d /tmp/mg-writes.XXXXXX)
operator_token="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pg_port=$(mg_free_port)
gw_pid=""
stop_gateway() {
    if [ -n "$gw_pid" ]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
    gw_pid=""
}
cleanup() { stop_gateway; mg_pg_stop "$tmp"; rm -rf "$tmp"; }
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"   # fsync on, as in production
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"
psql() { "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway "$@"; }
[ "$(psql -c 'SHOW fsync')" = on ] || { echo "fsync is not on" >&2; exit 1; }

gw_port=$(mg_free_port)
start_gateway() { # GROUP_COMMIT value
    HOST=127.0.0.1 PORT=$gw_port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$operator_token DB_POOL_SIZE=$pool \
        GROUP_COMMIT=$1 "$bin" serve >>"$tmp/gw.log" 2>&1 &
    gw_pid=$!
    for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$gw_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$gw_port/healthz" >/dev/null || { echo "gateway did not start" >&2; cat "$tmp/gw.log" >&2; exit 1; }
}
start_gateway on   # migrates the schema

# 10 tenants (professional plan, rate limit 1,000,000/min so the limiter never refuses).
keys=()
for t in $(seq 0 9); do
    created=$(curl -fs -X POST "http://127.0.0.1:$gw_port/v1/admin/tenants" -H "Authorization: Bearer $operator_token" \
        -H 'Content-Type: application/json' -d "{\"name\":\"writes-$t\",\"plan\":\"professional\"}")
    org=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
    keys+=("$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')")
    curl -fs -X PATCH "http://127.0.0.1:$gw_port/v1/admin/tenants/$org" -H "Authorization: Bearer $operator_token" \
        -H 'Content-Type: application/json' -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
done
{
    printf 'local keys = {'; for k in "${keys[@]}"; do printf '"%s",' "$k"; done; printf '}\n'
    cat <<'LUA'
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() * 1000 + seed) end
request = function()
  return wrk.format("POST", "/v1/memories",
    {["Authorization"] = "Bearer " .. keys[math.random(#keys)], ["Content-Type"] = "application/json"},
    '{"text":"benchmark memory ' .. math.random(1, 1000000000) .. ' about tea and trains","metadata":{"n":' ..
      math.random(1, 1000) .. '}}')
end
LUA
} > "$tmp/create.lua"

counters() { psql -F ' ' -c "SELECT w.wal_sync, d.xact_commit FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = 'memory_gateway'"; }

results="$tmp/results.md"
echo "| path | round | creates/s | p50 | p99 | non-2xx | WAL syncs / create | transactions / create |" > "$results"
echo "|---|---|---|---|---|---|---|---|" >> "$results"
run() { # label round
    local label=$1 round=$2
    # Warm up: the pool's connections, prepared statements.
    wrk -t2 -c"$connections" -d2s -s "$tmp/create.lua" "http://127.0.0.1:$gw_port" >/dev/null
    sleep 1   # pg_stat counters are flushed at most once a second
    local c0; c0=$(counters)
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$tmp/create.lua" "http://127.0.0.1:$gw_port" > "$tmp/wrk.out"
    sleep 1.5
    local c1; c1=$(counters)
    local out; out=$(cat "$tmp/wrk.out")
    local total rps p50 p99 errors
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    # Counters cover the warm-up's tail too (flushed late): per create of the measured run, slightly high.
    set -- $c0 $c1
    awk -v l="$label" -v r="$round" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v e="${errors:-0}" -v n="$total" \
        -v s=$(($3 - $1)) -v x=$(($4 - $2)) \
        'BEGIN { printf "| %s | %d | %s | %s | %s | %s | %.3f | %.3f |\n", l, r, rps, p50, p99, e, s / n, x / n }' >> "$results"
    tail -1 "$results" >&2
}
set_delay() { # µs siblings
    psql -c "ALTER SYSTEM SET commit_delay = $1" -c "ALTER SYSTEM SET commit_siblings = $2" -c "SELECT pg_reload_conf()" >/dev/null
}

for round in $(seq 1 "$rounds"); do
    stop_gateway; set_delay 0 5; start_gateway off; run today "$round"
    set_delay "$commit_delay" "$commit_siblings"; run "commit_delay=${commit_delay}µs siblings=$commit_siblings" "$round"
    stop_gateway; set_delay 0 5; start_gateway on; run group "$round"
done
echo
echo "Writes benchmark, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'), ${duration}s per run, $connections connections, pool $pool, fsync on"
echo
cat "$results"
