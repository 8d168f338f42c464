#!/usr/bin/env bash
# Seeded whole-gateway benchmark (issues 6 and 9): 100,000 memories over 10 tenants, seeded through
# the gateway's own API; wrk against GET one memory, POST /v1/query and POST /v1/memories on one
# gateway instance and on three instances behind nginx; pgbench running the same SQL the gateway
# sends per request (the ceiling PostgreSQL allows here), all in one run on a private PostgreSQL
# 15 with fsync on. Prints Markdown tables. Usage: Benchmarks/seeded/run.sh [seconds]
#   CONNECTIONS (default 32): wrk connections = pgbench clients.   DB_POOL_SIZE (default 16) per instance.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=Benchmarks/seeded
. scripts/postgres.sh
duration=${1:-10}
connections=${CONNECTIONS:-32}
pool=${DB_POOL_SIZE:-16}

command -v wrk >/dev/null && command -v nginx >/dev/null || {
    [ "$(id -u)" = 0 ] || { echo "install wrk and nginx-light" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
}
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"
bindir=$(mg_pg_bindir)
pgbench=$bindir/pgbench; [ -x "$pgbench" ] || pgbench=pgbench

tmp=$(mktemp -d /tmp/mg-seeded.XXXXXX)
# serve refuses operator tokens shorter than 32 characters
operator_token="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pg_port=$(mg_free_port); nginx_port=$(mg_free_port)
gw_pids=()
cleanup() {
    for p in "${gw_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${gw_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"   # fsync on, as in production
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"   # psql and pgbench below connect over TCP
psql() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway "$@"; }
postmaster=$(head -1 "$tmp/pgdata/postmaster.pid")

# Four instances: one measured alone, three behind nginx. The first one migrates the schema.
ports=()
for i in 0 1 2 3; do
    port=$(mg_free_port); ports+=("$port")
    HOST=127.0.0.1 PORT=$port ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$operator_token DB_POOL_SIZE=$pool \
        "$bin" serve >>"$tmp/gw$i.log" 2>&1 &
    gw_pids+=("$!")
    for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "gateway $i did not start" >&2; cat "$tmp/gw$i.log" >&2; exit 1; }
done
cat > "$tmp/nginx.conf" <<NGINX
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    upstream gateways {
        server 127.0.0.1:${ports[1]};
        server 127.0.0.1:${ports[2]};
        server 127.0.0.1:${ports[3]};
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_buffering off;
        }
    }
}
NGINX
nginx -c "$tmp/nginx.conf"
single="http://127.0.0.1:${ports[0]}"
behind="http://127.0.0.1:$nginx_port"

# Seed through the API (operator tenant creation, limit override, batch import of 1,000).
python3 "$here/seed.py" "$single" "$operator_token" "$tmp" >&2
psql -c "VACUUM ANALYZE" -c "CHECKPOINT"

# The FastAPI + asyncpg peer (Benchmarks/peers/fastapi): uvicorn, 2 workers, uvloop, 4 round trips
# per request on prepared statements, over the same tables. PEERS=none skips it; a venv that
# cannot be installed (PyPI unreachable) skips it with a message.
peer_url="" peer_pids=()
if [ "${PEERS:-fastapi}" != none ]; then
    venv=.build/venv-peers
    if [ -x "$venv/bin/uvicorn" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r Benchmarks/peers/fastapi/requirements.txt; } >&2; then
        psql -f Benchmarks/peers/fastapi/schema.sql
        peer_port=$(mg_free_port)
        (cd Benchmarks/peers/fastapi && exec "../../../$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$peer_port" \
            --workers 2 --loop uvloop --http httptools --no-access-log --log-level warning) >>"$tmp/peer.log" 2>&1 &
        peer_master=$!; gw_pids+=("$peer_master")
        for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$peer_port/v1/memories/m0" && break; sleep 0.1; done
        peer_url="http://127.0.0.1:$peer_port"
        peer_pids=("$peer_master" $(pgrep -P "$peer_master" || true))
    else
        echo "FastAPI peer NOT RUN: its packages could not be installed" >&2
    fi
fi

# pgbench's inputs: the same contexts and sentences as wrk's.
psql <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.contexts (i int PRIMARY KEY, ctx text NOT NULL);
CREATE TABLE bench.sentences (i int PRIMARY KEY, text text NOT NULL, metadata text NOT NULL);
\copy bench.contexts FROM '$tmp/contexts.tsv'
\copy bench.sentences FROM '$tmp/sentences.tsv'
ANALYZE bench.contexts; ANALYZE bench.sentences;
SQL

# ---- wrk scripts: a random tenant key per request, a random existing id / context / sentence.
for kind in get query create; do
    {
        cat "$tmp/data.lua"
        cat <<'LUA'
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() * 1000 + seed) end
LUA
        case $kind in
        get) cat <<'LUA' ;;
request = function()
  return wrk.format("GET", "/v1/memories/m" .. math.random(0, 9999),
    {["Authorization"] = "Bearer " .. keys[math.random(#keys)]})
end
LUA
        query) cat <<'LUA' ;;
request = function()
  return wrk.format("POST", "/v1/query",
    {["Authorization"] = "Bearer " .. keys[math.random(#keys)], ["Content-Type"] = "application/json"},
    contexts[math.random(#contexts)])
end
LUA
        create) cat <<'LUA' ;;
request = function()
  return wrk.format("POST", "/v1/memories",
    {["Authorization"] = "Bearer " .. keys[math.random(#keys)], ["Content-Type"] = "application/json"},
    creates[math.random(#creates)])
end
LUA
        esac
    } > "$tmp/$kind.lua"
done

# ---- pgbench scripts: the statements the gateway sends (captured with log_min_duration_statement=0),
# one script per tenant (its key hash as a literal; pgbench picks a script at random per transaction).
# The admission statement also returns the request's inputs (context, sentence, a new id) with
# \gset, so pgbench makes exactly the gateway's round trips.
query_sql=$(sed -n '/^-- QUERY$/,/^-- END$/p' "$here/statements.sql" | sed '1d;$d')
insert_sql=$(sed -n '/^-- INSERT$/,/^-- END$/p' "$here/statements.sql" | sed '1d;$d')
get_sql=$(sed -n '/^-- GET$/,/^-- END$/p' "$here/statements.sql" | sed '1d;$d')
admit="SELECT outcome, org_id, key_id, key_prefix, environment, scopes, rate_limit, remaining, reset_seconds, retry_after, plan, monthly_quota, max_memories, hard_quota"
pgb_get=() pgb_query=() pgb_querymin=() pgb_create=()
while IFS=$'\t' read -r t key org; do
    hash="\\x$(printf '%s' "$key" | sha256sum | cut -c1-64)"
    printf '\\set n random(0, 9999)\n%s\n' "$(printf '%s' "$get_sql" | sed "s/HASH/\\$hash/")" > "$tmp/get$t.sql"
    {
        printf '\\set c random(0, 999)\n\\set boost 0\n\\set thr 0.5\n\\set maxm 20\n'
        printf "%s, (SELECT ctx FROM bench.contexts WHERE i = :c) AS ctx FROM gw_admit('%s', '127.0.0.1'::inet, true, true) \\\\gset a_\n" "$admit" "$hash"
        printf 'BEGIN ISOLATION LEVEL READ COMMITTED;\nSET LOCAL statement_timeout = 5000;\n%s;\nCOMMIT;\n' "$query_sql"
    } > "$tmp/query$t.sql"
    {   # the same query without the transaction around it (2 round trips instead of 5)
        printf '\\set c random(0, 999)\n\\set boost 0\n\\set thr 0.5\n\\set maxm 20\n'
        printf "%s, (SELECT ctx FROM bench.contexts WHERE i = :c) AS ctx FROM gw_admit('%s', '127.0.0.1'::inet, true, true) \\\\gset a_\n" "$admit" "$hash"
        printf '%s;\n' "$query_sql"
    } > "$tmp/querymin$t.sql"
    {
        printf '\\set s random(0, 999)\n'
        printf "%s, (SELECT text FROM bench.sentences WHERE i = :s) AS text, (SELECT metadata FROM bench.sentences WHERE i = :s) AS metadata, 'mem_' || substr(md5(random()::text), 1, 20) AS mid, 'req_' || substr(md5(random()::text), 1, 24) AS rid FROM gw_admit('%s', '127.0.0.1'::inet, true, true) \\\\gset a_\n" "$admit" "$hash"
        printf '%s;\n' "$insert_sql"
    } > "$tmp/create$t.sql"
    pgb_get+=(-f "$tmp/get$t.sql"); pgb_query+=(-f "$tmp/query$t.sql")
    pgb_querymin+=(-f "$tmp/querymin$t.sql"); pgb_create+=(-f "$tmp/create$t.sql")
done < "$tmp/keys.tsv"

# ---- measurement helpers
ticks=$(getconf CLK_TCK)
cpu_snapshot() { # pids... → "pid ticks" lines (utime+stime)
    local p f
    for p in "$@"; do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        echo "$p $((${f% *} + ${f#* }))"
    done
}
# Ticks used between two snapshots by the processes alive at the second one (a process that
# exited in between, e.g. a pool connection closed when idle, must not subtract its lifetime).
cpu_delta() { # file0 file1
    awk 'NR == FNR {t0[$1] = $2; next} {d += $2 - ($1 in t0 ? t0[$1] : 0)} END {print d + 0}' "$1" "$2"
}
pg_pids() { echo "$postmaster" $(pgrep -P "$postmaster" || true); }
nginx_pids() { local m; m=$(cat "$tmp/nginx.pid"); echo "$m" $(pgrep -P "$m" || true); }
machine_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
rss_mib() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $((s / 1024)); }

# Samples CPU between 1 s after start and 1 s before the end of a load of $duration seconds
# running in the background (pid $1), per group: gateway pids in $gws.
sample_cpu() { # loadpid gateway-pids...
    local load=$1; shift
    local gws=("$@") w=$((duration - 2))
    sleep 1
    local m0 m1 f=$tmp/cpu
    cpu_snapshot "${gws[@]}" > "$f.g0"; cpu_snapshot $(pg_pids) > "$f.p0"; cpu_snapshot $(nginx_pids) > "$f.n0"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l0"; m0=$(machine_busy)
    sleep "$w"
    cpu_snapshot "${gws[@]}" > "$f.g1"; cpu_snapshot $(pg_pids) > "$f.p1"; cpu_snapshot $(nginx_pids) > "$f.n1"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l1"; m1=$(machine_busy)
    local g p n l
    g=$(cpu_delta "$f.g0" "$f.g1"); n=$(cpu_delta "$f.n0" "$f.n1"); l=$(cpu_delta "$f.l0" "$f.l1")
    p=$(cpu_delta "$f.p0" "$f.p1")
    local mb0=${m0% *} mt0=${m0#* } mb1=${m1% *} mt1=${m1#* }
    # cores used by: gateway(s), postgres, nginx, load generator, whole machine (of 2)
    awk -v t="$ticks" -v w="$w" -v g="$g" -v p="$p" -v n="$n" -v l="$l" \
        -v mb=$((mb1 - mb0)) -v mt=$((mt1 - mt0)) -v cores="$(nproc)" \
        'BEGIN { printf "%.2f %.2f %.2f %.2f %.2f", g/t/w, p/t/w, n/t/w, l/t/w, mb/mt*cores }'
}

results="$tmp/results.md"
cpus="$tmp/cpu.md"
echo "| workload | target | requests/s | p50 | p99 | non-2xx/failed | gateway RSS |" > "$results"
echo "|---|---|---|---|---|---|---|" >> "$results"
echo "| workload | target | gateway cores | postgres cores | nginx cores | load-generator cores | machine busy (of $(nproc)) | gateway µs CPU/req | postgres µs CPU/req |" > "$cpus"
echo "|---|---|---|---|---|---|---|---|---|" >> "$cpus"

wrk_run() { # workload target url script gateway-pids...
    local workload=$1 target=$2 url=$3 script=$4; shift 4
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$script" "$url" > "$tmp/wrk.out" &
    local load=$!
    local cpu; cpu=$(sample_cpu "$load" "$@")
    wait "$load"
    local out rps p50 p99 errors
    out=$(cat "$tmp/wrk.out")
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    local errs; errs=$(echo "$out" | awk '/Socket errors/ {print $0}')
    echo "| $workload | $target | $rps | $p50 | $p99 | ${errors:-0}${errs:+ ($errs)} | $(rss_mib "$@") MiB |" >> "$results"
    set -- $cpu
    awk -v r="$rps" -v g="$1" -v p="$2" -v n="$3" -v l="$4" -v m="$5" -v wl="$workload" -v tg="$target" \
        'BEGIN { printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |\n", wl, tg, g, p, n, l, m, g*1e6/r, p*1e6/r }' >> "$cpus"
    tail -1 "$results" >&2
}

pgbench_run() { # workload label scripts...
    local workload=$1 target=$2; shift 2
    rm -f "$tmp"/pgb_log*
    (cd "$tmp" && "$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared -c "$connections" -j 2 \
        -T "$duration" -l --log-prefix=pgb_log "$@" memory_gateway > "$tmp/pgbench.out" 2>"$tmp/pgbench.err") &
    local load=$!
    local cpu; cpu=$(sample_cpu "$load")
    wait "$load" || { cat "$tmp/pgbench.err" >&2; }
    local tps failed p50 p99
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$tmp/pgbench.out")
    failed=$(awk -F': ' '/number of failed transactions/ {split($2, a, " "); print a[1]; exit}' "$tmp/pgbench.out")
    read -r p50 p99 < <(cat "$tmp"/pgb_log* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {
        printf "%.2fms %.2fms\n", v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000 }')
    echo "| $workload | $target | $tps | $p50 | $p99 | ${failed:-?} | – |" >> "$results"
    set -- $cpu
    awk -v r="$tps" -v p="$2" -v l="$4" -v m="$5" -v wl="$workload" -v tg="$target" \
        'BEGIN { printf "| %s | %s | – | %.2f | – | %.2f | %.2f | – | %.0f |\n", wl, tg, p, l, m, p*1e6/r }' >> "$cpus"
    tail -1 "$results" >&2
}

echo "load before: $(cat /proc/loadavg)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm-up: every instance, every route shape, and PostgreSQL's caches.
for u in "$single" "$behind" ${peer_url:+"$peer_url"}; do
    for kind in get query create; do wrk -t2 -c"$connections" -d2s -s "$tmp/$kind.lua" "$u" >/dev/null; done
done
"$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared -c 4 -j 2 -T 2 "${pgb_get[@]}" "${pgb_query[@]}" "${pgb_create[@]}" memory_gateway >/dev/null 2>&1 || true

for workload in get query create; do
    case $workload in get) label="GET /v1/memories/{id}";; query) label="POST /v1/query";; create) label="POST /v1/memories";; esac
    wrk_run "$label" "1 gateway" "$single" "$tmp/$workload.lua" "${gw_pids[0]}"
    wrk_run "$label" "3 gateways + nginx" "$behind" "$tmp/$workload.lua" "${gw_pids[1]}" "${gw_pids[2]}" "${gw_pids[3]}"
    [ -n "$peer_url" ] && wrk_run "$label" "FastAPI + asyncpg peer (2 workers)" "$peer_url" "$tmp/$workload.lua" "${peer_pids[@]}"
    case $workload in
    get) pgbench_run "$label" "pgbench (same SQL)" "${pgb_get[@]}";;
    query) pgbench_run "$label" "pgbench (same SQL)" "${pgb_query[@]}"
           pgbench_run "$label" "pgbench (admit + query only, no BEGIN/SET/COMMIT)" "${pgb_querymin[@]}";;
    create) pgbench_run "$label" "pgbench (same SQL)" "${pgb_create[@]}";;
    esac
done

# Issue 6's plain-GIN baseline: the same query SQL with the tenant-leading index replaced by a
# GIN index on tsv alone (the gateways are idle; this is PostgreSQL only).
psql -c "CREATE INDEX memories_tsv_plain ON memories USING gin (tsv)" -c "DROP INDEX memories_fts" -c "ANALYZE memories"
pgbench_run "POST /v1/query" "pgbench, plain GIN (tsv) instead of (org_id, env, tsv)" "${pgb_query[@]}"
psql -c "CREATE INDEX memories_fts ON memories USING gin (org_id, env, tsv)" -c "DROP INDEX memories_tsv_plain" -c "ANALYZE memories"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "Load average before: $load_before; after: $load_after. Memories at the end: $(psql -Atc 'select count(*) from memories')."
echo
cat "$results"
echo
cat "$cpus"
