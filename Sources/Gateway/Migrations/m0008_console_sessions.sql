-- Console sessions (docs/API.md "Console"): a browser signs in once with an admin key or the
-- operator token and then holds only a random session token in an HttpOnly cookie. Only the
-- token's SHA-256 is kept, so a database dump opens no session. A tenant session acts as the key
-- that made it (its scopes, limits and usage come from that key on every request); an operator
-- session remembers the hash of the operator token it was made with, so changing the token ends it.
CREATE TABLE console_sessions (
    token_hash    bytea PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('tenant', 'operator')),
    org_id        text,
    key_id        text,
    operator_hash bytea,
    created_at    timestamptz NOT NULL DEFAULT gw_now(),
    expires_at    timestamptz NOT NULL,
    FOREIGN KEY (org_id, key_id) REFERENCES api_keys (org_id, key_id) ON DELETE CASCADE,
    CHECK ((kind = 'tenant' AND org_id IS NOT NULL AND key_id IS NOT NULL AND operator_hash IS NULL)
        OR (kind = 'operator' AND org_id IS NULL AND key_id IS NULL AND operator_hash IS NOT NULL))
);

-- Sign-out ends every session of one key (or every operator session) at once.
CREATE INDEX console_sessions_by_key ON console_sessions (org_id, key_id);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

-- Revoking a key ends its sessions in the same transaction. (Admission refuses a revoked key's
-- sessions anyway; deleting them keeps no dead session around.)
CREATE FUNCTION gw_end_console_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM console_sessions WHERE org_id = NEW.org_id AND key_id = NEW.key_id;
    RETURN NEW;
END $$;

CREATE TRIGGER api_keys_end_console_sessions AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION gw_end_console_sessions();
