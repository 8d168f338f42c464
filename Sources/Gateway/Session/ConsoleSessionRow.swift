import PostgresStore

extension ConsoleSessions.Session {
    /// The select list of a live session over `console_sessions s` left-joined to the key it acts
    /// as, `api_keys a` (none for an operator session).
    static let selectList = """
        s.kind AS kind, a.org_id AS org_id, a.key_id AS key_id, a.key_hash AS key_hash,
        a.environment AS environment, a.key_prefix AS key_prefix, a.scopes AS scopes,
        gw_time(s.expires_at) AS expires_at
        """

    /// Decodes a row holding ``selectList``; `nil` for an unknown kind or no expiry.
    init?(_ row: PostgresRow) {
        guard let kind = row.string("kind").flatMap(ConsoleSessions.Kind.init(rawValue:)),
              let expiresAt = row.string("expires_at") else { return nil }
        self.init(kind: kind, orgID: row.string("org_id"), keyID: row.string("key_id"), keyHash: row.bytes("key_hash"),
                  environment: row.string("environment"), keyPrefix: row.string("key_prefix"),
                  scopes: row.stringArray("scopes"), expiresAt: expiresAt)
    }
}
