-- Fair use between tenants: tenant-wide rate-limit buckets, the storage quota and its accounting,
-- and an index for the idempotency sweeper.

-- Storage quota: the UTF-8 bytes of text and metadata (as PostgreSQL prints the jsonb) of every
-- stored version, live and test together, per tenant. 1 MB = 1,000,000 bytes.
ALTER TABLE plans ADD COLUMN max_storage_mb bigint NOT NULL DEFAULT 0;
UPDATE plans SET max_storage_mb = CASE name WHEN 'free' THEN 50 WHEN 'starter' THEN 5000
                                            WHEN 'professional' THEN 100000 ELSE max_storage_mb END;
ALTER TABLE tenants ADD COLUMN max_storage_override bigint;

-- The bytes one stored version counts.
CREATE FUNCTION gw_stored_bytes(t text, m jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT octet_length(t)::bigint + octet_length(m::text) $$;

-- Storage is counted in batches, as usage is: every statement that adds or removes versions
-- appends one delta row per tenant (an append-only table: no row that every insert of a tenant
-- must lock), committed with the write itself, so no code path and no crash can miss one. Any
-- instance folds the deltas into storage_usage about twice a second (one at a time: an advisory
-- lock). A tenant's bytes are storage_usage.bytes plus its deltas not yet folded.
CREATE TABLE storage_usage (
    org_id text PRIMARY KEY,
    bytes  bigint NOT NULL
);
CREATE TABLE storage_deltas (
    org_id text NOT NULL,
    seq    bigint GENERATED ALWAYS AS IDENTITY,
    bytes  bigint NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE FUNCTION gw_storage_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_deltas (org_id, bytes)
    SELECT a.org_id, sum(gw_stored_bytes(a.text, a.metadata)) FROM added a GROUP BY a.org_id;
    RETURN NULL;
END $$;

CREATE FUNCTION gw_storage_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_deltas (org_id, bytes)
    SELECT r.org_id, -sum(gw_stored_bytes(r.text, r.metadata)) FROM removed r GROUP BY r.org_id;
    RETURN NULL;
END $$;

CREATE FUNCTION gw_storage_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_deltas (org_id, bytes)
    VALUES (NEW.org_id, gw_stored_bytes(NEW.text, NEW.metadata) - gw_stored_bytes(OLD.text, OLD.metadata));
    RETURN NULL;
END $$;

-- No write may slip between the first count and the triggers (instances of the previous version
-- may be running during the upgrade).
LOCK TABLE memories, memory_versions IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER memories_storage_added AFTER INSERT ON memories
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION gw_storage_added();
CREATE TRIGGER memories_storage_removed AFTER DELETE ON memories
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION gw_storage_removed();
-- Row level, so updates that touch neither text nor metadata (a space detached) cost nothing.
CREATE TRIGGER memories_storage_changed AFTER UPDATE OF text, metadata ON memories
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.metadata IS DISTINCT FROM NEW.metadata)
    EXECUTE FUNCTION gw_storage_changed();
CREATE TRIGGER memory_versions_storage_added AFTER INSERT ON memory_versions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION gw_storage_added();
CREATE TRIGGER memory_versions_storage_removed AFTER DELETE ON memory_versions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION gw_storage_removed();
CREATE TRIGGER memory_versions_storage_changed AFTER UPDATE OF text, metadata ON memory_versions
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.metadata IS DISTINCT FROM NEW.metadata)
    EXECUTE FUNCTION gw_storage_changed();

INSERT INTO storage_usage (org_id, bytes)
SELECT s.org_id, sum(s.bytes) FROM (
    SELECT org_id, gw_stored_bytes(text, metadata) AS bytes FROM memories
    UNION ALL
    SELECT org_id, gw_stored_bytes(text, metadata) FROM memory_versions
) s GROUP BY s.org_id;

-- The sweeper deletes records older than the replay window across all tenants.
CREATE INDEX idempotency_started ON idempotency_keys (started_at);

-- Locks a rate-limit bucket's row (made on first use) and returns its theoretical arrival time.
CREATE FUNCTION gw_lock_bucket(p_org text, p_bucket text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    tat bigint;
BEGIN
    SELECT r.tat_us INTO tat FROM rate_limits r WHERE r.org_id = p_org AND r.key_id = p_bucket FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits AS r VALUES (p_org, p_bucket, 0) ON CONFLICT DO NOTHING;
        SELECT r.tat_us INTO tat FROM rate_limits r WHERE r.org_id = p_org AND r.key_id = p_bucket FOR UPDATE;
    END IF;
    RETURN tat;
END $$;

-- The admission decision, now with two buckets: the tenant's (all keys of one tenant and
-- environment together, at the tenant's effective limit; its row in rate_limits has key_id
-- '*live' or '*test', never a key id) and, when the key's own rate_limit_per_minute is lower,
-- the key's, inside it. A request is admitted iff both admit it; then both advance. GCRA per
-- bucket as in m0001: T = 60 s / L, tau = 60 s - T; admitted iff max(tat, now) - now <= tau.
-- Rows are locked key first, then tenant, on every path, so two admissions never deadlock.
-- The headers describe the tighter bucket: the one with fewer requests remaining (refused: the
-- one that refuses longest; ties go to the key's); Retry-After waits for both.
-- Fast path (no hard quota to count): one UPDATE per bucket decides and advances it; if the
-- tenant's refuses after the key's advanced, the key's is given its emission back (tat - T is
-- max(old tat, now), which GCRA cannot tell from the old tat).
CREATE OR REPLACE FUNCTION gw_admit(p_hash bytea, p_ip inet, p_consume boolean, p_limit boolean)
RETURNS TABLE (
    outcome text, org_id text, key_id text, key_prefix text, environment text, scopes text[],
    rate_limit integer, remaining integer, reset_seconds integer, retry_after integer,
    plan text, monthly_quota bigint, max_memories bigint, hard_quota boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
    now_us bigint;
    bucket text;
    t_limit integer;
    k_limit integer;
    t_em double precision;
    t_tau double precision;
    k_em double precision;
    k_tau double precision;
    t_tat bigint;
    k_tat bigint;
    t_base bigint;
    k_base bigint;
    t_left integer;
    k_left integer;
    wait_us bigint;
    is_counted boolean;
    is_advanced boolean;
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
    t_limit := greatest(1, k.tenant_limit);
    -- A key limit at or above the tenant's adds nothing: the tenant's bucket sees every request
    -- the key's would, and more.
    k_limit := CASE WHEN k.key_limit IS NOT NULL AND k.key_limit < t_limit THEN greatest(1, k.key_limit) END;
    rate_limit := coalesce(k_limit, t_limit);
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
    bucket := '*' || k.environment;
    t_em := 60000000.0 / t_limit;
    t_tau := 60000000.0 - t_em;
    IF k_limit IS NOT NULL THEN
        k_em := 60000000.0 / k_limit;
        k_tau := 60000000.0 - k_em;
    END IF;
    is_counted := k.hard_quota AND k.environment = 'live' AND p_consume;

    IF NOT is_counted THEN
        is_advanced := true;
        IF k_limit IS NOT NULL THEN
            UPDATE rate_limits r SET tat_us = greatest(r.tat_us, now_us) + k_em::bigint
             WHERE r.org_id = k.org_id AND r.key_id = k.key_id AND greatest(r.tat_us, now_us) - now_us <= k_tau
            RETURNING r.tat_us INTO k_tat;
            is_advanced := FOUND;
        END IF;
        IF is_advanced THEN
            UPDATE rate_limits r SET tat_us = greatest(r.tat_us, now_us) + t_em::bigint
             WHERE r.org_id = k.org_id AND r.key_id = bucket AND greatest(r.tat_us, now_us) - now_us <= t_tau
            RETURNING r.tat_us INTO t_tat;
            IF FOUND THEN
                outcome := 'ok';
                t_left := greatest(0, floor((now_us + t_tau - t_tat) / t_em)::integer + 1);
                rate_limit := t_limit; remaining := t_left;
                reset_seconds := ceil((t_tat - now_us) / 1000000.0)::integer;
                IF k_limit IS NOT NULL THEN
                    k_left := greatest(0, floor((now_us + k_tau - k_tat) / k_em)::integer + 1);
                    IF k_left <= t_left THEN
                        rate_limit := k_limit; remaining := k_left;
                        reset_seconds := ceil((k_tat - now_us) / 1000000.0)::integer;
                    END IF;
                END IF;
                retry_after := 0;
                RETURN NEXT;
                RETURN;
            END IF;
            IF k_limit IS NOT NULL THEN
                UPDATE rate_limits r SET tat_us = r.tat_us - k_em::bigint
                 WHERE r.org_id = k.org_id AND r.key_id = k.key_id;
            END IF;
        END IF;
    END IF;

    -- A first request, a refusal, or a hard quota to count: the general path.
    IF k_limit IS NOT NULL THEN
        k_tat := gw_lock_bucket(k.org_id, k.key_id);
        k_base := greatest(k_tat, now_us);
    END IF;
    t_tat := gw_lock_bucket(k.org_id, bucket);
    t_base := greatest(t_tat, now_us);
    IF t_base - now_us > t_tau OR (k_limit IS NOT NULL AND k_base - now_us > k_tau) THEN
        outcome := 'rate_limited';
        remaining := 0;
        wait_us := (t_base - now_us - t_tau)::bigint;
        rate_limit := t_limit;
        reset_seconds := ceil((t_base - now_us) / 1000000.0)::integer;
        IF k_limit IS NOT NULL AND (k_base - now_us - k_tau)::bigint >= wait_us THEN
            wait_us := (k_base - now_us - k_tau)::bigint;
            rate_limit := k_limit;
            reset_seconds := ceil((k_base - now_us) / 1000000.0)::integer;
        END IF;
        retry_after := greatest(1, ceil(wait_us / 1000000.0)::integer);
        RETURN NEXT;
        RETURN;
    END IF;

    IF is_counted THEN
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
            t_left := greatest(0, floor((now_us + t_tau - t_base) / t_em)::integer + 1);
            rate_limit := t_limit; remaining := t_left;
            reset_seconds := ceil((t_base - now_us) / 1000000.0)::integer;
            IF k_limit IS NOT NULL THEN
                k_left := greatest(0, floor((now_us + k_tau - k_base) / k_em)::integer + 1);
                IF k_left <= t_left THEN
                    rate_limit := k_limit; remaining := k_left;
                    reset_seconds := ceil((k_base - now_us) / 1000000.0)::integer;
                END IF;
            END IF;
            retry_after := ceil(extract(epoch FROM ((period_start + interval '1 month') - (clock_timestamp() AT TIME ZONE 'UTC'))))::integer;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    t_tat := t_base + t_em::bigint;
    UPDATE rate_limits r SET tat_us = t_tat WHERE r.org_id = k.org_id AND r.key_id = bucket;
    outcome := 'ok';
    t_left := greatest(0, floor((now_us + t_tau - t_tat) / t_em)::integer + 1);
    rate_limit := t_limit; remaining := t_left;
    reset_seconds := ceil((t_tat - now_us) / 1000000.0)::integer;
    IF k_limit IS NOT NULL THEN
        k_tat := k_base + k_em::bigint;
        UPDATE rate_limits r SET tat_us = k_tat WHERE r.org_id = k.org_id AND r.key_id = k.key_id;
        k_left := greatest(0, floor((now_us + k_tau - k_tat) / k_em)::integer + 1);
        IF k_left <= t_left THEN
            rate_limit := k_limit; remaining := k_left;
            reset_seconds := ceil((k_tat - now_us) / 1000000.0)::integer;
        END IF;
    END IF;
    retry_after := 0;
    RETURN NEXT;
END $$;
