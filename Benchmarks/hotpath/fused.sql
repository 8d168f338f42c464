-- The fused statements of the hot-path benchmark (run.sh builds one pgbench script per tenant from
-- these sections; keep the markers). Each request is ONE statement doing the peer's four steps
-- (Benchmarks/peers/fastapi/app.py): look the key up by its SHA-256 (HASH), take a GCRA token
-- from the key's bucket row, do the operation, upsert the usage counter (ENDPOINT). SCOPE is the
-- scope the route needs. A refused key (unknown, revoked, expired, suspended, over its limit,
-- missing the scope) gets no row back and no usage. The query's operation is the gateway's own
-- ranking SQL, appended by run.sh after this prefix.

-- PREFIX
WITH fk AS MATERIALIZED (
    SELECT k.org_id, k.key_id, k.environment, k.scopes,
           60000000 / greatest(1, coalesce(k.rate_limit_per_minute, t.rate_limit_override, p.rate_limit_per_minute)) AS step_us
      FROM api_keys k JOIN tenants t USING (org_id) JOIN plans p ON p.name = t.plan
     WHERE k.key_hash = 'HASH'::bytea AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
       AND NOT t.suspended),
-- GCRA as the peer does it: the theoretical arrival time moves by 60 s / limit per admission
-- (excluded.tat - now() is that step); admitted while it stays within 60 s of now.
fg AS (
    INSERT INTO peer_buckets AS b (key_id, tat) SELECT key_id, now() + step_us * interval '1 microsecond' FROM fk
    ON CONFLICT (key_id) DO UPDATE SET tat = greatest(b.tat, now()) + (excluded.tat - now())
     WHERE greatest(b.tat, now()) + (excluded.tat - now()) <= now() + interval '60 seconds'
    RETURNING key_id),
fa AS MATERIALIZED (SELECT fk.* FROM fk JOIN fg USING (key_id) WHERE 'SCOPE' = ANY (fk.scopes)),
fu AS (
    INSERT INTO peer_usage AS u (org_id, key_id, day, endpoint, requests)
    SELECT org_id, key_id, current_date, 'ENDPOINT', 1 FROM fa
    ON CONFLICT (org_id, key_id, day, endpoint) DO UPDATE SET requests = u.requests + 1)
-- END

-- GET
SELECT m.memory_id, m.text, m.metadata::text, m.space_id, m.source, m.version, gw_time(m.created_at), gw_time(m.updated_at)
  FROM fa JOIN memories m ON m.org_id = fa.org_id AND m.env = fa.environment AND m.memory_id = 'm' || :n;
-- END

-- CREATE
, fs AS (SELECT text, metadata FROM bench.sentences WHERE i = :s)
INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, source, request_id)
SELECT fa.org_id, fa.environment, 'mem_' || substr(md5(random()::text), 1, 20), fs.text, fs.metadata::jsonb, 'api',
       'req_' || substr(md5(random()::text), 1, 24)
  FROM fa, fs
RETURNING m.memory_id, m.version, gw_time(m.created_at), gw_time(m.updated_at);
-- END
