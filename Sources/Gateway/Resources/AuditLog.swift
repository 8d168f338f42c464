import Auth
import PostgresStore

/// `GET /v1/account/audit-log`, and the one way events are written: inside the transaction of
/// the change they describe.
enum AuditLog {
    /// Records an event; call inside the change's transaction.
    static func record(_ connection: PostgresConnection, orgID: String, action: String, actorKeyPrefix: String?,
                       targetType: String, targetID: String?, details: JSONValue? = nil, requestID: String) throws {
        _ = try connection.query(
            """
            INSERT INTO audit_log (org_id, event_id, action, actor_key_prefix, target_type, target_id, details, request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            [.text(orgID), .text(Identifier.make(prefix: "evt")), .text(action), actorKeyPrefix.map { .text($0) } ?? .null,
             .text(targetType), targetID.map { .text($0) } ?? .null,
             details.map { .jsonb(String(decoding: $0.jsonBytes, as: UTF8.self)) } ?? .null, .text(requestID)])
    }

    static func list(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var issues = Issues()
        let limit = Paging.perPage(context.query, &issues, defaultValue: 50)
        var before: Int64?
        if let cursor = context.query["cursor"] {
            if let decoded = Cursor.decode(cursor, orgID: principal.orgID, env: "audit"), decoded.count == 1, let seq = Int64(decoded[0]) {
                before = seq
            } else {
                issues.add("cursor", "is not a valid cursor")
            }
        }
        try issues.check()
        let rows = try context.pool.query(
            """
            SELECT \(AuditRow.selectList)
              FROM audit_log
             WHERE org_id = $1 AND ($2::bigint IS NULL OR seq < $2)
               -- A test key sees only what test keys did: live activity stays in the live world.
               AND ($4 = 'live' OR starts_with(actor_key_prefix, 'mem_test_'))
             ORDER BY seq DESC LIMIT $3
            """,
            [.text(principal.orgID), before.map { .int($0) } ?? .null, .int(Int64(limit + 1)), .text(principal.env)])
        let events = rows.prefix(limit).map { AuditRow($0) }
        var nextCursor: JSONValue = .null
        if rows.count > limit, let seq = events.last?.seq {
            nextCursor = .string(Cursor.encode([String(seq)], orgID: principal.orgID, env: "audit"))
        }
        var data = JSONObject()
        data["events"] = .array(events.map(\.json))
        data["next_cursor"] = nextCursor
        return APIResponse(json: .object(data))
    }
}
