#!/usr/bin/env bash
# Webhook benchmark on one release instance and its private PostgreSQL (fsync on), same machine:
#  1. delivery latency: N memories created one after another by a tenant subscribed to
#     memory.created; for each, the time from its created_at (set inside the inserting
#     transaction, just before commit) to its arrival at a receiver on loopback; p50/p99.
#  2. what the outbox costs POST /v1/memories: wrk on a tenant without webhooks, then on one with
#     a "*" subscription whose receiver answers 204 (deliveries run meanwhile, on the same cores).
# Prints Markdown. Usage: Benchmarks/webhooks/run.sh [seconds] [latency samples]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/postgres.sh
duration=${1:-10}
samples=${2:-300}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# MG_SCRATCH_PATH: a separate build directory, so the release build does not wait for another
# swift build on .build.
scratch=(${MG_SCRATCH_PATH:+--scratch-path "$MG_SCRATCH_PATH"})
swift build -c release "${scratch[@]}" --product memory-gateway >/dev/null
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)/memory-gateway"

tmp=$(mktemp -d /tmp/mg-whbench.XXXXXX)
pg_port=$(mg_free_port); port=$(mg_free_port)
gw_pid=""; rx_pid=""
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
    [ -n "$rx_pid" ] && kill "$rx_pid" 2>/dev/null || true
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"   # fsync on, as in production
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"   # psql below connects over TCP
url="http://127.0.0.1:$port"
HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=bench-operator-token-0123456789abcdef \
    WEBHOOK_ALLOW_PRIVATE=true "$bin" serve >>"$tmp/gw.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# The receiver: records (arrival time, body) per delivery; answers 204.
rx_port=$(mg_free_port)
python3 - "$rx_port" "$tmp/received.jsonl" <<'PY' &
import http.server, json, sys, threading, time
out = open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
class R(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.time()
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
        with lock:
            out.write(json.dumps({"at": now, "body": body.decode()}) + "\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), R).serve_forever()
PY
rx_pid=$!
sleep 0.5

tenant() { # name → "key org"
    local created key org
    created=$(curl -fs -X POST "$url/v1/admin/tenants" -H "Authorization: Bearer bench-operator-token-0123456789abcdef" \
        -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"plan\":\"professional\"}")
    key=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"]["key"])')
    org=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tenant"]["id"])')
    curl -fs -X PATCH "$url/v1/admin/tenants/$org" -H "Authorization: Bearer bench-operator-token-0123456789abcdef" \
        -H 'Content-Type: application/json' -d '{"limits":{"rate_limit_per_minute":1000000,"monthly_request_quota":1000000000}}' >/dev/null \
        || { echo "the limits override was refused" >&2; exit 1; }
    echo "$key"
}
subscribe() { # key events-json
    curl -fs -X POST "$url/v1/webhooks" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"url\":\"http://127.0.0.1:$rx_port/hook\",\"events\":$2}" >/dev/null
}

# 1. Latency.
latency_key=$(tenant latency)
subscribe "$latency_key" '["memory.created"]'
python3 - "$url" "$latency_key" "$samples" "$tmp/received.jsonl" <<'PY'
import json, sys, time, urllib.request, datetime
url, key, n, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
created = {}
for i in range(n):
    req = urllib.request.Request(url + "/v1/memories", data=json.dumps({"text": f"latency sample {i}"}).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    data = json.load(urllib.request.urlopen(req))["data"]
    created[data["id"]] = datetime.datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")).timestamp()
    time.sleep(0.01)
deadline = time.time() + 60
arrived = {}
while time.time() < deadline and len(arrived) < n:
    for line in open(path):
        event = json.loads(line)
        body = json.loads(event["body"])
        if body["type"] == "memory.created" and body["data"]["id"] in created:
            arrived[body["data"]["id"]] = event["at"]
    time.sleep(0.2)
lat = sorted((arrived[i] - created[i]) * 1000 for i in arrived)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"| delivery latency, created_at → receiver ({len(lat)}/{n} delivered, 10 ms apart) | p50 {p(0.5):.1f} ms | p99 {p(0.99):.1f} ms | max {lat[-1]:.1f} ms |")
PY

# 2. Throughput with and without a subscription, same run.
cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"The user prefers dark roast coffee in the morning","metadata":{"topic":"coffee"}}'
LUA
run() { # label key
    local out rps p50 p99 errors
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $2" -s "$tmp/post.lua" "$url/v1/memories")
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    echo "| POST /v1/memories, $1 | $rps | $p50 | $p99 | ${errors:-0} |"
}
plain_key=$(tenant plain)
hooked_key=$(tenant hooked)
subscribe "$hooked_key" '["*"]'
wrk -t2 -c"$connections" -d2s -H "Authorization: Bearer $plain_key" -s "$tmp/post.lua" "$url/v1/memories" >/dev/null  # warm-up
echo
echo "| run | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
run "no webhook" "$plain_key"
run "one \"*\" webhook" "$hooked_key"
run "no webhook (again)" "$plain_key"
backlog=$("$(mg_pg_bindir)/psql" -qtA -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway \
    -c "SELECT count(*) FILTER (WHERE status = 'delivered') || ' delivered, ' || count(*) FILTER (WHERE status IN ('pending','retrying')) || ' still queued' FROM webhook_deliveries")
echo
echo "deliveries at the end of the runs: $backlog"
