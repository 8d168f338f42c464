-- Keys cached per instance and leased rate-limit tokens (issue 15).
--
-- 1. Every change that affects admission sends NOTIFY gateway_events 'key:<org>' / 'tenant:<org>'
--    (or 'plans', every tenant), from triggers, so no code path (nor an operator's manual SQL)
--    can forget one. The NOTIFY is sent at commit; identical payloads in one transaction fold
--    into one. Instances drop that tenant's cached keys and leases on it.
-- 2. gw_lease: gw_admit's decision, but taking up to p_want tokens at once from the key's and
--    the tenant's buckets (one statement for both), after giving back unused tokens of the
--    previous lease.

CREATE FUNCTION gw_notify_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gateway_events', 'key:' || OLD.org_id);
    ELSE
        PERFORM pg_notify('gateway_events', 'key:' || NEW.org_id);
        IF TG_OP = 'UPDATE' AND OLD.org_id IS DISTINCT FROM NEW.org_id THEN
            PERFORM pg_notify('gateway_events', 'key:' || OLD.org_id);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION gw_notify_tenant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gateway_events', 'tenant:' || OLD.org_id);
    ELSE
        PERFORM pg_notify('gateway_events', 'tenant:' || NEW.org_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION gw_notify_plans_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_events', 'plans');
    RETURN NULL;
END $$;

-- Only the columns admission reads: last_used_at (written in batches by usage) sends nothing.
CREATE TRIGGER api_keys_admission_changed
    AFTER UPDATE OF org_id, key_hash, environment, scopes, rate_limit_per_minute, allowed_ips, expires_at, revoked_at
    ON api_keys FOR EACH ROW
    WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
          OR OLD.environment IS DISTINCT FROM NEW.environment OR OLD.scopes IS DISTINCT FROM NEW.scopes
          OR OLD.rate_limit_per_minute IS DISTINCT FROM NEW.rate_limit_per_minute
          OR OLD.allowed_ips IS DISTINCT FROM NEW.allowed_ips OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION gw_notify_key_changed();
CREATE TRIGGER api_keys_admission_deleted AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION gw_notify_key_changed();

CREATE TRIGGER tenants_admission_changed
    AFTER UPDATE OF plan, suspended, rate_limit_override, monthly_quota_override, max_memories_override
    ON tenants FOR EACH ROW
    WHEN (OLD.plan IS DISTINCT FROM NEW.plan OR OLD.suspended IS DISTINCT FROM NEW.suspended
          OR OLD.rate_limit_override IS DISTINCT FROM NEW.rate_limit_override
          OR OLD.monthly_quota_override IS DISTINCT FROM NEW.monthly_quota_override
          OR OLD.max_memories_override IS DISTINCT FROM NEW.max_memories_override)
    EXECUTE FUNCTION gw_notify_tenant_changed();
CREATE TRIGGER tenants_admission_deleted AFTER DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION gw_notify_tenant_changed();

CREATE TRIGGER plans_admission_changed AFTER UPDATE OR DELETE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION gw_notify_plans_changed();

-- gw_admit's columns, then what an instance caches about the key and the lease:
--   granted      tokens taken (the request that asked uses one of them); 0 when refused
--   expires_us   the key's expires_at in Unix microseconds (null: never), checked locally
--   suspended    the tenant is suspended (outcome says so too)
--   has_ips      the key has allowed_ips (such keys are always decided here)
--   lease_limit  the tighter of the key's and the tenant's limits (sizes the next lease)
--   key_tat, tenant_tat  the buckets' theoretical arrival times right after this lease (null
--                when none was taken in bulk): unused tokens are given back only while the
--                bucket's time is still exactly this, i.e. nobody took a token since, so the
--                give-back is exactly "as if the lease had been that much smaller".
-- A lease larger than one token is taken only for a valid, unsuspended key without allowed_ips
-- or a hard quota to count, with limiting on; everything else is gw_admit's exact decision.
CREATE FUNCTION gw_lease(p_hash bytea, p_ip inet, p_limit boolean, p_want integer,
                         p_back integer, p_back_key_tat bigint, p_back_tenant_tat bigint)
RETURNS TABLE (
    outcome text, org_id text, key_id text, key_prefix text, environment text, scopes text[],
    rate_limit integer, remaining integer, reset_seconds integer, retry_after integer,
    plan text, monthly_quota bigint, max_memories bigint, hard_quota boolean,
    granted integer, expires_us bigint, suspended boolean, has_ips boolean, key_tat bigint, tenant_tat bigint,
    lease_limit integer
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
    is_found boolean;
    now_us bigint;
    bucket text;
    t_limit integer;
    k_limit integer;
    t_em bigint;
    k_em bigint;
    t_tau double precision;
    k_tau double precision;
    t_base bigint;
    k_base bigint;
    t_tat bigint;
    k_tat bigint;
    t_left integer;
    k_left integer;
    g integer;
BEGIN
    SELECT a.org_id, a.key_id, a.key_prefix, a.environment, a.scopes, a.rate_limit_per_minute AS key_limit,
           a.allowed_ips IS NOT NULL AS has_ips, a.revoked_at IS NOT NULL AS is_revoked,
           a.expires_at IS NOT NULL AND a.expires_at <= clock_timestamp() AS is_expired,
           (extract(epoch FROM a.expires_at) * 1000000)::bigint AS expires_us, t.suspended, t.plan,
           coalesce(t.rate_limit_override, p.rate_limit_per_minute) AS tenant_limit,
           coalesce(t.monthly_quota_override, p.monthly_request_quota) AS quota,
           coalesce(t.max_memories_override, p.max_memories) AS max_mem, p.hard_quota
      INTO k
      FROM api_keys a JOIN tenants t ON t.org_id = a.org_id JOIN plans p ON p.name = t.plan
     WHERE a.key_hash = p_hash;
    is_found := FOUND;
    IF is_found THEN
        t_limit := greatest(1, k.tenant_limit);
        k_limit := CASE WHEN k.key_limit IS NOT NULL AND k.key_limit < t_limit THEN greatest(1, k.key_limit) END;
        t_em := (60000000.0 / t_limit)::bigint;
        t_tau := 60000000.0 - 60000000.0 / t_limit;
        IF k_limit IS NOT NULL THEN
            k_em := (60000000.0 / k_limit)::bigint;
            k_tau := 60000000.0 - 60000000.0 / k_limit;
        END IF;
        bucket := '*' || k.environment;
        -- The previous lease's unused tokens, key bucket first (the lock order of gw_admit).
        IF coalesce(p_back, 0) > 0 THEN
            IF k_limit IS NOT NULL AND p_back_key_tat IS NOT NULL THEN
                UPDATE rate_limits r SET tat_us = r.tat_us - least(p_back, 100000) * k_em
                 WHERE r.org_id = k.org_id AND r.key_id = k.key_id AND r.tat_us = p_back_key_tat;
            END IF;
            IF p_back_tenant_tat IS NOT NULL THEN
                UPDATE rate_limits r SET tat_us = r.tat_us - least(p_back, 100000) * t_em
                 WHERE r.org_id = k.org_id AND r.key_id = bucket AND r.tat_us = p_back_tenant_tat;
            END IF;
        END IF;
    END IF;

    IF NOT is_found OR coalesce(p_want, 1) <= 1 OR NOT p_limit OR k.is_revoked OR k.is_expired OR k.suspended
       OR k.has_ips OR (k.hard_quota AND k.environment = 'live') THEN
        RETURN QUERY
            SELECT d.outcome, d.org_id, d.key_id, d.key_prefix, d.environment, d.scopes, d.rate_limit, d.remaining,
                   d.reset_seconds, d.retry_after, d.plan, d.monthly_quota, d.max_memories, d.hard_quota,
                   CASE WHEN d.outcome = 'ok' AND p_limit THEN 1 ELSE 0 END, k.expires_us, k.suspended, k.has_ips,
                   NULL::bigint, NULL::bigint, coalesce(k_limit, t_limit)
              FROM gw_admit(p_hash, p_ip, true, p_limit) d;
        RETURN;
    END IF;

    now_us := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    IF k_limit IS NOT NULL THEN
        k_base := greatest(gw_lock_bucket(k.org_id, k.key_id), now_us);
    END IF;
    t_base := greatest(gw_lock_bucket(k.org_id, bucket), now_us);
    -- GCRA for g tokens at once: admitted iff base + (g - 1) * T - now <= tau for the last one.
    g := least(p_want, 100000, floor((now_us + t_tau - t_base) / t_em)::integer + 1);
    IF k_limit IS NOT NULL THEN
        g := least(g, floor((now_us + k_tau - k_base) / k_em)::integer + 1);
    END IF;
    IF g < 1 THEN
        -- Refused: gw_admit decides (and explains) it exactly.
        RETURN QUERY
            SELECT d.outcome, d.org_id, d.key_id, d.key_prefix, d.environment, d.scopes, d.rate_limit, d.remaining,
                   d.reset_seconds, d.retry_after, d.plan, d.monthly_quota, d.max_memories, d.hard_quota,
                   CASE WHEN d.outcome = 'ok' THEN 1 ELSE 0 END, k.expires_us, k.suspended, k.has_ips,
                   NULL::bigint, NULL::bigint, coalesce(k_limit, t_limit)
              FROM gw_admit(p_hash, p_ip, true, p_limit) d;
        RETURN;
    END IF;

    t_tat := t_base + g * t_em;
    UPDATE rate_limits r SET tat_us = t_tat WHERE r.org_id = k.org_id AND r.key_id = bucket;
    outcome := 'ok';
    org_id := k.org_id; key_id := k.key_id; key_prefix := k.key_prefix; environment := k.environment;
    scopes := k.scopes; plan := k.plan; monthly_quota := k.quota; max_memories := k.max_mem;
    hard_quota := k.hard_quota;
    t_left := greatest(0, floor((now_us + t_tau - t_tat) / t_em)::integer + 1);
    rate_limit := t_limit; remaining := t_left;
    reset_seconds := ceil((t_tat - now_us) / 1000000.0)::integer;
    IF k_limit IS NOT NULL THEN
        k_tat := k_base + g * k_em;
        UPDATE rate_limits r SET tat_us = k_tat WHERE r.org_id = k.org_id AND r.key_id = k.key_id;
        k_left := greatest(0, floor((now_us + k_tau - k_tat) / k_em)::integer + 1);
        IF k_left <= t_left THEN
            rate_limit := k_limit; remaining := k_left;
            reset_seconds := ceil((k_tat - now_us) / 1000000.0)::integer;
        END IF;
    END IF;
    retry_after := 0;
    granted := g; expires_us := k.expires_us; suspended := k.suspended; has_ips := k.has_ips;
    key_tat := k_tat; tenant_tat := t_tat; lease_limit := coalesce(k_limit, t_limit);
    RETURN NEXT;
END $$;
