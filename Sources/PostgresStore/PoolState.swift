/// The pool's bookkeeping as a plain state machine: lease requests queue, connections are leased,
/// parked or closed, and deadlines are data. Each event returns what the owner must do; no locks,
/// clocks or I/O here (``ConnectionPark`` serialises the calls and passes the time in).
///
/// Waiting requests are served in arrival order: a released connection, or a slot freed by a failed
/// connect, is handed to the oldest waiter, never to a request that arrived later.
/// Generic over the connection so that tests drive it with plain values and a manual clock (see
/// postgres-nio's `PoolStateMachine`).
struct PoolState<Connection> {
    /// Identifies one lease request while it waits.
    typealias RequestID = UInt64

    /// What a lease request must do next.
    enum LeaseAction {
        /// Use this parked connection (after checking it is still alive).
        case use(Connection)
        /// A slot was reserved: open a new connection, then report ``release(_:)`` with nil if that fails.
        case connect
        /// Wait until woken (``ReleaseAction/wake``) or until the deadline, then call ``waitEnded(_:now:)``.
        case wait(until: ContinuousClock.Instant)
        /// The request's deadline passed with every connection leased.
        case timedOut
        /// The pool is closed.
        case closed
    }

    /// What the owner must do after a connection or a slot came back.
    enum ReleaseAction {
        /// Nothing: the connection was parked (or the slot is free).
        case none
        /// A waiting request was given the connection or the slot: wake the waiters.
        case wake
        /// The pool is closed: close this connection.
        case close(Connection)
    }

    private struct Waiter {
        var id: RequestID
        var deadline: ContinuousClock.Instant
    }

    /// `poolSize`, at least 1.
    let maximumSize: Int
    /// Parked connections, most recently used last (leased LIFO, so surplus connections idle out of use).
    private(set) var idle: [Connection] = []
    /// Leased connections plus slots reserved for connections being opened.
    private(set) var inUse = 0
    /// Lease requests waiting, oldest first.
    private var waiters: [Waiter] = []
    /// What waiting requests were given and have not yet picked up (counted in `inUse`).
    private var assigned: [RequestID: LeaseAction] = [:]
    /// Lease requests that gave up, ever.
    private(set) var totalLeaseTimeouts = 0
    /// Set by ``close()``; leases fail from then on.
    private(set) var isClosed = false

    /// An empty pool of at most `maximumSize` connections.
    init(maximumSize: Int) {
        self.maximumSize = max(1, maximumSize)
    }

    /// Lease requests waiting for a connection.
    var waiting: Int { waiters.count }

    /// A new lease request: a parked connection, else a slot to open one, else wait until `deadline`.
    mutating func lease(_ id: RequestID, now: ContinuousClock.Instant, deadline: ContinuousClock.Instant) -> LeaseAction {
        if isClosed { return .closed }
        if waiters.isEmpty {
            if let connection = idle.popLast() {
                inUse += 1
                return .use(connection)
            }
            if inUse + idle.count < maximumSize {
                inUse += 1
                return .connect
            }
        }
        if now >= deadline {
            totalLeaseTimeouts += 1
            return .timedOut
        }
        waiters.append(Waiter(id: id, deadline: deadline))
        return .wait(until: deadline)
    }

    /// A waiting request woke (a wake, its deadline, or a spurious wake-up): what it was given, else
    /// a timeout once its deadline passed, else wait again.
    mutating func waitEnded(_ id: RequestID, now: ContinuousClock.Instant) -> LeaseAction {
        if let action = assigned.removeValue(forKey: id) { return action }
        guard let index = waiters.firstIndex(where: { $0.id == id }) else {
            preconditionFailure("request \(id) is neither waiting nor served")
        }
        if isClosed {
            waiters.remove(at: index)
            return .closed
        }
        let deadline = waiters[index].deadline
        if now >= deadline {
            waiters.remove(at: index)
            totalLeaseTimeouts += 1
            return .timedOut
        }
        return .wait(until: deadline)
    }

    /// A leased connection comes back; `nil` when it was discarded (broken, dead while parked, or
    /// never opened): its slot is free.
    mutating func release(_ connection: Connection?) -> ReleaseAction {
        precondition(inUse > 0, "release without a lease")
        inUse -= 1
        if isClosed {
            if let connection { return .close(connection) }
            return .none
        }
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            inUse += 1
            assigned[waiter.id] = connection.map { .use($0) } ?? .connect
            return .wake
        }
        if let connection { idle.append(connection) }
        return .none
    }

    /// Closes the pool; returns the parked connections for the owner to close. Waiters fail when
    /// they wake; what they were already given stays theirs.
    mutating func close() -> [Connection] {
        isClosed = true
        let parked = idle
        idle = []
        return parked
    }

    /// The counters, as the public snapshot.
    var statistics: PoolStatistics {
        PoolStatistics(
            size: maximumSize, inUse: inUse, idle: idle.count, waiting: waiters.count,
            totalLeaseTimeouts: totalLeaseTimeouts)
    }
}
