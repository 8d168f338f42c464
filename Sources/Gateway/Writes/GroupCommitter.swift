import PostgresStore
import Synchronization

/// Group commit: concurrent writes (creates, updates, batch imports) share one transaction and so
/// one WAL flush, each in its own savepoint, each acknowledged only after that commit. One write's
/// failure (a taken id, the quota, a lock deadlock) undoes that write alone.
///
/// The batching is `GroupCommitState`; this type performs its actions. The thread that submits a
/// write when a commit slot is free commits at once (alone, no added latency); writes arriving
/// while commits are in flight wait, and the thread of the first of them commits the next group.
/// Writes of different tenants may share a transaction: each write's statements filter by its
/// own tenant, and each gets back only its own outcome (the shared commit's error when the
/// transaction as a whole fails, which says nothing of another tenant's data).
final class GroupCommitter: Sendable {
    /// Whether writes are grouped, and how.
    struct Configuration: Sendable {
        /// Off (the default: on this 2-core machine it measured slower than ungrouped writes, see
        /// `Benchmarks/RESULTS.md` and `docs/decisions.md`): every write is its own transaction.
        var isEnabled = false
        /// Group size and commits in flight.
        var limits = GroupCommitState<GroupCommitTicket>.Limits()
    }

    /// Whether writes are grouped (off: ``transaction(_:)`` is `PostgresPool.transaction`).
    let isEnabled: Bool
    private let pool: PostgresPool
    private let state: Mutex<GroupCommitState<GroupCommitTicket>>

    init(pool: PostgresPool, configuration: Configuration) {
        self.pool = pool
        self.isEnabled = configuration.isEnabled
        self.state = Mutex(GroupCommitState(limits: configuration.limits))
    }

    /// What the committer has done and holds now.
    struct Statistics: Sendable, Equatable {
        /// Transactions started for groups.
        var groups: Int
        /// Writes handed out in those groups.
        var writes: Int
        /// Groups committing now.
        var inFlight: Int
        /// Writes waiting for a group.
        var queued: Int
    }

    /// The counters now (for tests and metrics).
    var statistics: Statistics {
        state.withLock { state in
            Statistics(groups: state.groupsStarted, writes: state.writesStarted, inFlight: state.inFlight,
                       queued: state.queuedCount)
        }
    }

    /// Runs `body` as one write of a group and returns once the group's transaction committed (or
    /// throws what undid this write). `body` must be safe to run twice, as for
    /// `PostgresPool.transaction`: a write undone by a deadlock or serialization failure, which
    /// grouping with unrelated writes can cause, runs again alone in a transaction of its own.
    func transaction<T>(_ body: @escaping (PostgresConnection) throws -> T) throws -> T {
        guard isEnabled else { return try pool.transaction(body) }
        // Escaping, not `withoutActuallyEscaping`: the committing thread may still hold the group's
        // tickets (and so `body`) for a moment after this write's outcome is known.
        var value: T?
        let failure = run(GroupCommitTicket { connection in value = try body(connection) })
        if let failure {
            if (failure as? StoreError) == .serializationFailure { return try pool.transaction(body) }
            throw failure
        }
        guard let value else { preconditionFailure("a committed write left no value") }
        return value
    }

    /// A create as one row of its group's multi-row insert (see `GroupedInsert`); `body` is its full
    /// work, run instead when that insert does not take it (a taken id) or when grouping is off.
    func create(_ insert: GroupedInsert, _ body: @escaping (PostgresConnection) throws -> PostgresRow) throws -> PostgresRow {
        guard isEnabled else { return try pool.transaction(body) }
        var value: PostgresRow?
        let ticket = GroupCommitTicket(insert: insert) { connection in value = try body(connection) }
        if let failure = run(ticket) {
            if ticket.retriesAlone || (failure as? StoreError) == .serializationFailure {
                return try pool.transaction(body)
            }
            throw failure
        }
        guard let row = ticket.row ?? value else { preconditionFailure("a committed create left no row") }
        return row
    }

    /// Submits `ticket` and returns its outcome once its group is done.
    private func run(_ ticket: GroupCommitTicket) -> (any Error)? {
        switch state.withLock({ $0.submitted(ticket) }) {
        case .commit(let group):
            commit(group)
        case .wait:
            ticket.signal.wait()
            if let group = ticket.group { commit(group) }
        }
        return ticket.failure
    }

    /// Commits `group` on this thread (the first ticket's), hands the commit slot to the next
    /// group, then wakes the group's other writers with their outcomes.
    private func commit(_ group: [GroupCommitTicket]) {
        let inserting = group.filter { $0.insert != nil }
        if inserting.count < 2 {
            let failures = pool.commitTogether(group.map(\.work))
            for (ticket, failure) in zip(group, failures) { ticket.failure = failure }
        } else {
            commit(inserting: inserting, others: group.filter { $0.insert == nil })
        }
        if case .commit(let next) = state.withLock({ $0.groupFinished() }) {
            next[0].group = next
            next[0].signal.signal()
        }
        for ticket in group.dropFirst() { ticket.signal.signal() }
    }

    /// Commits a group holding several simple creates: they are one multi-row insert (one savepoint,
    /// one statement); the ones it does not insert run their full work, each in a nested savepoint.
    private func commit(inserting: [GroupCommitTicket], others: [GroupCommitTicket]) {
        var isStatementFailure = false
        let insertAll: (PostgresConnection) throws -> Void = { connection in
            let rows: [String: PostgresRow]
            do {
                rows = try GroupedInsert.insertAll(inserting.compactMap(\.insert), connection)
            } catch {
                isStatementFailure = true
                throw error
            }
            for ticket in inserting { ticket.row = ticket.insert.flatMap { rows[$0.key] } }
            for ticket in inserting where ticket.row == nil {
                try connection.execute("SAVEPOINT gw_item")
                do {
                    try ticket.work(connection)
                    try connection.execute("RELEASE SAVEPOINT gw_item")
                } catch {
                    ticket.failure = error
                    try connection.execute("ROLLBACK TO SAVEPOINT gw_item")
                }
            }
        }
        let failures = pool.commitTogether([insertAll] + others.map(\.work))
        for (ticket, failure) in zip(others, failures.dropFirst()) { ticket.failure = failure }
        if let failure = failures[0] {
            // A failed statement undid every row of it (run each again alone); a failed commit,
            // whose outcome may be unknown, is reported as it is.
            for ticket in inserting {
                ticket.failure = failure
                ticket.retriesAlone = isStatementFailure
            }
        }
    }
}
