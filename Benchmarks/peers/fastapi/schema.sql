-- The peer's own limiter and usage tables, beside the gateway's schema in the benchmark database.
CREATE TABLE IF NOT EXISTS peer_buckets (key_id text PRIMARY KEY, tat timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS peer_usage (
    org_id text NOT NULL, key_id text NOT NULL, day date NOT NULL, endpoint text NOT NULL,
    requests bigint NOT NULL,
    PRIMARY KEY (org_id, key_id, day, endpoint)
);
