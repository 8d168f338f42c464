# Shared by run.sh and profile.sh (source it after `. scripts/postgres.sh`, with FIRST_BINARY set):
# a private PostgreSQL, `start_gateway BINARY` (one event loop, access log off), `cpu_ticks`, and one
# tenant with a limit never reached and one memory `m1`, whose key is in $key. Stops all on exit.
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

start_gateway "$FIRST_BINARY"
created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","plan":"professional"}')
key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"limits":{"rate_limit_per_minute":1000000}}' >/dev/null
curl -fs -X POST "$url/v1/memories" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"memory_id":"m1","text":"User prefers Python for data work","metadata":{"topic":"language","n":1}}' >/dev/null

