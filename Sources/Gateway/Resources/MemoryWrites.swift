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
        let rows = try connection.query("SELECT count(*) FROM memories WHERE org_id = $1 AND env = 'live'",
                                        [.text(principal.orgID)])
        let stored = rows.first?.int(0) ?? 0
        if stored + Int64(adding) > principal.maxMemories {
            throw APIError(status: 429, code: "quota_exceeded",
                           message: "the plan stores at most \(principal.maxMemories) memories (\(stored) stored)",
                           retryAfterIsNull: true)
        }
    }

    /// Creates the space `spaceID` on first use (named after its id). Call inside the transaction.
    static func ensureSpace(_ connection: PostgresConnection, principal: Principal, spaceID: String) throws {
        _ = try connection.query(
            "INSERT INTO spaces (org_id, env, space_id, name) VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
            [.text(principal.orgID), .text(principal.env), .text(spaceID)])
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
