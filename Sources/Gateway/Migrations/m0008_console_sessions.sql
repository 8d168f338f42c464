-- Console sessions (docs/API.md "Console"): a browser signs in once with an admin key or the
-- operator token and then holds only a random session token in an HttpOnly cookie. Only the
-- token's SHA-256 is kept, so a database dump opens no session. A tenant session refers to the
-- key that made it by the key's hash (as every request finds its key: `api_keys_by_hash`), and acts
-- as that key: its scopes, limits and usage come from the key on every request. An operator
-- session remembers the hash of the operator token it was made with, so changing the token ends it.
-- No org_id: like the key-hash lookup, a session is found by its token alone (on Citus, a
-- reference table; docs/operations-scaling.md).
CREATE TABLE console_sessions (
    token_hash    bytea PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('tenant', 'operator')),
    key_hash      bytea REFERENCES api_keys (key_hash) ON DELETE CASCADE,
    operator_hash bytea,
    created_at    timestamptz NOT NULL DEFAULT gw_now(),
    expires_at    timestamptz NOT NULL,
    CHECK ((kind = 'tenant' AND key_hash IS NOT NULL AND operator_hash IS NULL)
        OR (kind = 'operator' AND key_hash IS NULL AND operator_hash IS NOT NULL))
);

-- Sign-out ends every session of one key (or every operator session) at once.
CREATE INDEX console_sessions_by_key ON console_sessions (key_hash);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

-- Revoking a key ends its sessions in the same transaction. (Admission refuses a revoked key's
-- sessions anyway; deleting them keeps no dead session around.)
CREATE FUNCTION gw_end_console_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM console_sessions WHERE key_hash = NEW.key_hash;
    RETURN NEW;
END $$;

CREATE TRIGGER api_keys_end_console_sessions AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION gw_end_console_sessions();
