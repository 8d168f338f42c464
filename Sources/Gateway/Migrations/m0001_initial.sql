-- Memory Gateway: the first schema. Every tenant-owned table has org_id first in its primary key
-- (distributable by tenant on Citus); plans is reference data.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Times are stored truncated to milliseconds: the API shows milliseconds, so a time read back
-- from a response (as_of, updated_since) compares exactly with what is stored.
CREATE FUNCTION gw_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS
$$ SELECT date_trunc('milliseconds', clock_timestamp()) $$;

CREATE FUNCTION gw_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

CREATE TABLE plans (
    name                   text PRIMARY KEY,
    rate_limit_per_minute  integer NOT NULL,
    monthly_request_quota  bigint  NOT NULL,
    max_memories           bigint  NOT NULL,
    price_cents            bigint  NOT NULL,
    overage_cents_per_1000 bigint  NOT NULL,
    hard_quota             boolean NOT NULL
);
INSERT INTO plans VALUES
    ('free',         10,    10000,    1000,    0,  0, true),
    ('starter',      60,   100000,   50000, 1900, 50, false),
    ('professional', 300, 1000000, 1000000, 9900, 30, false);

CREATE TABLE tenants (
    org_id                 text PRIMARY KEY,
    name                   text NOT NULL,
    plan                   text NOT NULL REFERENCES plans (name),
    suspended              boolean NOT NULL DEFAULT false,
    rate_limit_override    integer,
    monthly_quota_override bigint,
    max_memories_override  bigint,
    created_at             timestamptz NOT NULL DEFAULT gw_now()
);

CREATE TABLE api_keys (
    org_id                text NOT NULL REFERENCES tenants (org_id),
    key_id                text NOT NULL,
    key_hash              bytea NOT NULL,
    key_prefix            text NOT NULL,
    name                  text NOT NULL,
    environment           text NOT NULL CHECK (environment IN ('live', 'test')),
    scopes                text[] NOT NULL,
    rate_limit_per_minute integer,
    allowed_ips           cidr[],
    created_at            timestamptz NOT NULL DEFAULT gw_now(),
    expires_at            timestamptz,
    revoked_at            timestamptz,
    last_used_at          timestamptz,
    PRIMARY KEY (org_id, key_id)
);
-- Lookup by hash on every request. On Citus api_keys is small and would be a reference table.
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys (key_hash);

CREATE TABLE spaces (
    org_id      text NOT NULL,
    env         text NOT NULL,
    space_id    text NOT NULL,
    name        text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT gw_now(),
    updated_at  timestamptz NOT NULL DEFAULT gw_now(),
    PRIMARY KEY (org_id, env, space_id)
);

CREATE TABLE memories (
    org_id     text NOT NULL,
    env        text NOT NULL,
    memory_id  text NOT NULL,
    text       text NOT NULL,
    metadata   jsonb NOT NULL DEFAULT '{}',
    space_id   text,
    source     text NOT NULL DEFAULT 'api',
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT gw_now(),
    updated_at timestamptz NOT NULL DEFAULT gw_now(),
    request_id text,
    key_prefix text,
    tsv        tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
    PRIMARY KEY (org_id, env, memory_id)
);
CREATE INDEX memories_newest ON memories (org_id, env, created_at DESC, memory_id DESC);
CREATE INDEX memories_by_space ON memories (org_id, env, space_id, created_at DESC, memory_id DESC);
CREATE INDEX memories_updated ON memories (org_id, env, updated_at);
CREATE INDEX memories_fts ON memories USING gin (org_id, env, tsv);
CREATE INDEX memories_metadata ON memories USING gin (org_id, env, metadata jsonb_path_ops);

-- Superseded versions; the current version is the row in memories.
CREATE TABLE memory_versions (
    org_id        text NOT NULL,
    env           text NOT NULL,
    memory_id     text NOT NULL,
    version       integer NOT NULL,
    text          text NOT NULL,
    metadata      jsonb NOT NULL,
    space_id      text,
    source        text NOT NULL,
    created_at    timestamptz NOT NULL,
    valid_from    timestamptz NOT NULL,
    superseded_at timestamptz NOT NULL,
    request_id    text,
    key_prefix    text,
    PRIMARY KEY (org_id, env, memory_id, version)
);

CREATE TABLE idempotency_keys (
    org_id       text NOT NULL,
    env          text NOT NULL,
    idem_key     text NOT NULL,
    fingerprint  bytea NOT NULL,
    status       integer,          -- null while the first request is in flight
    headers      text,             -- Location, when there was one
    body         bytea,
    memory_ids   text[] NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz,
    PRIMARY KEY (org_id, env, idem_key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (org_id, started_at);

-- GCRA state: losing it in a crash only forgives a minute.
CREATE UNLOGGED TABLE rate_limits (
    org_id text NOT NULL,
    key_id text NOT NULL,
    tat_us bigint NOT NULL,
    PRIMARY KEY (org_id, key_id)
);

-- Exact monthly counter of admitted live requests, kept only for tenants whose quota is hard.
CREATE TABLE quota_counters (
    org_id   text NOT NULL,
    period   date NOT NULL,
    requests bigint NOT NULL,
    PRIMARY KEY (org_id, period)
);

CREATE TABLE usage_counters (
    org_id       text NOT NULL,
    env          text NOT NULL,
    day          date NOT NULL,
    key_id       text NOT NULL,
    endpoint     text NOT NULL,
    requests     bigint NOT NULL DEFAULT 0,
    rate_limited bigint NOT NULL DEFAULT 0,
    errors       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, env, day, key_id, endpoint)
);

CREATE TABLE usage_alerts (
    org_id            text NOT NULL,
    period            date NOT NULL,
    metric            text NOT NULL,
    threshold_percent integer NOT NULL,
    reached_at        timestamptz NOT NULL,
    PRIMARY KEY (org_id, period, metric, threshold_percent)
);

CREATE TABLE audit_log (
    org_id           text NOT NULL,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    event_id         text NOT NULL,
    action           text NOT NULL,
    actor_key_prefix text,
    target_type      text NOT NULL,
    target_id        text,
    details          jsonb,
    request_id       text,
    at               timestamptz NOT NULL DEFAULT gw_now(),
    PRIMARY KEY (org_id, seq)
);

-- The admission decision of one request, in one round trip: key lookup, expiry and revocation,
-- suspension, allowed_ips, the per-key GCRA and, for hard quotas, the exact monthly counter.
-- GCRA for a limit L per minute: T = 60 s / L, tau = 60 s - T (a burst of L from idle). A request
-- at `now` is admitted iff max(tat, now) - now <= tau; then tat := max(tat, now) + T.
-- remaining = floor((now + tau - tat) / T) + 1 after admission, reset = ceil((tat - now) / 1 s).
-- A refused request waits ceil((max(tat, now) - tau - now) / 1 s) seconds, at least 1.
-- Keys without a hard quota take a fast path: one UPDATE … RETURNING takes the key's row lock and
-- decides at once, so admissions of one busy key hold its row for the least time. A hard quota's
-- monthly counter starts from the period's usage so far (a tenant moved onto the free plan
-- mid-month keeps what it used). p_limit = false skips the limiter and the quota
-- (GATEWAY_RATE_LIMITS=off, to measure their cost; never in production).
CREATE FUNCTION gw_admit(p_hash bytea, p_ip inet, p_consume boolean, p_limit boolean)
RETURNS TABLE (
    outcome text, org_id text, key_id text, key_prefix text, environment text, scopes text[],
    rate_limit integer, remaining integer, reset_seconds integer, retry_after integer,
    plan text, monthly_quota bigint, max_memories bigint, hard_quota boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
    now_us bigint;
    emission double precision;
    tau double precision;
    tat bigint;
    base bigint;
    used bigint;
    period_start date;
BEGIN
    SELECT a.org_id, a.key_id, a.key_prefix, a.environment, a.scopes, a.rate_limit_per_minute AS key_limit,
           a.allowed_ips, a.expires_at, a.revoked_at, t.suspended, t.plan,
           coalesce(t.rate_limit_override, p.rate_limit_per_minute) AS tenant_limit,
           coalesce(t.monthly_quota_override, p.monthly_request_quota) AS quota,
           coalesce(t.max_memories_override, p.max_memories) AS max_mem, p.hard_quota
      INTO k
      FROM api_keys a JOIN tenants t ON t.org_id = a.org_id JOIN plans p ON p.name = t.plan
     WHERE a.key_hash = p_hash;
    IF NOT FOUND OR k.revoked_at IS NOT NULL OR (k.expires_at IS NOT NULL AND k.expires_at <= clock_timestamp()) THEN
        outcome := 'invalid';
        RETURN NEXT;
        RETURN;
    END IF;
    org_id := k.org_id; key_id := k.key_id; key_prefix := k.key_prefix; environment := k.environment;
    scopes := k.scopes; plan := k.plan; monthly_quota := k.quota; max_memories := k.max_mem;
    hard_quota := k.hard_quota;
    rate_limit := greatest(1, CASE WHEN k.key_limit IS NULL THEN k.tenant_limit ELSE least(k.key_limit, k.tenant_limit) END);
    IF k.suspended THEN
        outcome := 'suspended';
        RETURN NEXT;
        RETURN;
    END IF;
    IF k.allowed_ips IS NOT NULL AND (p_ip IS NULL OR NOT (p_ip <<= ANY (k.allowed_ips))) THEN
        outcome := 'ip_not_allowed';
        RETURN NEXT;
        RETURN;
    END IF;

    IF NOT p_limit THEN
        outcome := 'ok';
        remaining := rate_limit;
        reset_seconds := 0;
        retry_after := 0;
        RETURN NEXT;
        RETURN;
    END IF;

    now_us := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    emission := 60000000.0 / rate_limit;
    tau := 60000000.0 - emission;
    -- Keys without a hard quota (paid plans, test keys), the common case: one UPDATE takes the
    -- row lock and decides, so the lock is held for the shortest time.
    IF NOT (k.hard_quota AND k.environment = 'live' AND p_consume) THEN
        UPDATE rate_limits r SET tat_us = greatest(r.tat_us, now_us) + emission::bigint
         WHERE r.org_id = k.org_id AND r.key_id = k.key_id AND greatest(r.tat_us, now_us) - now_us <= tau
        RETURNING r.tat_us INTO tat;
        IF FOUND THEN
            outcome := 'ok';
            remaining := greatest(0, floor((now_us + tau - tat) / emission)::integer + 1);
            reset_seconds := ceil((tat - now_us) / 1000000.0)::integer;
            retry_after := 0;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    -- A first request of the key, a refusal, or a hard quota to count: the general path.
    SELECT r.tat_us INTO tat FROM rate_limits r WHERE r.org_id = k.org_id AND r.key_id = k.key_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits AS r VALUES (k.org_id, k.key_id, 0) ON CONFLICT DO NOTHING;
        SELECT r.tat_us INTO tat FROM rate_limits r WHERE r.org_id = k.org_id AND r.key_id = k.key_id FOR UPDATE;
    END IF;
    base := greatest(tat, now_us);
    IF base - now_us > tau THEN
        outcome := 'rate_limited';
        remaining := 0;
        reset_seconds := ceil((base - now_us) / 1000000.0)::integer;
        retry_after := greatest(1, ceil((base - tau - now_us) / 1000000.0)::integer);
        RETURN NEXT;
        RETURN;
    END IF;

    IF k.hard_quota AND k.environment = 'live' AND p_consume THEN
        period_start := date_trunc('month', clock_timestamp() AT TIME ZONE 'UTC')::date;
        -- The first admission of a period seeds the counter with what usage already counted
        -- this period (a tenant moved onto a hard-quota plan mid-month keeps what it used).
        INSERT INTO quota_counters AS q
        VALUES (k.org_id, period_start,
                1 + (SELECT coalesce(sum(u.requests), 0) FROM usage_counters u
                      WHERE u.org_id = k.org_id AND u.env = 'live'
                        AND u.day >= period_start AND u.day < (period_start + interval '1 month')))
            ON CONFLICT (org_id, period) DO UPDATE SET requests = q.requests + 1 WHERE q.requests < k.quota
            RETURNING q.requests INTO used;
        IF used IS NULL OR used > k.quota THEN
            outcome := 'quota_exceeded';
            remaining := greatest(0, floor((now_us + tau - base) / emission)::integer + 1);
            reset_seconds := ceil((base - now_us) / 1000000.0)::integer;
            retry_after := ceil(extract(epoch FROM ((period_start + interval '1 month') - (clock_timestamp() AT TIME ZONE 'UTC'))))::integer;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    tat := base + emission::bigint;
    UPDATE rate_limits r SET tat_us = tat WHERE r.org_id = k.org_id AND r.key_id = k.key_id;
    outcome := 'ok';
    remaining := greatest(0, floor((now_us + tau - tat) / emission)::integer + 1);
    reset_seconds := ceil((tat - now_us) / 1000000.0)::integer;
    retry_after := 0;
    RETURN NEXT;
END $$;
