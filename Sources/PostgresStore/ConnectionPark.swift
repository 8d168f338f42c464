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
    private var state: PoolState

    /// An empty park for at most `maximumSize` connections.
    init(maximumSize: Int) {
        state = PoolState(maximumSize: maximumSize)
    }

    /// Takes a parked connection or a slot to open one, waiting until `deadline` for a release.
    func lease(until deadline: ContinuousClock.Instant) -> LeaseOutcome {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch state.lease() {
            case .use(let connection):
                return .use(connection)
            case .connect:
                return .connect
            case .fail:
                return .closed
            case .wait:
                let remaining = deadline - .now
                if remaining <= .zero {
                    state.leaseTimedOut()
                    return .timedOut
                }
                state.waitStarted()
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.timeInterval))
                state.waitEnded()
            }
        }
    }

    /// Frees the slot of a connection that could not be opened or was found dead.
    func slotFreed() {
        condition.lock()
        state.connectFailed()
        condition.signal()
        condition.unlock()
    }

    /// Hands a leased connection back (`nil`: it was discarded). Returns it when the pool closed in the
    /// meantime, for the caller to drop outside the lock.
    func release(_ connection: PostgresConnection?) -> PostgresConnection? {
        condition.lock()
        let toClose = state.release(connection)
        condition.signal()
        condition.unlock()
        return toClose
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
