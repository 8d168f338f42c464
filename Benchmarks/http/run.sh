#!/usr/bin/env bash
# HTTP server benchmark: wrk against GET /healthz with keep-alive, our server and nginx (returning
# the same small body) in the same run, each pinned to the same core with one worker; wrk on the
# other core. Prints one Markdown table row per server. Usage: Benchmarks/http/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-10}
connections=${CONNECTIONS:-64}

command -v wrk >/dev/null && command -v nginx >/dev/null || {
    [ "$(id -u)" = 0 ] || { echo "install wrk and nginx-light" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
}
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"

tmp=$(mktemp -d /tmp/mg-bench.XXXXXX)
pg_port=$(mg_free_port); gw_port=$(mg_free_port); nginx_port=$(mg_free_port)
cleanup() {
    [ -n "${gw_pid:-}" ] && kill "$gw_pid" 2>/dev/null || true
    [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
MG_PG_FSYNC=off mg_pg_start "$tmp" "$pg_port"

body='{"success":true,"data":{"status":"ok"},"meta":{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaa","processing_time_ms":0}}'
cat > "$tmp/nginx.conf" <<NGINX
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port reuseport;
        location = /healthz {
            default_type application/json;
            add_header X-Request-ID req_aaaaaaaaaaaaaaaaaaaaaaaa;
            return 200 '$body';
        }
    }
}
NGINX

DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")" HOST=127.0.0.1 PORT=$gw_port \
    GATEWAY_THREADS=1 ACCESS_LOG=false taskset -c 0 "$bin" serve >"$tmp/gw.log" 2>&1 &
gw_pid=$!
taskset -c 0 nginx -c "$tmp/nginx.conf"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$gw_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

measure() { # name port pid
    local name=$1 port=$2 pid=$3 out rss
    taskset -c 1 wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$port/healthz" >/dev/null  # warm-up
    out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port/healthz")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "| $name | $rps | $p50 | $p99 | $((rss / 1024)) MiB |"
}
echo "| server | requests/s | p50 | p99 | RSS |"
echo "|---|---|---|---|---|"
measure "memory-gateway (1 loop)" "$gw_port" "$gw_pid"
nginx_worker=$(pgrep -P "$(cat "$tmp/nginx.pid")" | head -1)
measure "nginx (1 worker)" "$nginx_port" "$nginx_worker"
