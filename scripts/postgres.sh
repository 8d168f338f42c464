# Shared by scripts/run and scripts/test: install what is missing, and run a private PostgreSQL.
# Source it; it defines functions only.

# Debian packages the gateway needs to build, test and run.
MG_PACKAGES="postgresql postgresql-contrib libpq-dev libssl-dev libcurl4-openssl-dev pkg-config python3-venv python3-pip"

mg_missing_packages() {
    local missing=()
    for p in $MG_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

# Installs missing Debian packages when root; otherwise prints the command and fails.
mg_install_dependencies() {
    command -v dpkg-query >/dev/null 2>&1 || return 0   # not Debian: assume the user installed them
    local missing
    missing=$(mg_missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "installing: $missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || true
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >&2
    else
        echo "missing packages: $missing" >&2
        echo "run: sudo apt-get install -y $missing" >&2
        return 1
    fi
}

# The directory holding initdb/pg_ctl/postgres (Debian keeps them off PATH).
# Every `return` here names its status: a bare `return` inside an EXIT trap (cleanup calls this)
# returns the status of the command that triggered the trap, and under `set -e` that ended the
# cleanup before PostgreSQL was stopped.
mg_pg_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return 0; fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    dirname "$(command -v initdb)"
}

# Runs a command as the owner of the data directory: PostgreSQL refuses to run as root.
mg_as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# mg_pg_start DATADIR PORT: initialises DATADIR if empty, starts PostgreSQL on 127.0.0.1:PORT
# with its socket in DATADIR, and creates database "memory_gateway".
# Access: trust only on the Unix socket in DATADIR (mode 0700, so only its owner and root reach
# it); TCP needs the password generated once per data directory into DATADIR/password (0600).
# So another local user or process cannot connect over 127.0.0.1 as superuser. `mg_pg_url` gives
# the URL with that password, for DATABASE_URL.
mg_pg_start() {
    local datadir=$1 port=$2 bindir
    bindir=$(mg_pg_bindir)
    mkdir -p "$datadir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown postgres "$datadir"
        # the user must be able to reach the directory
        local p
        p=$(dirname "$datadir")
        while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    fi
    chmod 700 "$datadir"
    if [ ! -s "$datadir/password" ]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$datadir/password")
    fi
    if [ "$(id -u)" = 0 ]; then chown postgres "$datadir/password"; fi
    if [ ! -f "$datadir/pgdata/PG_VERSION" ]; then
        mg_as_pg_user "$bindir/initdb" -D "$datadir/pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --pwfile="$datadir/password" -E UTF8 --locale=C.UTF-8 >/dev/null \
            || mg_as_pg_user "$bindir/initdb" -D "$datadir/pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
                --pwfile="$datadir/password" -E UTF8 --locale=C >/dev/null
    fi
    # Written on every start, so a data directory made by an older version (trust on TCP) is
    # tightened too; the password is (re)set over the socket below.
    mg_as_pg_user sh -c "printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 scram-sha-256' 'host all all ::1/128 scram-sha-256' > '$datadir/pgdata/pg_hba.conf'"
    mg_as_pg_user "$bindir/pg_ctl" -D "$datadir/pgdata" -l "$datadir/postgres.log" -w -t 60 \
        -o "-p $port -k $datadir -c unix_socket_permissions=0700 -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${MG_PG_FSYNC:-on} -c shared_buffers=128MB -c password_encryption=scram-sha-256" start >/dev/null
    local password
    password=$(cat "$datadir/password")
    mg_as_pg_user "$bindir/psql" -h "$datadir" -p "$port" -U postgres -d postgres -Xqc "alter role postgres password '$password'" >/dev/null
    if ! mg_as_pg_user "$bindir/psql" -h "$datadir" -p "$port" -U postgres -d postgres -XAtqc "select 1 from pg_database where datname='memory_gateway'" | grep -q 1; then
        mg_as_pg_user "$bindir/psql" -h "$datadir" -p "$port" -U postgres -d postgres -Xqc "create database memory_gateway" >/dev/null
    fi
}

# mg_pg_url DATADIR PORT [DATABASE]: the libpq URL of a PostgreSQL started by mg_pg_start, with its
# password (hex, so nothing to escape).
mg_pg_url() {
    echo "postgresql://postgres:$(cat "$1/password")@127.0.0.1:$2/${3:-memory_gateway}"
}

# mg_pg_stop DATADIR
mg_pg_stop() {
    local datadir=$1 bindir
    bindir=$(mg_pg_bindir)
    [ -f "$datadir/pgdata/postmaster.pid" ] || return 0
    mg_as_pg_user "$bindir/pg_ctl" -D "$datadir/pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

# A free TCP port on loopback.
mg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Adds the Swift toolchain to PATH when it is installed in the usual place but not on PATH.
mg_swift_path() {
    command -v swift >/dev/null 2>&1 && return 0
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    command -v swift >/dev/null 2>&1 || { echo "swift not found: install the Swift 6 toolchain" >&2; return 1; }
}
