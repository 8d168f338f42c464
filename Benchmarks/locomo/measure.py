#!/usr/bin/env python3
"""Retrieval quality on the LoCoMo development set (../shared/data/locomo-dev), no language model.

Usage: measure.py URL OPERATOR_TOKEN DATA_DIR [--k 10]

As the data set's README proposes: a professional tenant (rate limit overridden so nothing is
refused); each conversation's turns stored as memories "<speaker>: <text>" (plus the photo's
caption when there is one) with {"dia_id": ...} in metadata, one space per conversation, through
POST /v1/memories/batch; every question of categories 1-4 sent as a query's `context` in its
conversation's space with relevance_threshold 0 and max_memories K. A hit at k: one of the
question's evidence turns is among the first k memories returned. Prints hit@1, hit@5, hit@K and
the mean reciprocal rank of the first evidence turn (0 when none is in the K returned), overall and
per category, as JSON on stdout.
"""
import argparse, glob, json, os, urllib.request, urllib.error

ap = argparse.ArgumentParser()
ap.add_argument("url"); ap.add_argument("operator"); ap.add_argument("data")
ap.add_argument("--k", type=int, default=10)
args = ap.parse_args()

def call(method, path, body=None, key=None):
    req = urllib.request.Request(args.url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + (key or args.operator)})
    try:
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}")

created = call("POST", "/v1/admin/tenants", {"name": "locomo", "plan": "professional"})
tenant, key = created["data"]["tenant"]["id"], created["data"]["api_key"]["key"]
call("PATCH", f"/v1/admin/tenants/{tenant}", {"limits": {"rate_limit_per_minute": 1000000}})

ranks = []   # (category, rank or None)
for path in sorted(glob.glob(os.path.join(args.data, "*.json"))):
    conv = json.load(open(path, encoding="utf-8"))
    space = "locomo-" + os.path.basename(path).split(".")[0]
    body = conv.get("conversation", conv)
    items = []
    n = 1
    while f"session_{n}" in body:
        for turn in body[f"session_{n}"]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [photo: {turn['blip_caption']}]"
            # Our own ids: a batch's memories share one timestamp, so equal scores are ordered by
            # id; random ids made hit@k vary from run to run (by about 0.003).
            items.append({"text": text[:50000], "metadata": {"dia_id": turn["dia_id"]}, "space_id": space,
                          "memory_id": f"{space}-{len(items):05d}"})
        n += 1
    for i in range(0, len(items), 1000):
        call("POST", "/v1/memories/batch", {"memories": items[i:i + 1000], "on_conflict": "error"}, key)
    for qa in conv["qa"]:
        if qa.get("category") not in (1, 2, 3, 4) or not qa.get("evidence"):
            continue
        evidence = set(e.strip() for e in qa["evidence"])
        res = call("POST", "/v1/query", {"context": str(qa["question"])[:2000], "space_id": space,
                                          "relevance_threshold": 0, "max_memories": args.k}, key)
        rank = None
        for i, m in enumerate(res["data"]["memories"]):
            if m["metadata"].get("dia_id") in evidence:
                rank = i + 1
                break
        ranks.append((qa["category"], rank))

def summary(rs):
    n = len(rs)
    hit = lambda k: round(sum(1 for _, r in rs if r is not None and r <= k) / n, 4) if n else None
    mrr = round(sum(1 / r for _, r in rs if r is not None) / n, 4) if n else None
    return {"questions": n, "hit@1": hit(1), "hit@5": hit(5), f"hit@{args.k}": hit(args.k), "mrr": mrr}

out = {"overall": summary(ranks)}
for c in (1, 2, 3, 4):
    out[f"category_{c}"] = summary([x for x in ranks if x[0] == c])
print(json.dumps(out, indent=2))
