# Measurement helpers for the benchmark scripts (source it; functions only). CPU from
# /proc/<pid>/stat (utime + stime, in clock ticks), memory from /proc/<pid>/status.
# pg_pids needs $postmaster (the PostgreSQL postmaster's pid).

mg_ticks=$(getconf CLK_TCK)

# cpu_snapshot PID...: "pid ticks" lines (utime + stime) for the pids still alive.
cpu_snapshot() {
    local p f
    for p in "$@"; do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        echo "$p $((${f% *} + ${f#* }))"
    done
}

# cpu_delta FILE0 FILE1: ticks used between two snapshots by the processes alive at the second
# one (a process that exited in between, e.g. a pool connection closed when idle, must not
# subtract its lifetime).
cpu_delta() {
    awk 'NR == FNR {t0[$1] = $2; next} {d += $2 - ($1 in t0 ? t0[$1] : 0)} END {print d + 0}' "$1" "$2"
}

# pg_pids: the postmaster and its children (backends, walwriter, checkpointer...).
pg_pids() { echo "$postmaster" $(pgrep -P "$postmaster" || true); }

# machine_busy: "busy total" jiffies of all cores from /proc/stat.
machine_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# proc_kib PID FIELD: a /proc/PID/status field in KiB (VmRSS, VmHWM...).
proc_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# sample_cpu DURATION LOADPID [TARGET-PID...]: cores used between 1 s after the start and 1 s
# before the end of a load of DURATION seconds running in the background (LOADPID and its
# children), printed as "target postgres load machine" (target "-" when no pid is given;
# machine: busy cores of all of them).
sample_cpu() {
    local duration=$1 load=$2; shift 2
    local targets=("$@") w f
    w=$((duration - 2)); f=$(mktemp /tmp/mg-cpu.XXXXXX)
    sleep 1
    local m0 m1
    cpu_snapshot "${targets[@]}" > "$f.t0"; cpu_snapshot $(pg_pids) > "$f.p0"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l0"; m0=$(machine_busy)
    sleep "$w"
    cpu_snapshot "${targets[@]}" > "$f.t1"; cpu_snapshot $(pg_pids) > "$f.p1"
    cpu_snapshot "$load" $(pgrep -P "$load" || true) > "$f.l1"; m1=$(machine_busy)
    local t p l
    t=$(cpu_delta "$f.t0" "$f.t1"); p=$(cpu_delta "$f.p0" "$f.p1"); l=$(cpu_delta "$f.l0" "$f.l1")
    rm -f "$f" "$f".*
    awk -v k="$mg_ticks" -v w="$w" -v t="$t" -v p="$p" -v l="$l" -v n="${#targets[@]}" \
        -v mb=$((${m1% *} - ${m0% *})) -v mt=$((${m1#* } - ${m0#* })) -v cores="$(nproc)" \
        'BEGIN { if (n == 0) printf "- "; else printf "%.3f ", t/k/w; printf "%.3f %.3f %.3f", p/k/w, l/k/w, mb/mt*cores }'
}
