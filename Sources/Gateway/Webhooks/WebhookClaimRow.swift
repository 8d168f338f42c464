import PostgresStore

/// A leased webhook and its next due delivery, as read by ``selectList``: the rows the
/// deliverer's claim and continue statements return. The delivery columns are NULL when the
/// webhook has no due delivery left (they come from a lateral join).
struct WebhookClaimRow: Sendable, Equatable {
    /// The select list over the leased webhook `l`, its due delivery `d` and the event `e`.
    static let selectList = """
        l.org_id AS org_id, l.webhook_id AS webhook_id, l.url AS url, l.secret AS secret, d.seq AS seq,
        d.event_id AS event_id, d.attempt AS attempt, e.body AS body
        """

    /// The leased webhook.
    var orgID: String?, webhookID: String?, url: String?, secret: String?
    /// The due delivery, `nil` when there is none.
    var seq: Int64?, eventID: String?, body: String?
    /// Attempts made so far.
    var attempt: Int

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        orgID = row.string("org_id")
        webhookID = row.string("webhook_id")
        url = row.string("url")
        secret = row.string("secret")
        seq = row.int("seq")
        eventID = row.string("event_id")
        attempt = Int(clamping: row.int("attempt") ?? 0)
        body = row.string("body")
    }
}
