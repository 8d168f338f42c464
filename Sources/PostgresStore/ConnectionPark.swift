import Foundation

/// Where ``PostgresPool`` parks its connections between leases, and where lease requests wait.
///
/// `@unchecked Sendable` because it holds non-`Sendable` ``PostgresConnection``s. The invariant the
/// compiler cannot see: `state` (and every connection parked in it) is read or written only while
/// `condition` is locked; a connection leaves the park only through ``lease(until:)``, after which only
/// the leasing thread touches it until it hands it back through ``release(_:)``. No libpq call is made
/// while the lock is held (connections are closed by the caller, after unlocking).
final class ConnectionPark: @unchecked Sendable {
    /// The result of a lease request, for ``PostgresPool`` to act on outside the lock.
    enum LeaseOutcome {
        case use(PostgresConnection)
        case connect
        case timedOut
        case closed
    }

    private let condition = NSCondition()
    private var state: PoolState<PostgresConnection>
    private var nextRequestID: PoolState<PostgresConnection>.RequestID = 0

    /// An empty park for at most `maximumSize` connections.
    init(maximumSize: Int) {
        state = PoolState(maximumSize: maximumSize)
    }

    /// Takes a parked connection or a slot to open one, waiting in line until `deadline` for a release.
    func lease(until deadline: ContinuousClock.Instant) -> LeaseOutcome {
        condition.lock()
        defer { condition.unlock() }
        nextRequestID += 1
        let id = nextRequestID
        var action = state.lease(id, now: .now, deadline: deadline)
        while true {
            switch action {
            case .use(let connection):
                return .use(connection)
            case .connect:
                return .connect
            case .timedOut:
                return .timedOut
            case .closed:
                return .closed
            case .wait(let until):
                let remaining = until - .now
                if remaining > .zero {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.timeInterval))
                }
                action = state.waitEnded(id, now: .now)
            }
        }
    }

    /// Hands a leased connection back (`nil`: it was discarded, or could not be opened, and its slot is
    /// free). Returns it when the pool closed in the meantime, for the caller to drop outside the lock.
    func release(_ connection: PostgresConnection?) -> PostgresConnection? {
        condition.lock()
        defer { condition.unlock() }
        switch state.release(connection) {
        case .none:
            return nil
        case .wake:
            // Waiters check whether they were served: wake them all (few wait at once).
            condition.broadcast()
            return nil
        case .close(let connection):
            return connection
        }
    }

    /// Closes the park and wakes every waiter; returns the parked connections for the caller to drop.
    func close() -> [PostgresConnection] {
        condition.lock()
        let parked = state.close()
        condition.broadcast()
        condition.unlock()
        return parked
    }

    /// A consistent snapshot of the counters.
    var statistics: PoolStatistics {
        condition.lock()
        defer { condition.unlock() }
        return state.statistics
    }
}
