/// The pool's bookkeeping as a plain state machine: each event returns what the owner must do.
/// No locks, clocks or I/O here; ``ConnectionPark`` serialises the calls.
struct PoolState {
    /// What a lease request must do next.
    enum LeaseAction {
        /// Use this parked connection (after checking it is still alive).
        case use(PostgresConnection)
        /// A slot was reserved: open a new connection, then report ``connectFailed()`` if that fails.
        case connect
        /// All connections are leased: wait for a release.
        case wait
        /// The pool is closed.
        case fail
    }

    /// `poolSize`, at least 1.
    let maximumSize: Int
    /// Parked connections, most recently used last (leased LIFO, so surplus connections idle out of use).
    private(set) var idle: [PostgresConnection] = []
    /// Leased connections plus slots reserved for connections being opened.
    private(set) var inUse = 0
    /// Lease requests waiting for a release.
    private(set) var waiting = 0
    /// Lease requests that gave up, ever.
    private(set) var totalLeaseTimeouts = 0
    /// Set by ``close()``; leases fail from then on.
    private(set) var isClosed = false

    /// An empty pool of at most `maximumSize` connections.
    init(maximumSize: Int) {
        self.maximumSize = max(1, maximumSize)
    }

    /// A lease request: a parked connection, else a slot to open one, else wait (or fail once closed).
    mutating func lease() -> LeaseAction {
        if isClosed { return .fail }
        if let connection = idle.popLast() {
            inUse += 1
            return .use(connection)
        }
        if inUse + idle.count < maximumSize {
            inUse += 1
            return .connect
        }
        return .wait
    }

    /// A lease request starts waiting for a release.
    mutating func waitStarted() { waiting += 1 }
    /// A waiting lease request woke up (released connection, timeout or close).
    mutating func waitEnded() { waiting -= 1 }
    /// A lease request gave up at its deadline.
    mutating func leaseTimedOut() { totalLeaseTimeouts += 1 }

    /// A reserved slot's connection could not be opened, or a leased one was found dead: the slot is free.
    mutating func connectFailed() {
        inUse -= 1
    }

    /// A leased connection comes back; `nil` when it was discarded. Returns a connection the owner must
    /// close (drop) because the pool is closed.
    mutating func release(_ connection: PostgresConnection?) -> PostgresConnection? {
        inUse -= 1
        guard let connection else { return nil }
        if isClosed { return connection }
        idle.append(connection)
        return nil
    }

    /// Closes the pool; returns the parked connections for the owner to close.
    mutating func close() -> [PostgresConnection] {
        isClosed = true
        let parked = idle
        idle = []
        return parked
    }

    /// The counters, as the public snapshot.
    var statistics: PoolStatistics {
        PoolStatistics(
            size: maximumSize, inUse: inUse, idle: idle.count, waiting: waiting,
            totalLeaseTimeouts: totalLeaseTimeouts)
    }
}
