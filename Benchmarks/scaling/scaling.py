#!/usr/bin/env python3
"""Query latency as one tenant grows (issue 15): loader and measurer for Benchmarks/scaling/run.sh.

  scaling.py setup URL OPERATOR_TOKEN STATE            one tenant, limits lifted; key and org to STATE
  scaling.py grow URL STATE TARGET [CLIENTS]           batch-load memories until the tenant holds TARGET
  scaling.py measure STATE QUERIES NAME=URL...         the latency table, gateways interleaved

Memory text as in Benchmarks/seeded/seed.py: sentences of 8-15 words from a 2,000-word synthetic
vocabulary with Zipf weights. Contexts: 2-3 words of the same draw (their own seed, so every run
asks the same questions). Each query goes to every gateway in turn over its own keep-alive
connection (one connection each, nothing concurrent), so the gateways share the machine's load;
the answers (ids, order, scores) are compared and any difference is reported.
"""
import http.client, json, random, sys, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

BATCH = 1_000  # the contract's largest batch

def vocabulary():
    rng = random.Random(20261125)
    onsets = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr".split()
    vowels = "a e i o u ai ea io ou".split()
    codas = ["", "n", "r", "l", "s", "t", "m", "nd", "rk", "x"]
    vocab, seen = [], set()
    while len(vocab) < 2000:
        w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))) + rng.choice(codas)
        if len(w) >= 4 and w not in seen:
            seen.add(w); vocab.append(w)
    cum, total = [], 0.0
    for r in range(len(vocab)):
        total += 1.0 / (r + 1); cum.append(total)
    return vocab, cum

VOCAB, CUM = vocabulary()
TOPICS = ["work", "family", "health", "travel", "food", "music", "sport", "money", "home", "study"]

class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)

    def call(self, method, path, body):
        data = json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                if r.status >= 300:
                    raise RuntimeError(f"{method} {path}: {r.status} {payload[:300]!r}")
                return json.loads(payload)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
                if attempt == 2:
                    raise

def setup(url, operator, state):
    c = Client(url, operator)
    created = c.call("POST", "/v1/admin/tenants", {"name": "scaling", "plan": "professional"})["data"]
    org, key = created["tenant"]["id"], created["api_key"]["key"]
    c.call("PATCH", f"/v1/admin/tenants/{org}", {"limits": {
        "rate_limit_per_minute": 1_000_000, "monthly_request_quota": 1_000_000_000, "max_memories": 100_000_000,
        "max_storage_mb": 1_000_000}})
    with open(state, "w") as f:
        json.dump({"key": key, "org": org, "loaded": 0}, f)

def grow(url, state, target, clients):
    with open(state) as f:
        s = json.load(f)
    start = s["loaded"]
    if start >= target:
        return
    def batch(b):
        rng = random.Random(b)  # batch b always holds the same memories
        items = []
        for i in range(b * BATCH, (b + 1) * BATCH):
            text = " ".join(rng.choices(VOCAB, cum_weights=CUM, k=rng.randint(8, 15))).capitalize() + "."
            items.append({"memory_id": f"m{i}", "text": text, "metadata": {"topic": rng.choice(TOPICS), "n": i}})
        return items
    import threading
    local = threading.local()
    def send(b):
        if not hasattr(local, "client"):
            local.client = Client(url, s["key"])
        local.client.call("POST", "/v1/memories/batch", {"memories": batch(b), "on_conflict": "skip"})
    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(start // BATCH, target // BATCH)))
    s["loaded"] = target
    with open(state, "w") as f:
        json.dump(s, f)
    rate = (target - start) / (time.monotonic() - began)
    print(f"loaded {start:,} -> {target:,} memories ({rate:,.0f}/s)", file=sys.stderr)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]

def measure(state, queries, gateways):
    with open(state) as f:
        s = json.load(f)
    rng = random.Random(15)
    contexts = [" ".join(rng.choices(VOCAB, cum_weights=CUM, k=rng.randint(2, 3))) for _ in range(queries)]
    clients = [(name, Client(url, s["key"])) for name, url in gateways]
    rows, differences = [], 0
    for threshold in (0.5, 0.0):
        times = {name: [] for name, _ in clients}
        for i, context in enumerate(contexts):
            body = {"context": context, "max_memories": 20, "relevance_threshold": threshold}
            answers = []
            order = clients if i % 2 == 0 else clients[::-1]  # neither always runs first
            for name, c in order:
                t0 = time.perf_counter()
                data = c.call("POST", "/v1/query", body)["data"]
                times[name].append((time.perf_counter() - t0) * 1000)
                answers.append([(m["id"], m["relevance_score"]) for m in data["memories"]])
            if any(a != answers[0] for a in answers[1:]):
                differences += 1
                print(f"DIFFERENT answers for {context!r} at {threshold}", file=sys.stderr)
        for name, _ in clients:
            rows.append((name, threshold, times[name]))
    return s["loaded"], rows, differences

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "setup":
        setup(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "grow":
        grow(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 4)
    elif cmd == "measure":
        gateways = [tuple(a.split("=", 1)) for a in sys.argv[4:]]
        loaded, rows, differences = measure(sys.argv[2], int(sys.argv[3]), gateways)
        by = {}
        for name, threshold, t in rows:
            by.setdefault(name, {})[threshold] = t
        for name, r in by.items():
            a, b = r[0.5], r[0.0]
            print(f"| {loaded:,} | {name} | {pct(a,50):.1f} · {pct(a,95):.1f} · {pct(a,99):.1f} ms"
                  f" | {pct(b,50):.1f} · {pct(b,99):.1f} ms |")
        if len(by) == 2:
            (n1, r1), (n2, r2) = by.items()
            print(f"| {loaded:,} | {n2} ÷ {n1} (p99) | {pct(r2[0.5],99)/pct(r1[0.5],99):.2f}× |"
                  f" {pct(r2[0.0],99)/pct(r1[0.0],99):.2f}× |")
        print(f"<!-- {loaded:,} memories: {len(rows[0][2])} queries per threshold per gateway; "
              f"answers differing between gateways: {differences} -->")
    else:
        sys.exit(__doc__)
