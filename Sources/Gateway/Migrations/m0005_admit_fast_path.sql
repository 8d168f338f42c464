-- gw_admit, revised: for keys without a hard quota the limiter is one UPDATE … RETURNING that takes
-- the key's row lock and decides at once (formerly SELECT … FOR UPDATE, then UPDATE), so
-- admissions of one busy key hold its row for less time. Same decisions, same results.
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
