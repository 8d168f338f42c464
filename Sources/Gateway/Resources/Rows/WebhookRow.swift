import PostgresStore

/// One webhook subscription as read by ``selectList``: `{"id", "url", "events", "description", "created_at"}`
/// (the secret is never read back).
struct WebhookRow: Sendable, Equatable {
    /// The select list over `webhooks w`.
    static let selectList = "w.webhook_id AS webhook_id, w.url AS url, w.events AS events, "
        + "w.description AS description, gw_time(w.created_at) AS created_at"

    /// `webhook_id`, `url` and `gw_time` text of `created_at`.
    var id: String, url: String, createdAt: String
    /// The event types subscribed to (`*` for all).
    var events: [String]
    /// The description, if any.
    var description: String?

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        id = row.string("webhook_id") ?? ""
        url = row.string("url") ?? ""
        events = row.stringArray("events") ?? []
        description = row.string("description")
        createdAt = row.string("created_at") ?? ""
    }

    /// The webhook object of the contract (no secret).
    var json: JSONObject {
        var object = JSONObject()
        object["id"] = .string(id)
        object["url"] = .string(url)
        object["events"] = .array(events.map(JSONValue.string))
        object["description"] = description.map(JSONValue.string) ?? .null
        object["created_at"] = .string(createdAt)
        return object
    }
}
