import Foundation
import PostgresStore
import Synchronization

/// Deletes stored idempotent responses older than the replay window (24 h), so the table holds
/// about one day of each tenant's writes, not all of them. Every instance runs one; an advisory
/// lock lets one sweep at a time, the others skip that round. Deletes in batches of
/// `batchSize`, each its own short transaction, so a large backlog never holds a long lock.
final class IdempotencySweeper: Sendable {
    /// The advisory lock the sweeping instance holds ("MGIDEMPO").
    static let lockKey: Int64 = 0x4D47_4944_454D_504F

    private let pool: PostgresPool
    /// Records at least this old are deleted.
    private let retention: Duration
    /// Time between sweeps.
    private let interval: Duration
    private let batchSize: Int
    private let job: PeriodicJob

    init(pool: PostgresPool, retention: Duration, interval: Duration, batchSize: Int = 5_000) {
        self.pool = pool
        self.retention = retention
        self.interval = interval
        self.batchSize = batchSize
        job = PeriodicJob(name: "idempotency-sweeper", interval: interval, failure: "idempotency sweep failed; will retry")
    }

    /// Starts sweeping every `interval` (the first sweep one interval after start).
    func start() {
        job.start { [weak self] in _ = try self?.sweep() }
    }

    /// Stops the sweeper and waits for a sweep in progress to end its batch.
    func stop() {
        job.stop()
    }

    /// One sweep: deletes expired records batch by batch. Returns how many it deleted, or nil when
    /// another instance holds the lock.
    func sweep() throws -> Int? {
        let (seconds, attoseconds) = retention.components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        var deleted = 0
        while !job.isStopped {
            let batch: Int? = try pool.transaction { connection in
                let locked = try connection.query("SELECT pg_try_advisory_xact_lock($1) AS locked", [.int(Self.lockKey)])
                guard locked.first?.bool("locked") == true else { return nil }
                let rows = try connection.query(
                    """
                    WITH gone AS (
                        DELETE FROM idempotency_keys
                         WHERE ctid = ANY (ARRAY(
                             SELECT ctid FROM idempotency_keys
                              WHERE started_at < clock_timestamp() - make_interval(secs => $1::bigint / 1000000.0)
                              LIMIT $2))
                        RETURNING 1
                    )
                    SELECT count(*) AS count FROM gone
                    """,
                    [.int(microseconds), .int(Int64(batchSize))])
                return Int(clamping: rows.first?.int("count") ?? 0)
            }
            guard let batch else { return deleted == 0 ? nil : deleted }
            deleted += batch
            if batch < batchSize { break }
        }
        return deleted
    }
}
