import Foundation
import PostgresStore
import Synchronization

/// Deletes expired memories in the background, in small batches, every ``Configuration/interval``.
///
/// Every instance runs one; a transaction-scoped advisory lock lets one sweep at a time across all
/// of them (the others skip that batch), so no two instances delete the same rows or contend for
/// them. Each batch is its own short transaction (``MemoryExpiry/deleteExpired(_:limit:)``).
/// A memory is deleted at most `interval` plus the time to sweep what expired before it after its
/// expiry; reads do not depend on the sweep (they check expiry themselves).
final class MemorySweeper: Sendable {
    /// How the sweeper paces itself.
    struct Configuration: Sendable {
        /// Pause between sweeps. The contract deletes expired memories within 60 s, so at most that.
        var interval: Duration = .seconds(10)
        /// Memories deleted per transaction: small, so a batch holds its locks briefly.
        var batchSize = 500
        /// Most batches in one sweep before pausing, so a flood of expiries cannot hold a
        /// connection indefinitely (the next sweep continues).
        var maxBatchesPerSweep = 200
    }

    /// The advisory lock key under which one instance at a time sweeps.
    static let lockName = "memory-gateway:expiry-sweep"

    private let pool: PostgresPool
    private let configuration: Configuration
    /// Where each deletion's `memory.deleted` event is written, in the deleting transaction.
    private let webhooks: WebhookOutbox
    private let job: PeriodicJob

    init(pool: PostgresPool, configuration: Configuration, webhooks: WebhookOutbox) {
        self.webhooks = webhooks
        self.pool = pool
        self.configuration = configuration
        job = PeriodicJob(name: "expiry-sweep", interval: configuration.interval,
                          failure: "expiry sweep failed; retrying at the next interval")
    }

    /// Starts the background thread.
    func start() {
        job.start { [weak self] in
            guard let self else { return }
            let deleted = try sweep()
            if deleted > 0 { Log.info("expired memories deleted", ["count": String(deleted)]) }
        }
    }

    /// Stops the thread, waiting up to `deadline` for a batch in progress to finish.
    func stop(deadline: Duration = .seconds(5)) {
        job.stop(deadline: deadline)
    }

    /// One sweep: batches until one comes back short (or the per-sweep bound). Returns how many
    /// memories it deleted; 0 when another instance holds the sweep lock.
    @discardableResult
    func sweep() throws -> Int {
        var total = 0
        for _ in 0..<configuration.maxBatchesPerSweep {
            if job.isStopped { break }
            let deleted = try pool.transaction { connection -> Int? in
                let lock = try connection.query(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked", [.text(Self.lockName)])
                guard lock.first?.bool("locked") == true else { return nil }
                let expired = try MemoryExpiry.deleteExpired(connection, limit: configuration.batchSize)
                try MemoryExpiry.recordDeleted(expired, connection, webhooks: webhooks)
                return expired.count
            }
            guard let deleted else { break }
            total += deleted
            if deleted < configuration.batchSize { break }
        }
        return total
    }
}
