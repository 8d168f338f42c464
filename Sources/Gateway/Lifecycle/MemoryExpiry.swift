import PostgresStore

/// Deleting expired memories: the one place where expiry removes rows (the sweeper, and a write
/// that reuses the id of an expired memory). Reads never wait for it: every read checks
/// `MemoryObject.isLive` itself, so a memory is gone from the instant it expires.
///
/// The seam for `memory.deleted` events with `reason: "expired"`: both functions run inside the
/// caller's transaction and return what they deleted, so the caller can write one event per
/// ``ExpiredMemory`` in that same transaction (committed with the deletion, or not at all).
enum MemoryExpiry {
    /// One memory deleted because it expired.
    struct ExpiredMemory: Sendable, Hashable {
        var orgID: String
        var env: String
        var memoryID: String
    }

    /// Deletes up to `limit` expired memories of any tenant, oldest expiry first, with their
    /// history and the stored idempotent responses that show them. Walks `memories_expiry` (a
    /// partial index on `expires_at`), so it never scans a tenant; rows a request holds locked
    /// are skipped (`SKIP LOCKED`) and taken by a later sweep. Call inside a transaction.
    static func deleteExpired(_ connection: PostgresConnection, limit: Int) throws -> [ExpiredMemory] {
        let rows = try connection.query(
            """
            WITH due AS (
                SELECT org_id, env, memory_id FROM memories
                 WHERE expires_at <= now()
                 ORDER BY expires_at
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED
            ), \(deletions(from: "due"))
            SELECT org_id, env, memory_id FROM gone
            """,
            [.int(Int64(limit))])
        return expired(rows)
    }

    /// Deletes those of `memoryIDs` (of the caller's tenant and environment) that have expired but
    /// are not swept yet, as ``deleteExpired(_:limit:)`` would: a write may then reuse their ids,
    /// exactly as after a delete. Waits for a sweep holding one of them. Call inside the write's
    /// transaction, before it looks the ids up.
    static func deleteExpired(_ connection: PostgresConnection, principal: Principal,
                              memoryIDs: [String]) throws -> [ExpiredMemory] {
        guard !memoryIDs.isEmpty else { return [] }
        let rows = try connection.query(
            """
            WITH due AS (
                SELECT org_id, env, memory_id FROM memories
                 WHERE org_id = $1 AND env = $2 AND memory_id = ANY ($3::text[]) AND expires_at <= now()
                 ORDER BY memory_id
                   FOR UPDATE
            ), \(deletions(from: "due"))
            SELECT org_id, env, memory_id FROM gone
            """,
            [.text(principal.orgID), .text(principal.env), .textArray(memoryIDs)])
        return expired(rows)
    }

    /// The CTEs deleting the memories of relation `due` `(org_id, env, memory_id)`, their versions
    /// and the idempotent responses showing them; relation `gone` holds what was deleted.
    private static func deletions(from due: String) -> String {
        """
        gone AS (
            DELETE FROM memories m USING \(due) d
             WHERE m.org_id = d.org_id AND m.env = d.env AND m.memory_id = d.memory_id
            RETURNING m.org_id, m.env, m.memory_id
        ), versions AS (
            DELETE FROM memory_versions v USING gone g
             WHERE v.org_id = g.org_id AND v.env = g.env AND v.memory_id = g.memory_id
        ), replays AS (
            DELETE FROM idempotency_keys i
             USING (SELECT org_id, env, array_agg(memory_id) AS ids FROM gone GROUP BY org_id, env) g
             WHERE i.org_id = g.org_id AND i.env = g.env AND i.memory_ids && g.ids
        )
        """
    }

    private static func expired(_ rows: PostgresRows) -> [ExpiredMemory] {
        rows.map {
            ExpiredMemory(orgID: $0.string("org_id") ?? "", env: $0.string("env") ?? "",
                          memoryID: $0.string("memory_id") ?? "")
        }
    }

    /// Writes one `memory.deleted` event (`reason: "expired"`) per deleted memory to the webhook
    /// outbox, in the caller's transaction (the one that deleted them), so a committed expiry always
    /// produces its event and a rolled-back one never does.
    static func recordDeleted(_ expired: [ExpiredMemory], _ connection: PostgresConnection,
                              webhooks: WebhookOutbox) throws {
        let byTenant = Dictionary(grouping: expired) { "\($0.orgID)\u{0}\($0.env)" }
        for group in byTenant.values {
            guard let first = group.first else { continue }
            _ = try webhooks.record(
                connection, orgID: first.orgID, env: first.env, type: WebhookEvent.memoryDeleted,
                data: group.map { .object(JSONObject([("id", .string($0.memoryID)), ("reason", "expired")])) })
        }
    }
}
