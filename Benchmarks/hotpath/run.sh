#!/usr/bin/env bash
# The hot-path benchmark of issue 15, in ONE command: the gateway beside (a) pgbench running the
# same work as ONE fused statement per request (key lookup, GCRA token, the operation, usage
# upsert: the ceiling PostgreSQL allows) and (b) the FastAPI + asyncpg peer (uvicorn, 2 workers,
# uvloop, 4 round trips per request on prepared statements), all in the same run, on GET one
# memory, create, and query (2–3 words); then the gateway's RSS idle and under load (/proc), and
# its cold start (exec → first 200 of /readyz, median of several). Prints Markdown tables.
#
# Usage: Benchmarks/hotpath/run.sh            (4–6 minutes with the defaults on 2 cores)
#   DURATION     seconds per measured run (default 15; 5, the least, is a quick look)
#   CONNECTIONS  wrk connections = pgbench clients (default 32)
#   DB_POOL_SIZE gateway pool (default 16); PEER_POOL_SIZE per peer worker (default 8)
#   COLDSTARTS   starts measured for the cold start (default 9)
#   PEER_VENV    where the peer's Python packages go (default ~/.cache/mg-bench-venv; PEERS=none skips it)
#   SCALING=1    also runs Benchmarks/scaling/run.sh when it exists (the query curve; takes long)
#   BASELINE_ENV a second gateway instance, started with these extra variables (e.g.
#                "MALLOC_ARENA_MAX=16" or "GATEWAY_KEY_CACHE=off"), measured beside the first on
#                every route and for RSS, with the ratio printed (a side-by-side baseline)
# Data: 10 tenants × 10,000 memories seeded through the gateway's batch API (Benchmarks/seeded/
# seed.py), every request with a random tenant's key and a random id / context / sentence; a
# private PostgreSQL 15 with fsync on. Everything shares the machine's cores: quote ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=Benchmarks/hotpath
. scripts/postgres.sh
. Benchmarks/lib/measure.sh
duration=${DURATION:-15}
connections=${CONNECTIONS:-32}
pool=${DB_POOL_SIZE:-16}
coldstarts=${COLDSTARTS:-9}
venv=${PEER_VENV:-$HOME/.cache/mg-bench-venv}
# the CPU window runs from 1 s after a run's start to 2 s before its end (pgbench: 1 s later)
[ "$duration" -ge 5 ] || { echo "DURATION must be at least 5 seconds" >&2; exit 2; }

command -v wrk >/dev/null || {
    [ "$(id -u)" = 0 ] || { echo "install wrk" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
mg_swift_path
swift build -c release --product memory-gateway >/dev/null
bin="$(swift build -c release --show-bin-path)/memory-gateway"
bindir=$(mg_pg_bindir)
pgbench=$bindir/pgbench; [ -x "$pgbench" ] || pgbench=pgbench
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo "+changes")

tmp=$(mktemp -d /tmp/mg-hotpath.XXXXXX)
operator_token="bench_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"   # serve wants ≥ 32 characters
pg_port=$(mg_free_port); gw_port=$(mg_free_port)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    mg_pg_stop "$tmp"
    rm -rf "$tmp"
}
trap cleanup EXIT
mg_pg_start "$tmp" "$pg_port"   # fsync on, as in production
export DATABASE_URL="$(mg_pg_url "$tmp" "$pg_port")"
export PGPASSWORD="$(cat "$tmp/password")"
psql() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d memory_gateway "$@"; }
postmaster=$(head -1 "$tmp/pgdata/postmaster.pid")
export ACCESS_LOG=false GATEWAY_OPERATOR_TOKEN=$operator_token DB_POOL_SIZE=$pool

# wait_ready URL: until /readyz answers 200 (migrations current, database answering).
wait_ready() {
    for _ in $(seq 1 600); do curl -fs -o /dev/null "$1/readyz" && return 0; sleep 0.1; done
    echo "no 200 from $1/readyz" >&2; return 1
}
HOST=127.0.0.1 PORT=$gw_port "$bin" serve >>"$tmp/gw.log" 2>&1 &
gw_pid=$!; pids+=("$gw_pid")
gateway="http://127.0.0.1:$gw_port"
wait_ready "$gateway" || { cat "$tmp/gw.log" >&2; exit 1; }
sleep 3   # let the background parts (usage flusher, sweepers, listener) settle
rss_fresh=$(proc_kib "$gw_pid" VmRSS)
base_pid="" base_url=""
if [ -n "${BASELINE_ENV:-}" ]; then
    base_port=$(mg_free_port)
    # shellcheck disable=SC2086 # BASELINE_ENV is a list of NAME=value words
    env $BASELINE_ENV HOST=127.0.0.1 PORT=$base_port "$bin" serve >>"$tmp/base.log" 2>&1 &
    base_pid=$!; pids+=("$base_pid")
    base_url="http://127.0.0.1:$base_port"
    wait_ready "$base_url" || { cat "$tmp/base.log" >&2; exit 1; }
    sleep 3
    base_rss_fresh=$(proc_kib "$base_pid" VmRSS)
fi

CONTEXT_WORDS="2 3" python3 Benchmarks/seeded/seed.py "$gateway" "$operator_token" "$tmp" >&2
psql -c "VACUUM ANALYZE" -c "CHECKPOINT"

# ---- the peer
psql -f Benchmarks/peers/fastapi/schema.sql
peer_url="" peer_pids=()
if [ "${PEERS:-fastapi}" != none ]; then
    if [ -x "$venv/bin/uvicorn" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r Benchmarks/peers/fastapi/requirements.txt; } >&2; then
        peer_port=$(mg_free_port)
        (cd Benchmarks/peers/fastapi && exec "$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$peer_port" \
            --workers 2 --loop uvloop --http httptools --no-access-log --log-level warning) >>"$tmp/peer.log" 2>&1 &
        peer_master=$!; pids+=("$peer_master")
        for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$peer_port/v1/memories/m0" && break; sleep 0.1; done
        peer_url="http://127.0.0.1:$peer_port"
        sleep 1
        peer_pids=("$peer_master" $(pgrep -P "$peer_master" || true))
    else
        echo "FastAPI peer NOT RUN: its packages could not be installed" >&2
    fi
fi

# ---- pgbench's inputs: the same contexts and sentences as wrk's.
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
        get) echo 'request = function() return wrk.format("GET", "/v1/memories/m" .. math.random(0, 9999), {["Authorization"] = "Bearer " .. keys[math.random(#keys)]}) end' ;;
        query) echo 'request = function() return wrk.format("POST", "/v1/query", {["Authorization"] = "Bearer " .. keys[math.random(#keys)], ["Content-Type"] = "application/json"}, contexts[math.random(#contexts)]) end' ;;
        create) echo 'request = function() return wrk.format("POST", "/v1/memories", {["Authorization"] = "Bearer " .. keys[math.random(#keys)], ["Content-Type"] = "application/json"}, creates[math.random(#creates)]) end' ;;
        esac
    } > "$tmp/$kind.lua"
done

# ---- the fused statements, one pgbench script per tenant (its key hash as a literal; pgbench
# picks a script at random per transaction). fused.sql holds the shared prefix and the three
# operations; the query's operation is the gateway's own ranking SQL (Benchmarks/seeded/statements.sql).
section() { sed -n "/^-- $2\$/,/^-- END\$/p" "$1" | sed '1d;$d'; }
query_sql=$(section Benchmarks/seeded/statements.sql QUERY \
    | sed -e 's/^WITH terms AS MATERIALIZED (/, fc AS MATERIALIZED (SELECT ctx FROM bench.contexts WHERE i = :c),\nterms AS MATERIALIZED (/' \
          -e 's/:a_ctx::text/(SELECT ctx FROM fc)/g' -e 's/:a_org_id/(SELECT org_id FROM fa)/g' \
          -e 's/:a_environment/(SELECT environment FROM fa)/g')
pgb_get=() pgb_query=() pgb_create=()
while IFS=$'\t' read -r t key _; do
    hash="\\\\x$(printf '%s' "$key" | sha256sum | cut -c1-64)"
    prefix() { section "$here/fused.sql" PREFIX | sed -e "s/HASH/$hash/" -e "s/SCOPE/$1/" -e "s|ENDPOINT|$2|"; }
    { printf '\\set n random(0, 9999)\n'; prefix read 'GET /v1/memories/{id}'; section "$here/fused.sql" GET; } > "$tmp/get$t.sql"
    { printf '\\set s random(0, 999)\n'; prefix write 'POST /v1/memories'; section "$here/fused.sql" CREATE; } > "$tmp/create$t.sql"
    { printf '\\set c random(0, 999)\n\\set boost 0\n\\set thr 0.5\n\\set maxm 20\n'; prefix read 'POST /v1/query'
      printf '%s;\n' "$query_sql"; } > "$tmp/query$t.sql"
    pgb_get+=(-f "$tmp/get$t.sql"); pgb_query+=(-f "$tmp/query$t.sql"); pgb_create+=(-f "$tmp/create$t.sql")
done < "$tmp/keys.tsv"
# Each fused script must do the work: an admitted row back for every tenant's key.
for t in 0 9; do
    rows=$(sed '/^\\set/d' "$tmp/get$t.sql" | psql -At -v n=0 | wc -l)
    [ "$rows" = 1 ] || { echo "fused GET for tenant $t returned $rows rows" >&2; exit 1; }
done

# ---- measurement
results="$tmp/results.md" cpus="$tmp/cpu.md"
echo "| workload | target | requests/s | p50 | p99 | non-2xx/failed |" > "$results"
echo "|---|---|---|---|---|---|" >> "$results"
echo "| workload | target | target cores | postgres cores | load-generator cores | target µs CPU/req | postgres µs CPU/req |" > "$cpus"
echo "|---|---|---|---|---|---|---|" >> "$cpus"
declare -A rps p99
rss_load=0 base_rss_load=0

record_cpu() { # workload target rps "g p l"
    set -- "$1" "$2" "$3" $4
    awk -v r="$3" -v g="$4" -v p="$5" -v l="$6" -v wl="$1" -v tg="$2" 'BEGIN {
        gc = (g == "-") ? "–" : sprintf("%.2f", g); gu = (g == "-") ? "–" : sprintf("%.0f", g*1e6/r)
        printf "| %s | %s | %s | %.2f | %.2f | %s | %.0f |\n", wl, tg, gc, p, l, gu, p*1e6/r }' >> "$cpus"
}

wrk_run() { # key workload target url script target-pids...
    local key=$1 workload=$2 target=$3 url=$4 script=$5; shift 5
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$script" "$url" > "$tmp/wrk.out" &
    local load=$! cpu
    cpu=$(sample_cpu "$duration" "$load" "$@")
    wait "$load"
    local r p50 p errors
    r=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$tmp/wrk.out")
    p50=$(awk '$1 == "50%" {print $2}' "$tmp/wrk.out"); p=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    errors=$(awk '/Non-2xx/ {print $5}' "$tmp/wrk.out"); local sock; sock=$(grep 'Socket errors' "$tmp/wrk.out" || true)
    rps[$key]=$r; p99[$key]=$p
    echo "| $workload | $target | $r | $p50 | $p | ${errors:-0}${sock:+ ($sock)} |" >> "$results"
    record_cpu "$workload" "$target" "$r" "$cpu"
    tail -1 "$results" >&2
}

pgbench_run() { # key workload target scripts...
    local key=$1 workload=$2 target=$3; shift 3
    rm -f "$tmp"/pgb_log* "$tmp/pgbench.err"
    (cd "$tmp" && "$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared -c "$connections" -j 2 \
        -T "$duration" -P 1 -l --log-prefix=pgb_log "$@" memory_gateway > "$tmp/pgbench.out" 2>"$tmp/pgbench.err") &
    local load=$! cpu
    # pgbench's clock starts once its clients are connected (SCRAM for 32 of them takes seconds on
    # a loaded machine): sample from its first progress line, 1 s into the run.
    until grep -q '^progress:' "$tmp/pgbench.err" 2>/dev/null || ! kill -0 "$load" 2>/dev/null; do sleep 0.05; done
    cpu=$(sample_cpu "$((duration - 1))" "$load")
    wait "$load" || { grep -v '^progress:' "$tmp/pgbench.err" >&2; }
    local r failed p50 p
    r=$(awk '/^tps/ {printf "%.0f", $3}' "$tmp/pgbench.out")
    failed=$(awk -F': ' '/number of failed transactions/ {split($2, a, " "); print a[1]; exit}' "$tmp/pgbench.out")
    read -r p50 p < <(cat "$tmp"/pgb_log* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {
        printf "%.2fms %.2fms\n", v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000 }')
    rps[$key]=$r; p99[$key]=$p
    echo "| $workload | $target | $r | $p50 | $p | ${failed:-?} |" >> "$results"
    record_cpu "$workload" "$target" "$r" "$cpu"
    tail -1 "$results" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load before: $load_before" >&2
# Warm-up: every target, every route shape, PostgreSQL's caches.
for u in "$gateway" ${base_url:+"$base_url"} ${peer_url:+"$peer_url"}; do
    for kind in get query create; do wrk -t2 -c"$connections" -d3s -s "$tmp/$kind.lua" "$u" >/dev/null; done
done
for s in pgb_get pgb_query pgb_create; do
    declare -n list=$s
    "$pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared -c "$connections" -j 2 -T 3 "${list[@]}" memory_gateway >/dev/null 2>&1 || true
done

for workload in get create query; do
    case $workload in get) label="GET /v1/memories/{id}";; query) label="POST /v1/query";; create) label="POST /v1/memories";; esac
    case $workload in get) scripts=("${pgb_get[@]}");; query) scripts=("${pgb_query[@]}");; create) scripts=("${pgb_create[@]}");; esac
    wrk_run "$workload.gw" "$label" "gateway" "$gateway" "$tmp/$workload.lua" "$gw_pid"
    r=$(proc_kib "$gw_pid" VmRSS); [ "$r" -gt "$rss_load" ] && rss_load=$r
    if [ -n "$base_pid" ]; then
        wrk_run "$workload.base" "$label" "gateway, $BASELINE_ENV" "$base_url" "$tmp/$workload.lua" "$base_pid"
        r=$(proc_kib "$base_pid" VmRSS); [ "$r" -gt "$base_rss_load" ] && base_rss_load=$r
    fi
    pgbench_run "$workload.fused" "$label" "pgbench, one fused statement" "${scripts[@]}"
    [ -n "$peer_url" ] && wrk_run "$workload.peer" "$label" "FastAPI + asyncpg (2 workers)" "$peer_url" "$tmp/$workload.lua" "${peer_pids[@]}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
sleep 5
rss_after=$(proc_kib "$gw_pid" VmRSS); rss_peak=$(proc_kib "$gw_pid" VmHWM)
threads=$(awk '/^Threads/ {print $2}' "/proc/$gw_pid/status")
if [ -n "$base_pid" ]; then
    base_rss_after=$(proc_kib "$base_pid" VmRSS); base_rss_peak=$(proc_kib "$base_pid" VmHWM)
    kill "$base_pid"; wait "$base_pid" 2>/dev/null || true
fi
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true

# Cold start: the database is migrated (a restart, the usual case); nothing else of the gateway runs.
cold=$(python3 "$here/coldstart.py" "$bin" "$coldstarts")

scaling=""
if [ "${SCALING:-0}" = 1 ] && [ -x Benchmarks/scaling/run.sh ]; then scaling=$(Benchmarks/scaling/run.sh); fi

ratio() { awk -v a="${rps[$1]:-}" -v b="${rps[$2]:-}" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f×", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo
echo "Commit $commit, $(date -u +%Y-%m-%d), $(nproc) cores, ${duration} s per run, $connections connections, gateway pool $pool."
echo "Load average before: $load_before; after: $load_after. Memories at the end: $(psql -Atc 'select count(*) from memories')."
echo
echo "| workload | gateway req/s · p99 | fused statement req/s · p99 | FastAPI peer req/s · p99 | gateway/fused | gateway/peer |"
echo "|---|---|---|---|---|---|"
for w in get create query; do
    case $w in get) label="GET one memory";; create) label="create";; query) label="query (2–3 words)";; esac
    echo "| $label | ${rps[$w.gw]:-–} · ${p99[$w.gw]:-–} | ${rps[$w.fused]:-–} · ${p99[$w.fused]:-–} | ${rps[$w.peer]:-–} · ${p99[$w.peer]:-–} | $(ratio "$w.gw" "$w.fused") | $(ratio "$w.gw" "$w.peer") |"
done
if [ -n "$base_pid" ]; then
    echo
    echo "| workload | gateway req/s · p99 | gateway with $BASELINE_ENV req/s · p99 | gateway/baseline |"
    echo "|---|---|---|---|"
    for w in get create query; do
        echo "| $w | ${rps[$w.gw]:-–} · ${p99[$w.gw]:-–} | ${rps[$w.base]:-–} · ${p99[$w.base]:-–} | $(ratio "$w.gw" "$w.base") |"
    done
    echo
    echo "| RSS of the gateway with $BASELINE_ENV | value |"
    echo "|---|---|"
    echo "| idle, 3 s after ready | $(mib "$base_rss_fresh") |"
    echo "| under load (largest) | $(mib "$base_rss_load") |"
    echo "| idle, 5 s after the load | $(mib "$base_rss_after") |"
    echo "| peak (VmHWM) | $(mib "$base_rss_peak") |"
fi
echo
cat "$results"
echo
cat "$cpus"
echo
echo "| gateway memory and start | value |"
echo "|---|---|"
echo "| RSS idle, 3 s after ready (before any request) | $(mib "$rss_fresh") |"
echo "| RSS under load (largest, sampled at the end of each gateway run) | $(mib "$rss_load") |"
echo "| RSS idle, 5 s after the load | $(mib "$rss_after") |"
echo "| peak RSS (VmHWM) | $(mib "$rss_peak") |"
echo "| threads | $threads |"
set -- $cold
echo "| cold start, exec → first 200 of /readyz: median of ${2#runs=} (min–max) | ${3#*=} ms (${4#*=}–${5#*=} ms) |"
echo "| cold start, exec → listener answering (median) | ${6#*=} ms |"
[ -n "$scaling" ] && { echo; echo "$scaling"; }
exit 0
