import PostgresStore

/// One delivery of `GET /v1/webhooks/{id}/deliveries` as read by ``selectList``:
/// `{id, event_id, type, attempt, status, response_status, error, at}`.
struct WebhookDeliveryRow: Sendable, Equatable {
    /// The select list over `webhook_deliveries d`; `seq` is the cursor.
    static let selectList = """
        d.delivery_id AS delivery_id, d.event_id AS event_id, d.type AS type, d.attempt AS attempt,
        d.status AS status, d.response_status AS response_status, d.error AS error,
        gw_time(d.updated_at) AS at, d.seq AS seq
        """

    /// `delivery_id`, `event_id`, event `type`, `status` and `gw_time` text of the last change.
    var id: String, eventID: String, type: String, status: String, at: String
    /// Attempts made so far.
    var attempt: Int64
    /// The receiver's last HTTP status, if it answered.
    var responseStatus: Int64?
    /// Why the last attempt failed, if it did.
    var error: String?
    /// The delivery's position in the history (the cursor).
    var seq: Int64?

    /// The delivery of a row whose ``selectList`` columns come from an outer join: `nil` when
    /// the join found none.
    init?(ifPresent row: PostgresRow) {
        guard let id = row.string("delivery_id") else { return nil }
        self.id = id
        eventID = row.string("event_id") ?? ""
        type = row.string("type") ?? ""
        attempt = row.int("attempt") ?? 0
        status = row.string("status") ?? "pending"
        responseStatus = row.int("response_status")
        error = row.string("error")
        at = row.string("at") ?? ""
        seq = row.int("seq")
    }

    /// The delivery object of the contract.
    var json: JSONValue {
        var item = JSONObject()
        item["id"] = .string(id)
        item["event_id"] = .string(eventID)
        item["type"] = .string(type)
        item["attempt"] = .int(attempt)
        item["status"] = .string(status)
        item["response_status"] = responseStatus.map(JSONValue.int) ?? .null
        item["error"] = error.map(JSONValue.string) ?? .null
        item["at"] = .string(at)
        return .object(item)
    }
}
