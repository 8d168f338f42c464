#!/usr/bin/env python3
"""Cold start of the gateway: time from exec to the first 200 of /readyz, and to the first
answer of /healthz (the listener bound), over several starts against an already migrated database.

Usage: coldstart.py BINARY RUNS        (the environment configures the gateway: DATABASE_URL,
                                        GATEWAY_OPERATOR_TOKEN...; PORT is chosen here)
Prints one line per start and a summary line:
  coldstart runs=N ready_median_ms=... ready_min_ms=... ready_max_ms=... bound_median_ms=...
The clock starts just before fork/exec (Python's own start is outside it); /readyz is polled
over a raw socket every millisecond, so the poller adds at most ~1 ms. Each start is stopped
with SIGTERM and waited for before the next.
"""
import os, signal, socket, statistics, subprocess, sys, time

binary, runs = sys.argv[1], int(sys.argv[2])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(port, path):
    """The HTTP status of GET path, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    except OSError:
        return None


ready, bound = [], []
for run in range(runs):
    port = free_port()
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1")
    start = time.monotonic()
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_bound = None
    while True:
        code = status(port, "/readyz")
        now = time.monotonic()
        if code is not None and first_bound is None:
            first_bound = now
        if code == 200:
            break
        if proc.poll() is not None:
            sys.exit(f"gateway exited with {proc.returncode} before /readyz answered 200")
        if now - start > 60:
            proc.kill()
            sys.exit("no 200 from /readyz within 60 s")
        time.sleep(0.001)
    ready.append((now - start) * 1000)
    bound.append((first_bound - start) * 1000)
    print(f"start {run + 1}: bound {bound[-1]:.1f} ms, ready {ready[-1]:.1f} ms", file=sys.stderr)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

print(f"coldstart runs={runs} ready_median_ms={statistics.median(ready):.1f} ready_min_ms={min(ready):.1f} "
      f"ready_max_ms={max(ready):.1f} bound_median_ms={statistics.median(bound):.1f}")
