"""The FastAPI + asyncpg peer of the seeded benchmark (Benchmarks/seeded/run.sh).

What a typical Python memory API does per request, in four round trips on prepared statements
(asyncpg prepares and caches every statement it runs): look the key up by its SHA-256, take a
GCRA token from the key's bucket row, do the operation, upsert the usage counter. It reads and
writes the gateway's own `memories` and `api_keys` tables (the same rows and indexes the gateway
uses) and keeps its limiter and usage in tables of its own (`peer_buckets`, `peer_usage`, created
by the run script). Envelopes follow docs/API.md's shape so the response sizes are comparable.

Run: uvicorn app:app --workers 2 --loop uvloop --http httptools --no-access-log
Env: DATABASE_URL (libpq URI), PEER_POOL_SIZE (per worker, default 8).
"""
import datetime
import hashlib
import json
import os
import secrets
import time

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
pool: asyncpg.Pool | None = None

KEY_SQL = """
SELECT k.org_id, k.key_id, k.environment, k.scopes,
       coalesce(k.rate_limit_per_minute, t.rate_limit_override, p.rate_limit_per_minute) AS limit_per_minute
FROM api_keys k JOIN tenants t USING (org_id) JOIN plans p ON p.name = t.plan
WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
  AND NOT t.suspended
"""
# GCRA: the theoretical arrival time moves by 60 s / limit per admission; a request is admitted
# while it stays within 60 s of now (a burst of `limit` from idle). No row back = refused.
GCRA_SQL = """
INSERT INTO peer_buckets AS b (key_id, tat) VALUES ($1, now() + $2 * interval '1 microsecond')
ON CONFLICT (key_id) DO UPDATE SET tat = greatest(b.tat, now()) + $2 * interval '1 microsecond'
WHERE greatest(b.tat, now()) + $2 * interval '1 microsecond' <= now() + interval '60 seconds'
RETURNING tat
"""
GET_SQL = """
SELECT memory_id, text, metadata::text, space_id, source, version, created_at, updated_at
FROM memories WHERE org_id = $1 AND env = $2 AND memory_id = $3
"""
CREATE_SQL = """
INSERT INTO memories (org_id, env, memory_id, text, metadata, request_id)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
RETURNING memory_id, created_at, updated_at
"""
# Partial matches count (OR of the context's lexemes), best first by ts_rank, as the gateway's
# contract asks for; the threshold is applied to ts_rank normalised into [0, 1).
QUERY_SQL = """
SELECT memory_id, text, metadata::text, space_id, created_at, r / (r + 1) AS score
FROM (SELECT m.*, ts_rank(m.tsv, q) AS r
      FROM memories m, CAST(replace(plainto_tsquery('english', $3)::text, ' & ', ' | ') AS tsquery) AS q
      WHERE m.org_id = $1 AND m.env = $2 AND m.tsv @@ q) s
WHERE r / (r + 1) >= $4
ORDER BY score DESC LIMIT $5
"""
USAGE_SQL = """
INSERT INTO peer_usage AS u (org_id, key_id, day, endpoint, requests) VALUES ($1, $2, current_date, $3, 1)
ON CONFLICT (org_id, key_id, day, endpoint) DO UPDATE SET requests = u.requests + 1
"""


@app.on_event("startup")
async def startup() -> None:
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1,
                                     max_size=int(os.environ.get("PEER_POOL_SIZE", "8")))


def envelope(status: int, data=None, error=None, started=0.0) -> Response:
    request_id = "req_" + secrets.token_hex(12)
    if error is None:
        body = {"success": True, "data": data,
                "meta": {"request_id": request_id, "processing_time_ms": int((time.monotonic() - started) * 1000)}}
    else:
        body = {"success": False, "error": {"code": error[0], "message": error[1]}, "meta": {"request_id": request_id}}
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json",
                    headers={"X-Request-ID": request_id})


def iso(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def admit(conn, request: Request, scope: str, endpoint: str):
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return None, envelope(401, error=("missing_api_key", "no API key"))
    key = await conn.fetchrow(KEY_SQL, hashlib.sha256(auth[7:].encode()).digest())
    if key is None:
        return None, envelope(401, error=("invalid_api_key", "unknown key"))
    if await conn.fetchval(GCRA_SQL, key["key_id"], 60_000_000 // max(1, key["limit_per_minute"])) is None:
        return None, envelope(429, error=("rate_limit_exceeded", "slow down"))
    if scope not in key["scopes"]:
        return None, envelope(403, error=("insufficient_scope", f"needs {scope}"))
    return key, None


async def count(conn, key, endpoint: str) -> None:
    await conn.execute(USAGE_SQL, key["org_id"], key["key_id"], endpoint)


@app.get("/v1/memories/{memory_id}")
async def get_memory(memory_id: str, request: Request):
    started = time.monotonic()
    async with pool.acquire() as conn:
        key, refused = await admit(conn, request, "read", "GET /v1/memories/{id}")
        if refused:
            return refused
        row = await conn.fetchrow(GET_SQL, key["org_id"], key["environment"], memory_id)
        await count(conn, key, "GET /v1/memories/{id}")
    if row is None:
        return envelope(404, error=("not_found", "no such memory"))
    return envelope(200, {"id": row[0], "text": row[1], "metadata": json.loads(row[2]), "space_id": row[3],
                          "source": row[4], "version": row[5], "created_at": iso(row[6]),
                          "updated_at": iso(row[7])}, started=started)


@app.post("/v1/memories")
async def create_memory(request: Request):
    started = time.monotonic()
    body = json.loads(await request.body())
    text = body.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= 50_000:
        return envelope(400, error=("invalid_request", "text is required"))
    metadata = json.dumps(body.get("metadata") or {})
    async with pool.acquire() as conn:
        key, refused = await admit(conn, request, "write", "POST /v1/memories")
        if refused:
            return refused
        row = await conn.fetchrow(CREATE_SQL, key["org_id"], key["environment"], "mem_" + secrets.token_hex(10),
                                  text, metadata, "req_" + secrets.token_hex(12))
        await count(conn, key, "POST /v1/memories")
    return envelope(201, {"id": row[0], "text": text, "metadata": json.loads(metadata), "space_id": None,
                          "source": "api", "version": 1, "created_at": iso(row[1]),
                          "updated_at": iso(row[2])}, started=started)


@app.post("/v1/query")
async def query(request: Request):
    started = time.monotonic()
    body = json.loads(await request.body())
    context = body.get("context")
    if not isinstance(context, str) or not 1 <= len(context) <= 2000:
        return envelope(400, error=("invalid_request", "context is required"))
    threshold = float(body.get("relevance_threshold", 0.5))
    limit = int(body.get("max_memories", 20))
    async with pool.acquire() as conn:
        key, refused = await admit(conn, request, "read", "POST /v1/query")
        if refused:
            return refused
        rows = await conn.fetch(QUERY_SQL, key["org_id"], key["environment"], context, threshold, limit)
        await count(conn, key, "POST /v1/query")
    return envelope(200, {"memories": [{"id": r[0], "text": r[1], "relevance_score": round(r[5], 4),
                                        "metadata": json.loads(r[2]), "space_id": r[3], "created_at": iso(r[4])}
                                       for r in rows], "query_context": context}, started=started)
