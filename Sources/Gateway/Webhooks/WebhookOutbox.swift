import Auth
import Foundation
import PostgresStore
import Synchronization

/// Writes webhook events to the outbox inside the caller's transaction, so a committed change
/// always has its event and a rolled-back one never does.
///
/// ```swift
/// try context.pool.transaction { connection in
///     // … the change …
///     try context.services.webhooks.record(connection, orgID: org, env: env, type: WebhookEvent.memoryDeleted,
///                                          data: .object(JSONObject([("id", .string(id)), ("reason", "expired")])))
/// }
/// ```
///
/// A tenant and environment without a webhook pay nothing: which event types each (org, env)
/// subscribes to is cached per instance, so `record` returns without a statement when none does.
/// The cache is emptied for an (org, env) when its webhooks change (a NOTIFY on
/// ``GatewayApp/eventsChannel`` reaches every instance), entirely when the listener reconnects,
/// and an entry is reloaded after ``maxAge`` regardless.
final class WebhookOutbox: Sendable {
    /// Cached subscriptions older than this are read again (a backstop for a lost NOTIFY).
    static let maxAge: Duration = .seconds(30)
    /// Entries kept at most; past it the cache starts over.
    static let maxEntries = 100_000
    /// The NOTIFY payload prefix that says an (org, env)'s webhooks changed.
    static let notificationPrefix = "webhooks:"
    /// The channel deliverers listen on; `gw_webhook_enqueue` notifies it at commit.
    static let deliveryChannel = "gateway_webhooks"

    private struct Entry {
        var types: Set<String>
        var loadedAt: ContinuousClock.Instant
    }

    private let cache = Mutex<[String: Entry]>([:])

    private static func cacheKey(_ orgID: String, _ env: String) -> String { orgID + "\u{1F}" + env }

    /// Whether a webhook of (org, env) subscribes to `type` (directly or with `"*"`); cached.
    func isSubscribed(_ connection: PostgresConnection, orgID: String, env: String, type: String) throws -> Bool {
        let key = Self.cacheKey(orgID, env)
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[key] }), now - entry.loadedAt < Self.maxAge {
            return entry.types.contains(type) || entry.types.contains(WebhookEvent.all)
        }
        let rows = try connection.query(
            "SELECT DISTINCT e AS type FROM webhooks w, unnest(w.events) e WHERE w.org_id = $1 AND w.env = $2",
            [.text(orgID), .text(env)])
        let types = Set(rows.compactMap { $0.string("type") })
        cache.withLock { cache in
            if cache.count >= Self.maxEntries { cache.removeAll() }
            cache[key] = Entry(types: types, loadedAt: now)
        }
        return types.contains(type) || types.contains(WebhookEvent.all)
    }

    /// ``isSubscribed(_:orgID:env:type:)`` on a connection of `database`.
    func isSubscribed(_ database: Database, orgID: String, env: String, type: String) throws -> Bool {
        try database.withConnection { try isSubscribed($0, orgID: orgID, env: env, type: type) }
    }

    /// Records one event per element of `data` (a batch: one `memory.created` per memory), in the
    /// transaction open on `connection`. Does nothing when no webhook subscribes.
    /// - Parameter onlyWebhook: deliver to that webhook alone, whatever it subscribes to (`webhook.test`).
    /// - Returns: the event ids written (empty when nobody subscribes).
    @discardableResult
    func record(_ connection: PostgresConnection, orgID: String, env: String, type: String, data: [JSONValue],
                onlyWebhook: String? = nil) throws -> [String] {
        guard !data.isEmpty else { return [] }
        if onlyWebhook == nil, try !isSubscribed(connection, orgID: orgID, env: env, type: type) { return [] }
        let timestamp = UTCDate.timestamp(Date())
        var ids: [String] = []
        var bodies: [String] = []
        ids.reserveCapacity(data.count)
        bodies.reserveCapacity(data.count)
        for item in data {
            ids.append(Identifier.make(prefix: "evt"))
            let body = JSONObject([("type", .string(type)), ("timestamp", .string(timestamp)), ("data", item)])
            bodies.append(String(decoding: JSONValue.object(body).jsonBytes, as: UTF8.self))
        }
        _ = try connection.query(
            "SELECT gw_webhook_enqueue($1, $2, $3, $4::text[], $5::text[], $6)",
            [.text(orgID), .text(env), .text(type), .textArray(ids), .textArray(bodies),
             onlyWebhook.map(PostgresValue.text) ?? .null])
        return ids
    }

    /// One event: ``record(_:orgID:env:type:data:onlyWebhook:)`` with a single `data`.
    @discardableResult
    func record(_ connection: PostgresConnection, orgID: String, env: String, type: String, data: JSONValue,
                onlyWebhook: String? = nil) throws -> String? {
        try record(connection, orgID: orgID, env: env, type: type, data: [data], onlyWebhook: onlyWebhook).first
    }

    /// Forgets what (org, env) subscribes to (its webhooks changed).
    func invalidate(orgID: String, env: String) {
        _ = cache.withLock { $0.removeValue(forKey: Self.cacheKey(orgID, env)) }
    }

    /// Forgets everything (the listener reconnected: notifications may have been missed).
    func invalidateAll() {
        cache.withLock { $0.removeAll() }
    }

    /// Handles a NOTIFY payload on the events channel: `webhooks:<org>\u{1F}<env>`.
    func handleNotification(_ payload: String) {
        guard payload.hasPrefix(Self.notificationPrefix) else { return }
        let rest = payload.dropFirst(Self.notificationPrefix.count)
        let parts = rest.split(separator: "\u{1F}", omittingEmptySubsequences: false)
        guard parts.count == 2 else { invalidateAll(); return }
        invalidate(orgID: String(parts[0]), env: String(parts[1]))
    }

    /// The NOTIFY payload announcing that (org, env)'s webhooks changed.
    static func notification(orgID: String, env: String) -> String {
        notificationPrefix + orgID + "\u{1F}" + env
    }
}
