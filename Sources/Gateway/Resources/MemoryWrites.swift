import PostgresStore

/// Pieces every path that writes memories shares (create, batch, update, extraction, erasure).
enum MemoryWrites {
    /// Enforces a hard memory quota (the free plan): refuses, whole, a write that would store more
    /// live memories than `max_memories`. Call inside the write's transaction, before inserting
    /// `adding` new memories. Paid plans' quotas are soft: no check, no lock. The advisory lock
    /// serialises a tenant's concurrent writers only while its quota is hard.
    static func reserveQuota(_ connection: PostgresConnection, principal: Principal, adding: Int) throws {
        guard principal.hardQuota, principal.isLive, adding > 0 else { return }
        _ = try connection.query("SELECT pg_advisory_xact_lock(hashtextextended('memories:' || $1, 0))",
                                 [.text(principal.orgID)])
        // An expired memory no longer counts, swept or not (expiry is a delete).
        let rows = try connection.query(
            "SELECT count(*) AS count FROM memories m WHERE org_id = $1 AND env = 'live' AND \(MemoryObject.isLive())",
            [.text(principal.orgID)])
        let stored = rows.first?.int("count") ?? 0
        if stored + Int64(adding) > principal.maxMemories {
            throw APIError(status: 429, code: "quota_exceeded",
                           message: "the plan stores at most \(principal.maxMemories) memories (\(stored) stored)",
                           retryAfterIsNull: true)
        }
    }

    /// Enforces the storage quota (every plan): refuses, whole, a write that would store `adding`
    /// bytes past the tenant's `max_storage_mb`, judged by the instance's figure of the tenant's
    /// storage (at most one refresh interval old; no round trip).
    static func reserveStorage(_ context: RequestContext, adding: Int) throws {
        guard adding > 0 else { return }
        try context.services.storage.check(orgID: context.tenant.orgID, adding: adding)
    }

    /// Reads the tenant's storage figure if this instance does not know it yet: call before a
    /// transaction that will `reserveStorage` inside it, so the check never leases a second
    /// connection while holding one.
    static func prepareStorage(_ context: RequestContext) throws {
        _ = try context.services.storage.figure(orgID: context.tenant.orgID)
    }

    /// Creates the space `spaceID` on first use (named after its id), and holds it (`FOR KEY
    /// SHARE`) until the transaction ends: a concurrent `DELETE /v1/spaces/{id}` then waits, and
    /// detaches this transaction's memories too, instead of leaving them pointing at a deleted
    /// space. Writers into one space do not block each other. Call inside the transaction.
    static func ensureSpace(_ connection: PostgresConnection, principal: Principal, spaceID: String) throws {
        for _ in 0..<3 {
            let rows = try connection.query(
                """
                WITH created AS (
                    INSERT INTO spaces (org_id, env, space_id, name) VALUES ($1, $2, $3, $3)
                    ON CONFLICT DO NOTHING RETURNING 1
                ), held AS (
                    SELECT 1 FROM spaces WHERE org_id = $1 AND env = $2 AND space_id = $3 FOR KEY SHARE
                )
                SELECT (SELECT count(*) FROM created) + (SELECT count(*) FROM held) AS count
                """,
                [.text(principal.orgID), .text(principal.env), .text(spaceID)])
            // Neither made nor found: deleted between the two; make it again.
            if (rows.first?.int("count") ?? 0) > 0 { return }
        }
        throw APIError(status: 503, code: "service_unavailable",
                       message: "the space is being deleted and re-created concurrently; retry", retryAfter: 1)
    }

    /// Deletes the memories matching `conditions` (on `memories m`; `parameters` bind `$1` to the
    /// caller's org and `$2` to its environment, and the rest), with their history and the stored
    /// idempotent responses that show them (erasure leaves nothing of them). Returns their ids.
    /// Call inside the transaction.
    static func erase(_ connection: PostgresConnection, principal: Principal, conditions: String,
                      parameters: [PostgresValue]) throws -> [String] {
        let rows = try connection.query(
            """
            WITH gone AS (
                DELETE FROM memories m WHERE \(conditions) RETURNING m.memory_id
            ), versions AS (
                DELETE FROM memory_versions v USING gone
                 WHERE v.org_id = $1 AND v.env = $2 AND v.memory_id = gone.memory_id
            )
            SELECT memory_id FROM gone
            """,
            parameters)
        let ids = rows.compactMap { $0.string("memory_id") }
        try forgetReplays(connection, principal: principal, memoryIDs: ids)
        return ids
    }

    /// Forgets stored idempotent responses that show any of `memoryIDs` (erasure): a later retry
    /// with such a key is processed afresh.
    static func forgetReplays(_ connection: PostgresConnection, principal: Principal, memoryIDs: [String]) throws {
        guard !memoryIDs.isEmpty else { return }
        _ = try connection.query(
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND env = $2 AND memory_ids && $3::text[]",
            [.text(principal.orgID), .text(principal.env), .textArray(memoryIDs)])
    }
}
