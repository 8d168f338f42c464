-- Memory lifecycle: expiry. A memory whose expires_at has passed is gone for every read (each
-- statement checks `expires_at IS NULL OR expires_at > now()`), and the sweeper deletes it with
-- its history within a minute. Reads reach memories through the existing tenant indexes and only
-- filter on expires_at (at most a minute's expired rows remain); the sweeper walks this partial
-- index from the oldest expiry, so it never scans a tenant, and memories without expiry cost
-- nothing in it.
ALTER TABLE memories ADD COLUMN expires_at timestamptz;
CREATE INDEX memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;

