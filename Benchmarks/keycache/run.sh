#!/usr/bin/env bash
# Key cache and leased rate-limit tokens (issue 15), side by side in one run: one release
# instance on a private PostgreSQL, limiter on, with GATEWAY_KEY_CACHE=off (every request decided
# in PostgreSQL, as before) and on, alternated ROUNDS times. GET one memory and create, wrk with
# CONNECTIONS (32) connections for SECONDS each. Also prints admission statements per request
# (gateway_admission_queries_total over the requests wrk made). Prints Markdown table rows.
# Usage: Benchmarks/keycache/run.sh [seconds]     (ROUNDS=2, CONNECTIONS=32)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-10}
connections=${CONNECTIONS:-32}
rounds=${ROUNDS:-2}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"

tmp=$(mktemp -d /tmp/mg-keybench.XXXXXX)
operator_token="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
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
url="http://127.0.0.1:$port"

start_gateway() { # key cache on|off
    [ -n "$gw_pid" ] && { kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; }
    HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$operator_token GATEWAY_KEY_CACHE=$1 \
        DB_POOL_SIZE=${DB_POOL_SIZE:-16} "$bin" serve >>"$tmp/gw.log" 2>&1 &
    gw_pid=$!
    for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "gateway did not start" >&2; exit 1
}

start_gateway on
created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $operator_token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
# 1,000,000 per minute: every request admitted (leases of up to 4,166 tokens, at most a quarter second).
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $operator_token" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
python3 - "$url" "$key" <<'PY'
import json, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
words = "python rust swift postgres coffee tea hiking music travel books chess cooking".split()
for b in range(10):
    items = [{"memory_id": f"m{b*1000+i}", "text": f"User likes {words[i % 12]} and {words[(i*7+b) % 12]} (note {b*1000+i})",
              "metadata": {"n": i}} for i in range(1000)]
    req = urllib.request.Request(url + "/v1/memories/batch", data=json.dumps({"memories": items}).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
"$(mg_pg_bindir)/psql" -q "$DATABASE_URL" -c "VACUUM ANALYZE" -c "CHECKPOINT"
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}'
LUA

admission_queries() {
    curl -fs "$url/metrics" | awk '$1 == "gateway_admission_queries_total" {print $2}'
}

run() { # label cache args...
    local label=$1 cache=$2; shift 2
    local out rps p50 p99 requests before after
    before=$(admission_queries)
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")
    after=$(admission_queries)
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    per=$(python3 -c "print(f'{($after - $before) / max(1, $requests):.3f}')")
    echo "| $label | $cache | $rps | $p50 | $p99 | $per | ${errors:-0} |"
}

echo "| route | key cache + leases | requests/s | p50 | p99 | admission statements/request | non-2xx |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
    for cache in off on; do
        start_gateway $cache
        wrk -t2 -c"$connections" -d2s -H "Authorization: Bearer $key" "$url/v1/memories/m1" >/dev/null  # warm-up
        run "GET /v1/memories/{id}" $cache -H "Authorization: Bearer $key" "$url/v1/memories/m4242"
        run "POST /v1/memories" $cache -s "$tmp/post.lua" "$url/v1/memories"
    done
done
