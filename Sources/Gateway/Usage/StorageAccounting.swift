import Foundation
import PostgresStore
import Synchronization

/// The storage quota: what each tenant stores (the UTF-8 bytes of text and metadata of every
/// version, live and test together) against its `max_storage_mb`.
///
/// PostgreSQL counts: triggers on `memories` and `memory_versions` append one delta row per
/// statement and tenant to `storage_deltas`, in the write's own transaction (m0005), so nothing is
/// lost to a crash and no write path can forget to count. No insert locks a per-tenant row and no
/// insert runs a `COUNT(*)`: every `interval` one instance at a time (an advisory lock) folds the
/// deltas into `storage_usage`, and every instance re-reads the figures of the tenants it has seen
/// writing (deltas not yet folded included) into a local table. A write is checked against that
/// table without a round trip, so a tenant can pass its quota by at most the writes of one
/// interval (default 0.5 s) before every instance refuses.
final class StorageAccounting: Sendable {
    /// What one instance knows of a tenant's storage.
    struct Figure: Sendable, Equatable {
        var bytes: Int64
        var quotaBytes: Int64

        /// Whether no write at all fits any more.
        var isFull: Bool { bytes >= quotaBytes }
    }

    /// The advisory lock the instance folding the deltas holds ("MGSTORAG").
    static let foldLockKey: Int64 = 0x4D47_5354_4F52_4147
    /// Bytes per MB of `max_storage_mb`.
    static let bytesPerMB: Int64 = 1_000_000
    /// The endpoints (`METHOD /template`) whose requests store memory text.
    static let storingEndpoints: Set<String> = [
        "POST /v1/memories", "PUT /v1/memories/{id}", "POST /v1/memories/batch", "POST /v1/query/extract",
    ]
    /// A tenant not seen writing for this long is no longer refreshed (read again on its next write).
    static let forgetAfter: Duration = .seconds(600)

    private struct Entry {
        var figure: Figure
        var lastUsed: ContinuousClock.Instant
    }

    private let pool: PostgresPool
    private let interval: Duration
    private let entries = Mutex<[String: Entry]>([:])
    private let job: PeriodicJob

    init(pool: PostgresPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
        job = PeriodicJob(name: "storage-accounting", interval: interval, failure: "storage accounting failed; will retry")
    }

    // MARK: - Checks

    /// Refuses a write that would store `adding` more bytes than the tenant's quota allows:
    /// 429 `quota_exceeded` with `retry_after: null`.
    func check(orgID: String, adding: Int) throws {
        let figure = try self.figure(orgID: orgID)
        let (total, overflow) = figure.bytes.addingReportingOverflow(Int64(clamping: adding))
        if overflow || total > figure.quotaBytes {
            throw Self.refusal(figure)
        }
    }

    /// The refusal of a write past the quota.
    static func refusal(_ figure: Figure) -> APIError {
        APIError(status: 429, code: "quota_exceeded",
                 message: "the plan stores at most \(figure.quotaBytes / bytesPerMB) MB "
                     + "(\(figure.bytes) bytes stored); delete memories or raise the plan",
                 retryAfterIsNull: true)
    }

    /// Whether the tenant's last known figure leaves room for no write; false when unknown. No
    /// round trip: for refusals remembered before admission.
    func isFull(orgID: String) -> Bool {
        entries.withLock { $0[orgID]?.figure.isFull ?? false }
    }

    /// The tenant's figure as this instance knows it (read from PostgreSQL on first use).
    func figure(orgID: String) throws -> Figure {
        let now = ContinuousClock.now
        let known = entries.withLock { table -> Figure? in
            guard table[orgID] != nil else { return nil }
            table[orgID]?.lastUsed = now
            return table[orgID]?.figure
        }
        if let known { return known }
        let read = try Self.read(pool: pool, orgIDs: [orgID])
        let figure = read[orgID] ?? Figure(bytes: 0, quotaBytes: 0)
        entries.withLock { $0[orgID] = Entry(figure: figure, lastUsed: now) }
        return figure
    }

    /// The exact figures now (folded bytes plus committed deltas not yet folded) of `orgIDs`.
    static func read(pool: PostgresPool, orgIDs: [String]) throws -> [String: Figure] {
        guard !orgIDs.isEmpty else { return [:] }
        let rows = try pool.query(
            """
            SELECT t.org_id AS org_id, (coalesce(s.bytes, 0) + coalesce(d.bytes, 0))::bigint AS bytes,
                   coalesce(t.max_storage_override, p.max_storage_mb) AS max_storage_mb
              FROM tenants t JOIN plans p ON p.name = t.plan
              LEFT JOIN storage_usage s ON s.org_id = t.org_id
              LEFT JOIN (SELECT org_id, sum(bytes) AS bytes FROM storage_deltas
                          WHERE org_id = ANY ($1::text[]) GROUP BY org_id) d ON d.org_id = t.org_id
             WHERE t.org_id = ANY ($1::text[])
            """,
            [.textArray(orgIDs)])
        var figures: [String: Figure] = [:]
        for row in rows {
            guard let orgID = row.string("org_id") else { continue }
            let megabytes = max(0, row.int("max_storage_mb") ?? 0)
            let (quota, overflow) = megabytes.multipliedReportingOverflow(by: bytesPerMB)
            figures[orgID] = Figure(bytes: row.int("bytes") ?? 0, quotaBytes: overflow ? .max : quota)
        }
        return figures
    }

    // MARK: - Background work

    /// Starts folding and refreshing every `interval`.
    func start() {
        job.start { [weak self] in
            try self?.fold()
            try self?.refresh()
        }
    }

    /// Stops the background thread and waits for it (a fold in progress finishes first).
    func stop() {
        job.stop()
    }

    /// Folds the committed deltas into `storage_usage`, unless another instance is doing it.
    /// Deltas committed while the fold runs are not visible to its snapshot and wait for the next.
    func fold() throws {
        try pool.transaction { connection in
            let locked = try connection.query("SELECT pg_try_advisory_xact_lock($1) AS locked", [.int(Self.foldLockKey)])
            guard locked.first?.bool("locked") == true else { return }
            _ = try connection.query(
                """
                WITH d AS (DELETE FROM storage_deltas RETURNING org_id, bytes)
                INSERT INTO storage_usage AS s (org_id, bytes)
                SELECT org_id, sum(bytes) FROM d GROUP BY org_id ORDER BY org_id
                ON CONFLICT (org_id) DO UPDATE SET bytes = s.bytes + excluded.bytes
                """)
        }
    }

    /// Re-reads the figures of the tenants seen writing lately; forgets the others.
    func refresh() throws {
        let now = ContinuousClock.now
        let orgIDs = entries.withLock { table -> [String] in
            table = table.filter { now - $0.value.lastUsed < Self.forgetAfter }
            return Array(table.keys)
        }
        let figures = try Self.read(pool: pool, orgIDs: orgIDs)
        entries.withLock { table in
            for (orgID, figure) in figures where table[orgID] != nil { table[orgID]?.figure = figure }
        }
    }
}
