#!/usr/bin/env python3
"""Seeds the benchmark through the gateway's own API and writes the workload files.

Usage: seed.py URL OPERATOR_TOKEN OUTDIR

10 tenants (professional plan, rate limit overridden to 1,000,000/min), 10,000 memories each
(ids m0..m9999) in batches of 1,000. Text: sentences of 8-15 words from a 2,000-word
synthetic vocabulary with Zipf weights (1/rank); metadata {topic, app, n}. Writes to OUTDIR:
  data.lua      keys, query contexts and new-memory sentences for the wrk scripts
  keys.tsv      tenant index, key, org id
  contexts.tsv  i, context (2-4 words, same Zipf draw; CONTEXT_WORDS="2 3" sets the range) for pgbench
  sentences.tsv i, sentence, metadata json for pgbench
"""
import json, os, random, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor

url, operator, out = sys.argv[1], sys.argv[2], sys.argv[3]
TENANTS, PER_TENANT, BATCH = 10, 10_000, 1_000
rng = random.Random(20261125)

# A pronounceable synthetic vocabulary: no stop words, stems mostly distinct.
onsets = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr".split()
vowels = "a e i o u ai ea io ou".split()
codas = ["", "n", "r", "l", "s", "t", "m", "nd", "rk", "x"]
vocab, seen = [], set()
while len(vocab) < 2000:
    w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))) + rng.choice(codas)
    if len(w) >= 4 and w not in seen:
        seen.add(w); vocab.append(w)
weights = [1.0 / (r + 1) for r in range(len(vocab))]
cum, total = [], 0.0
for w in weights:
    total += w; cum.append(total)

def words(n):
    return rng.choices(vocab, cum_weights=cum, k=n)

def sentence():
    return " ".join(words(rng.randint(8, 15))).capitalize() + "."

topics = ["work", "family", "health", "travel", "food", "music", "sport", "money", "home", "study"]
apps = ["chat", "email", "calendar", "notes", "voice"]

def call(method, path, token, body):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)

tenants = []
for t in range(TENANTS):
    created = call("POST", "/v1/admin/tenants", operator, {"name": f"bench-{t}", "plan": "professional"})["data"]
    org, key = created["tenant"]["id"], created["api_key"]["key"]
    call("PATCH", f"/v1/admin/tenants/{org}", operator, {"limits": {"rate_limit_per_minute": 1_000_000}})
    tenants.append((key, org))

batches = []
for t, (key, _) in enumerate(tenants):
    for b in range(PER_TENANT // BATCH):
        items = []
        for i in range(b * BATCH, (b + 1) * BATCH):
            items.append({"memory_id": f"m{i}", "text": sentence(),
                          "metadata": {"topic": rng.choice(topics), "app": rng.choice(apps), "n": i}})
        batches.append((key, items))

def send(batch):
    key, items = batch
    data = call("POST", "/v1/memories/batch", key, {"memories": items})["data"]
    return data

with ThreadPoolExecutor(2) as pool:
    for _ in pool.map(send, batches):
        pass

low, high = (int(n) for n in os.environ.get("CONTEXT_WORDS", "2 4").split())
contexts = [" ".join(words(rng.randint(low, high))) for _ in range(1000)]
sentences = [(sentence(), json.dumps({"topic": rng.choice(topics), "app": rng.choice(apps)})) for _ in range(1000)]

def lua(s):
    return json.dumps(s)  # a JSON string is a valid Lua string literal for this alphabet

with open(f"{out}/data.lua", "w") as f:
    f.write("keys = {" + ",".join(lua(k) for k, _ in tenants) + "}\n")
    f.write("contexts = {" + ",".join(lua(json.dumps({"context": c})) for c in contexts) + "}\n")
    f.write("creates = {" + ",".join(lua(json.dumps({"text": s, "metadata": json.loads(m)})) for s, m in sentences) + "}\n")
with open(f"{out}/keys.tsv", "w") as f:
    for t, (key, org) in enumerate(tenants):
        f.write(f"{t}\t{key}\t{org}\n")
with open(f"{out}/contexts.tsv", "w") as f:
    for i, c in enumerate(contexts):
        f.write(f"{i}\t{c}\n")
with open(f"{out}/sentences.tsv", "w") as f:
    for i, (s, m) in enumerate(sentences):
        f.write(f"{i}\t{s}\t{m}\n")
print(f"seeded {TENANTS * PER_TENANT} memories over {TENANTS} tenants")
