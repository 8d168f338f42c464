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
    private let state = Mutex(State())
    private let wakeup = NSCondition()

    private struct State {
        var isStopped = false
        var isRunning = false
    }

    init(pool: PostgresPool, configuration: Configuration, webhooks: WebhookOutbox) {
        self.webhooks = webhooks
        self.pool = pool
        self.configuration = configuration
    }

    /// Starts the background thread.
    func start() {
        state.withLock { $0.isRunning = true }
        let thread = Thread { [self] in
            self.loop()
            wakeup.lock()
            state.withLock { $0.isRunning = false }
            wakeup.broadcast()
            wakeup.unlock()
        }
        thread.name = "expiry-sweep"
        thread.start()
    }

    /// Stops the thread, waiting up to `deadline` for a batch in progress to finish.
    func stop(deadline: Duration = .seconds(5)) {
        let until = Date(timeIntervalSinceNow: Self.seconds(deadline))
        wakeup.lock()
        state.withLock { $0.isStopped = true }
        wakeup.broadcast()
        while state.withLock({ $0.isRunning }), wakeup.wait(until: until) {}
        wakeup.unlock()
    }

    /// One sweep: batches until one comes back short (or the per-sweep bound). Returns how many
    /// memories it deleted; 0 when another instance holds the sweep lock.
    @discardableResult
    func sweep() throws -> Int {
        var total = 0
        for _ in 0..<configuration.maxBatchesPerSweep {
            if state.withLock({ $0.isStopped }) { break }
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

    private func loop() {
        while true {
            wakeup.lock()
            if !state.withLock({ $0.isStopped }) {
                _ = wakeup.wait(until: Date(timeIntervalSinceNow: Self.seconds(configuration.interval)))
            }
            wakeup.unlock()
            if state.withLock({ $0.isStopped }) { return }
            do {
                let deleted = try sweep()
                if deleted > 0 { Log.info("expired memories deleted", ["count": String(deleted)]) }
            } catch {
                Log.error("expiry sweep failed; retrying at the next interval", ["error": "\(error)"])
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
