# Measurement helpers for the benchmark scripts (source it; functions only). CPU from
# /proc/<pid>/stat (utime + stime, in clock ticks), memory from /proc/<pid>/status.
# pg_pids needs $postmaster (the PostgreSQL postmaster's pid).

mg_ticks=$(getconf CLK_TCK)

# cpu_snapshot PID...: "pid ticks" lines (utime + stime) for the pids still alive. One awk for
# all of them: a fork per pid took over a second for 40 pids on the loaded machine, which pushed
# the second snapshot past the end of the load.
cpu_snapshot() {
    [ $# -gt 0 ] || return 0
    local p files=()
    for p in "$@"; do files+=("/proc/$p/stat"); done
    awk '{print $1, $14 + $15}' "${files[@]}" 2>/dev/null || true
}

# cpu_delta FILE0 FILE1: ticks used between two snapshots by the processes alive at the second
# one (a process that exited in between, e.g. a pool connection closed when idle, must not
# subtract its lifetime).
cpu_delta() {
    awk 'NR == FNR {t0[$1] = $2; next} {d += $2 - ($1 in t0 ? t0[$1] : 0)} END {print d + 0}' "$1" "$2"
}

# pg_pids: the postmaster and its children (backends, walwriter, checkpointer...).
pg_pids() { echo "$postmaster" $(pgrep -P "$postmaster" || true); }

# proc_kib PID FIELD: a /proc/PID/status field in KiB (VmRSS, VmHWM...).
proc_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# sample_cpu DURATION LOADPID [TARGET-PID...]: cores used from 1 s after the start to 2 s before
# the end of a load of DURATION seconds running in the background (LOADPID and its children),
# printed as "target postgres load" (target "-" when no pid is given). No whole-machine figure:
# this sandbox's /proc/stat counts no idle time.
sample_cpu() {
    local duration=$1 load=$2; shift 2
    local targets=("$@") w f
    w=$((duration - 3)); f=$(mktemp /tmp/mg-cpu.XXXXXX)
    sleep 1
    cpu_snapshot "${targets[@]}" > "$f.t0"; cpu_snapshot $(pg_pids) > "$f.p0"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l0"
    sleep "$w"
    cpu_snapshot "${targets[@]}" > "$f.t1"; cpu_snapshot $(pg_pids) > "$f.p1"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l1"
    local t p l
    t=$(cpu_delta "$f.t0" "$f.t1"); p=$(cpu_delta "$f.p0" "$f.p1"); l=$(cpu_delta "$f.l0" "$f.l1")
    rm -f "$f" "$f".*
    awk -v k="$mg_ticks" -v w="$w" -v t="$t" -v p="$p" -v l="$l" -v n="${#targets[@]}" \
        'BEGIN { if (n == 0) printf "- "; else printf "%.3f ", t/k/w; printf "%.3f %.3f", p/k/w, l/k/w }'
}
