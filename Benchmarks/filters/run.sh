#!/usr/bin/env bash
# Metadata filter operators on 100,000 memories of one tenant (issue 17): the time of
# GET /v1/memories (per_page=50) and GET /v1/memories/count through one gateway instance, per
# filter shape, median of RUNS requests (curl's time_total, one client, keep-alive off). The
# memories are seeded straight into PostgreSQL (generate_series) under a tenant made through the
# operator API, beside 100,000 of another tenant. Private PostgreSQL 15, fsync on; debug build (the
# time is PostgreSQL's: the statement dominates). Prints Markdown.
# Usage: Benchmarks/filters/run.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
runs=${1:-7}

swift build --product memory-gateway >/dev/null
bin="$(swift build --show-bin-path)/memory-gateway"
bindir=$(mg_pg_bindir)
tmp=$(mktemp -d /tmp/mg-filters.XXXXXX)
pg_port=$(mg_free_port); port=$(mg_free_port)
gw_pid=
cleanup() {
    [ -n "$gw_pid" ] && { kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; }
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"   # psql below connects over TCP
psql() { "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway "$@"; }
token=bench-operator-token-0123456789abcdef
HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$token "$bin" serve >>"$tmp/gw.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
tenant=$(curl -fs -X POST "http://127.0.0.1:$port/v1/admin/tenants" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"filters","plan":"professional"}')
org=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])' <<<"$tenant")
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])' <<<"$tenant")
curl -fs -X PATCH "http://127.0.0.1:$port/v1/admin/tenants/$org" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"limits":{"rate_limit_per_minute":100000}}' >/dev/null
for owner in "$org" org_other; do
    psql -c "INSERT INTO memories (org_id, env, memory_id, text, metadata)
             SELECT '$owner', 'live', 'm' || i, 'memory ' || i,
                    jsonb_build_object('category', 'c' || (i % 1000), 'confidence', (i % 100) / 100.0,
                                       'tags', jsonb_build_array('t' || (i % 7)))
               FROM generate_series(1, 100000) i"
done
psql -c "ANALYZE memories"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() {
    for _ in $(seq 1 "$runs"); do
        curl -gs -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "http://127.0.0.1:$port$1"
    done | awk '{printf "%.1f\n", $1 * 1000}' | median
}
echo "| filter | matches | list (50) ms | count ms |"
echo "|---|---|---|---|"
for filter in "" "metadata.category=c7" "metadata.category[in]=c7,c8" "metadata.confidence[gt]=0.98" \
              "metadata.category=c7&metadata.confidence[gte]=0.5" "metadata.tags[ne]=t3" \
              "metadata.category[exists]=false"; do
    matches=$(curl -gfs -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/memories/count?$filter" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["count"])')
    echo "| \`${filter:-(none)}\` | $matches | $(time_ms "/v1/memories?per_page=50&$filter") | $(time_ms "/v1/memories/count?$filter") |"
done
