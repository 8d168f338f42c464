import PostgresStore

/// One audit event as read by ``selectList`` from `audit_log`: the event object of
/// `GET /v1/account/audit-log`.
struct AuditRow: Sendable, Equatable {
    /// The select list over `audit_log`.
    static let selectList = """
        seq, event_id, action, actor_key_prefix, target_type, target_id, details::text AS details, request_id,
        gw_time(at) AS at
        """

    /// The event's position in the tenant's log (the cursor).
    var seq: Int64?
    /// `event_id`, `action`, `target_type`.
    var eventID: String, action: String, targetType: String
    /// The prefix of the key that acted, if a key did.
    var actorKeyPrefix: String?
    /// The target's id, if it has one.
    var targetID: String?
    /// The `jsonb` details as PostgreSQL's text output, if any.
    var details: String?
    /// The request that did it.
    var requestID: String?
    /// `gw_time` text of when.
    var at: String

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        seq = row.int("seq")
        eventID = row.string("event_id") ?? ""
        action = row.string("action") ?? ""
        actorKeyPrefix = row.string("actor_key_prefix")
        targetType = row.string("target_type") ?? ""
        targetID = row.string("target_id")
        details = row.string("details")
        requestID = row.string("request_id")
        at = row.string("at") ?? ""
    }

    /// The event object of the contract (`details` only when recorded).
    var json: JSONValue {
        var target = JSONObject()
        target["type"] = .string(targetType)
        target["id"] = targetID.map { .string($0) } ?? .null
        var event = JSONObject()
        event["id"] = .string(eventID)
        event["action"] = .string(action)
        event["actor_key_prefix"] = actorKeyPrefix.map { .string($0) } ?? .null
        event["target"] = .object(target)
        if let details, let parsed = try? JSONParser.parse(Array(details.utf8)) {
            event["details"] = parsed
        }
        event["request_id"] = requestID.map { .string($0) } ?? .null
        event["at"] = .string(at)
        return .object(event)
    }
}
