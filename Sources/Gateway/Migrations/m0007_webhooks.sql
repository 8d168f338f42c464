-- Webhooks (v1.1): subscriptions per tenant and environment, the outbox of events written in the
-- transaction of the change, and one delivery per (event, webhook) that any instance may claim.

CREATE TABLE webhooks (
    org_id      text NOT NULL REFERENCES tenants (org_id) ON DELETE CASCADE,
    webhook_id  text NOT NULL,
    env         text NOT NULL,
    url         text NOT NULL,
    events      text[] NOT NULL,
    description text,
    -- The signing secret (`whsec_…`). It must be recoverable to sign, so it is not hashed: it is
    -- protected like the memories themselves (database access), never logged, shown only at creation.
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT gw_now(),
    -- The delivery lease: the instance holding it is the only one delivering to this webhook,
    -- so deliveries to one URL go one at a time, in order. An expired lease is free again.
    lease_token text,
    lease_until timestamptz,
    PRIMARY KEY (org_id, webhook_id)
);
CREATE INDEX webhooks_scope ON webhooks (org_id, env);

CREATE TABLE webhook_events (
    org_id     text NOT NULL,
    event_id   text NOT NULL,
    env        text NOT NULL,
    type       text NOT NULL,
    -- The exact bytes POSTed: {type, timestamp, data}; signed per attempt.
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT gw_now(),
    PRIMARY KEY (org_id, event_id)
);

CREATE TABLE webhook_deliveries (
    org_id          text NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id     text NOT NULL,
    webhook_id      text NOT NULL,
    event_id        text NOT NULL,
    env             text NOT NULL,
    type            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'retrying', 'failed')),
    attempt         integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT gw_now(),
    response_status integer,
    error           text,
    updated_at      timestamptz NOT NULL DEFAULT gw_now(),
    PRIMARY KEY (org_id, seq),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, webhook_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, event_id) REFERENCES webhook_events (org_id, event_id) ON DELETE CASCADE
);
-- What the deliverers look for (across tenants: delivery is the operator's background work).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, org_id, webhook_id)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX webhook_deliveries_history ON webhook_deliveries (org_id, webhook_id, seq DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (org_id, event_id);

-- A random id: `prefix_` and 20 base62 characters (not secret; unique by width).
CREATE FUNCTION gw_random_id(prefix text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT prefix || '_' || string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                             1 + floor(random() * 62)::int, 1), '')
     FROM generate_series(1, 20) $$;

-- Writes events to the outbox, with one delivery per subscribed webhook, and wakes the deliverers
-- (the NOTIFY is sent at commit, so a rolled-back change sends nothing). Writes nothing when no
-- webhook of (org, env) subscribes to `event_type` (or to "*"); `only_webhook` sends to that one
-- webhook alone, whatever it subscribes to (webhook.test). `ids` and `bodies` are parallel arrays. Returns how
-- many deliveries were queued.
CREATE FUNCTION gw_webhook_enqueue(p_org text, p_env text, event_type text, ids text[], bodies text[],
                                   only_webhook text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    hooks text[];
    queued bigint;
BEGIN
    SELECT array_agg(webhook_id) INTO hooks FROM webhooks
     WHERE org_id = p_org AND env = p_env
       AND CASE WHEN only_webhook IS NULL THEN events @> ARRAY[event_type] OR events @> ARRAY['*']
                ELSE webhook_id = only_webhook END;
    IF hooks IS NULL OR cardinality(ids) = 0 THEN RETURN 0; END IF;
    INSERT INTO webhook_events (event_id, org_id, env, type, body)
    SELECT e.id, p_org, p_env, event_type, e.body FROM unnest(ids, bodies) AS e(id, body);
    INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, org_id, env, type)
    SELECT gw_random_id('dlv'), h.id, e.id, p_org, p_env, event_type
      FROM unnest(ids) WITH ORDINALITY AS e(id, n), unnest(hooks) AS h(id)
     ORDER BY e.n, h.id;
    GET DIAGNOSTICS queued = ROW_COUNT;
    PERFORM pg_notify('gateway_webhooks', '');
    RETURN queued;
END
$$;
