# Shared by deploy/local/{up,down,ctl,drill}: where things live and how to start and stop each part of
# the local multi-instance setup. Source it; it defines variables and functions only.
#
# State lives in $MG_LOCAL_DIR (default .data/local in the repository): PostgreSQL's data directory,
# pgbouncer's and nginx's configs, logs and pid files, and `env` (ports, the operator token).

MG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$MG_REPO/scripts/postgres.sh"

MG_LOCAL_DIR=${MG_LOCAL_DIR:-$MG_REPO/.data/local}
MG_INSTANCES=${MG_INSTANCES:-3}

# `port` when nothing listens there, else a free one.
mgl_port_or_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); print(sys.argv[1])
except OSError:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); print(t.getsockname()[1])
PY
}

# The first of `count` consecutive free ports, from `start` on.
mgl_free_block() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
start, count = int(sys.argv[1]), int(sys.argv[2])
def free(p):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try: s.bind(("127.0.0.1", p)); return True
    except OSError: return False
    finally: s.close()
p = start
while not all(free(p + i) for i in range(count)): p += count
print(p)
PY
}

# Ports and the token are chosen once (`mgl_init`) and kept in $MG_LOCAL_DIR/env.
mgl_init() {
    mkdir -p "$MG_LOCAL_DIR"/{logs,run}
    if [ ! -f "$MG_LOCAL_DIR/env" ]; then
        {
            echo "MG_PG_PORT=${MG_PG_PORT:-$(mg_free_port)}"
            echo "MG_BOUNCER_PORT=${MG_BOUNCER_PORT:-$(mg_free_port)}"
            echo "MG_LB_PORT=${MG_LB_PORT:-$(mgl_port_or_free 8080)}"
            echo "MG_GW_BASE_PORT=${MG_GW_BASE_PORT:-$(mgl_free_block 8081 "$MG_INSTANCES")}"
            echo "MG_OPERATOR_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        } > "$MG_LOCAL_DIR/env"
        chmod 600 "$MG_LOCAL_DIR/env"
    fi
    mgl_load
}

mgl_load() {
    [ -f "$MG_LOCAL_DIR/env" ] || { echo "not set up: run deploy/local/up" >&2; return 1; }
    # shellcheck disable=SC1091
    . "$MG_LOCAL_DIR/env"
    # PostgreSQL takes a password over TCP (scripts/postgres.sh makes one per data directory), and
    # so does the pgbouncer in front of it (the same one): no local process gets in as superuser.
    MG_PG_PASSWORD=$(cat "$MG_LOCAL_DIR/pg/password" 2>/dev/null || true)
    MG_DIRECT_URL="postgresql://postgres:$MG_PG_PASSWORD@127.0.0.1:$MG_PG_PORT/memory_gateway"
    MG_POOLED_URL="postgresql://postgres:$MG_PG_PASSWORD@127.0.0.1:$MG_BOUNCER_PORT/memory_gateway"
    MG_BIN=${MG_BIN:-$MG_REPO/.build/release/memory-gateway}
}

mgl_gw_port() { echo $((MG_GW_BASE_PORT + $1 - 1)); }

# Whether the process in pid file $1 runs (a killed process not yet reaped, a zombie, does not).
mgl_pid_alive() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# Waits until `url` answers 200 (at most $2 seconds, default 30).
mgl_wait_http() {
    local url=$1 limit=${2:-30} i=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null)" = 200 ]; do
        i=$((i + 1))
        [ $i -ge $((limit * 5)) ] && { echo "timed out waiting for $url" >&2; return 1; }
        sleep 0.2
    done
}

# --- PostgreSQL -----------------------------------------------------------------------------------
mgl_pg_start() { mg_pg_start "$MG_LOCAL_DIR/pg" "$MG_PG_PORT" && mgl_load; }
mgl_pg_stop() { mg_pg_stop "$MG_LOCAL_DIR/pg"; }
mgl_pg_restart() {
    local bindir
    bindir=$(mg_pg_bindir)
    mg_as_pg_user "$bindir/pg_ctl" -D "$MG_LOCAL_DIR/pg/pgdata" -m fast -w -t 60 restart \
        -o "-p $MG_PG_PORT -k $MG_LOCAL_DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" \
        -l "$MG_LOCAL_DIR/pg/postgres.log" >/dev/null
}

# --- pgbouncer (transaction pooling) --------------------------------------------------------------
mgl_pgbouncer_bin() { command -v pgbouncer || echo /usr/sbin/pgbouncer; }

mgl_pgbouncer_start() {
    local dir=$MG_LOCAL_DIR/pgbouncer
    mkdir -p "$dir"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
memory_gateway = host=127.0.0.1 port=$MG_PG_PORT dbname=memory_gateway user=postgres password=$MG_PG_PASSWORD

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $MG_BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
reserve_pool_size = 5
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    # Both hold the PostgreSQL password (pgbouncer checks clients against it with SCRAM).
    (umask 077; echo "\"postgres\" \"$MG_PG_PASSWORD\"" > "$dir/userlist.txt")
    chmod 600 "$dir/pgbouncer.ini" "$dir/userlist.txt"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; fi
    mgl_pid_alive "$dir/pgbouncer.pid" && return 0
    # pgbouncer refuses to run as root.
    mg_as_pg_user "$(mgl_pgbouncer_bin)" -d "$dir/pgbouncer.ini"
    local i=0
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $MG_BOUNCER_PORT), 1)" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 50 ] && { echo "pgbouncer did not start: see $dir/pgbouncer.log" >&2; return 1; }
        sleep 0.1
    done
}

mgl_pgbouncer_stop() {
    local pidfile=$MG_LOCAL_DIR/pgbouncer/pgbouncer.pid
    mgl_pid_alive "$pidfile" || return 0
    kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 50); do mgl_pid_alive "$pidfile" || return 0; sleep 0.1; done
    kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
}

# --- gateway instances ----------------------------------------------------------------------------
# Instance N listens on MG_GW_BASE_PORT+N-1 and reaches PostgreSQL through pgbouncer with unnamed
# statements. The gateway has one connection string, used by its pool AND its LISTEN connection, so
# LISTEN goes through pgbouncer too (see docs/operations-scaling.md: a missing setting).
mgl_gw_start() {
    local n=$1 port pidfile
    port=$(mgl_gw_port "$n")
    pidfile=$MG_LOCAL_DIR/run/gw$n.pid
    mgl_pid_alive "$pidfile" && return 0
    env DATABASE_URL="$MG_POOLED_URL" DATABASE_LISTEN_URL="$MG_DIRECT_URL" DB_PREPARED_STATEMENTS=false HOST=127.0.0.1 PORT="$port" \
        GATEWAY_THREADS="${MG_GW_THREADS:-2}" DB_POOL_SIZE="${MG_DB_POOL_SIZE:-10}" \
        GATEWAY_OPERATOR_TOKEN="$MG_OPERATOR_TOKEN" TRUSTED_PROXIES=127.0.0.1/32 \
        setsid "$MG_BIN" serve >>"$MG_LOCAL_DIR/logs/gw$n.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    mgl_wait_http "http://127.0.0.1:$port/readyz" 60
}

# mgl_gw_stop N [SIGNAL]: SIGTERM (drain) by default.
mgl_gw_stop() {
    local n=$1 signal=${2:-TERM} pidfile=$MG_LOCAL_DIR/run/gw$1.pid
    mgl_pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    kill -"$signal" "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 150); do mgl_pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }; sleep 0.2; done
    kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
}

# --- nginx ----------------------------------------------------------------------------------------
# deploy/nginx/memory-gateway.conf with this setup's ports and paths, inside a main config of its own.
mgl_nginx_start() {
    local dir=$MG_LOCAL_DIR/nginx servers="" n
    mkdir -p "$dir/logs" "$dir/tmp"
    for n in $(seq "$MG_INSTANCES"); do
        servers+="    server 127.0.0.1:$(mgl_gw_port "$n") max_fails=3 fail_timeout=5s;\n"
    done
    python3 - "$MG_REPO/deploy/nginx/memory-gateway.conf" "$dir/site.conf" "$MG_LB_PORT" "$dir/logs" "$servers" <<'PY'
import re, sys
source, target, port, logs, servers = sys.argv[1:]
text = open(source).read()
text = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+ .*\n", "", text)
text = text.replace("    least_conn;\n", "    least_conn;\n" + servers.replace("\\n", "\n"))
text = text.replace("listen 80;", "listen 127.0.0.1:%s;" % port)
text = text.replace("/var/log/nginx/", logs + "/")
open(target, "w").write(text)
PY
    cat > "$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/site.conf;
}
CONF
    nginx -t -q -p "$dir" -c "$dir/nginx.conf"
    if mgl_pid_alive "$dir/nginx.pid"; then
        nginx -p "$dir" -c "$dir/nginx.conf" -s reload
    else
        nginx -p "$dir" -c "$dir/nginx.conf"
    fi
}

mgl_nginx_stop() {
    local dir=$MG_LOCAL_DIR/nginx
    mgl_pid_alive "$dir/nginx.pid" || return 0
    nginx -p "$dir" -c "$dir/nginx.conf" -s quit 2>/dev/null || kill -TERM "$(cat "$dir/nginx.pid")"
    for _ in $(seq 50); do mgl_pid_alive "$dir/nginx.pid" || return 0; sleep 0.1; done
}
