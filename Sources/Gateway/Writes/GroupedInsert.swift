import PostgresStore

/// A create that needs nothing but its row inserted (no space, a soft quota, no webhook
/// subscriber): in a group, all such creates are one multi-row `INSERT … ON CONFLICT DO NOTHING
/// RETURNING` instead of a savepoint and a statement each. A create whose row that statement does
/// not return (its custom id is taken, perhaps by an expired memory) runs its full work instead.
struct GroupedInsert: Sendable {
    /// The caller's tenant and environment: the row's, whatever else the group holds.
    var orgID: String
    var env: String
    /// The new memory's id (generated or the caller's own).
    var memoryID: String
    var text: String
    /// The metadata's JSON text, nil for `{}`.
    var metadataJSON: String?
    /// The request that wrote it and its key's prefix (the row's audit columns).
    var requestID: String
    var keyPrefix: String
    /// When it expires (`.never`: it does not).
    var expiry: MemoryInput.Expiry

    /// Inserts `inserts` in one statement; returns each inserted row by ``key``.
    static func insertAll(_ inserts: [GroupedInsert], _ connection: PostgresConnection) throws -> [String: PostgresRow] {
        var at: [String] = []
        var ttl: [String] = []
        for insert in inserts {
            switch insert.expiry {
            case .at(let text): at.append(text); ttl.append("")
            case .after(let seconds): at.append(""); ttl.append(String(seconds))
            case .never: at.append(""); ttl.append("")
            }
        }
        // Empty strings stand for "none" (text[] parameters carry no NULLs; ids are never empty).
        let rows = try connection.query(
            """
            INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix,
                                       expires_at)
            SELECT u.org, u.env, u.id, u.text, coalesce(nullif(u.metadata, ''), '{}')::jsonb, NULL, 'api', u.request,
                   u.prefix, coalesce(date_trunc('milliseconds', nullif(u.expires_at, '')::timestamptz),
                                      gw_now() + nullif(u.ttl, '')::int * interval '1 second')
              FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::text[], $9::text[]) WITH ORDINALITY
                   AS u(org, env, id, text, metadata, request, prefix, expires_at, ttl, position)
             ORDER BY u.position
            ON CONFLICT DO NOTHING
            RETURNING \(MemoryObject.columns), m.org_id AS gw_org_id, m.env AS gw_env
            """,
            [.textArray(inserts.map(\.orgID)), .textArray(inserts.map(\.env)), .textArray(inserts.map(\.memoryID)),
             .textArray(inserts.map(\.text)), .textArray(inserts.map { $0.metadataJSON ?? "" }),
             .textArray(inserts.map(\.requestID)), .textArray(inserts.map(\.keyPrefix)), .textArray(at),
             .textArray(ttl)])
        var byKey: [String: PostgresRow] = [:]
        for row in rows {
            guard let org = row.string("gw_org_id"), let env = row.string("gw_env"), let id = row.string("memory_id") else { continue }
            byKey[Self.key(org, env, id)] = row
        }
        return byKey
    }

    /// What identifies a memory across tenants.
    var key: String { Self.key(orgID, env, memoryID) }

    private static func key(_ org: String, _ env: String, _ id: String) -> String { "\(org)\u{0}\(env)\u{0}\(id)" }
}
