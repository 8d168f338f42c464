#!/usr/bin/env bash
# What an MCP tool call costs against its REST twin, in the same run: wrk against one release
# instance on a private PostgreSQL (fsync on), GET /v1/memories/{id} vs tools/call memory_get, and
# POST /v1/memories vs tools/call memory_store, alternating twice so drift on the shared machine
# shows. Prints Markdown table rows. Usage: Benchmarks/mcp/run.sh [seconds]   (CONNECTIONS=32)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-8}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"

tmp=$(mktemp -d /tmp/mg-mcpbench.XXXXXX)
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
export PGPASSWORD="$(cat "$tmp/password")"   # psql below connects over TCP
url="http://127.0.0.1:$port"
operator="bench-operator-token-0123456789abcdef"
HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$operator DB_POOL_SIZE=${DB_POOL_SIZE:-16} \
    "$bin" serve >>"$tmp/gw.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
curl -fs -X POST "$url/v1/memories" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"memory_id":"m1","text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}' >/dev/null

cat > "$tmp/mcp-get.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_get","arguments":{"id":"m1"}}}'
LUA
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}'
LUA
cat > "$tmp/mcp-store.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_store","arguments":{"text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}}}'
LUA
# A tool result is HTTP 200 whatever it says: check one of each shape is a success first.
for script in mcp-get mcp-store; do
    body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$tmp/$script.lua")
    curl -fs "$url/mcp" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -H 'MCP-Protocol-Version: 2025-06-18' -d "$body" | grep -q '"isError":false' \
        || { echo "$script does not succeed" >&2; exit 1; }
done

run() { # label args...
    local label=$1; shift
    local out rps p50 p99 errors
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    echo "| $label | $rps | $p50 | $p99 | ${errors:-0} |"
}

echo "| request | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
wrk -t2 -c"$connections" -d2s -H "Authorization: Bearer $key" "$url/v1/memories/m1" >/dev/null  # warm-up
for round in 1 2; do
    run "GET /v1/memories/{id}" -H "Authorization: Bearer $key" "$url/v1/memories/m1"
    run "MCP memory_get" -s "$tmp/mcp-get.lua" "$url/mcp"
done
for round in 1 2; do
    run "POST /v1/memories" -s "$tmp/post.lua" "$url/v1/memories"
    run "MCP memory_store" -s "$tmp/mcp-store.lua" "$url/mcp"
done
