/// A bounded pool of blocking connections, shared by the gateway's worker threads.
///
/// Connections open lazily, at most `poolSize`. A lease waits at most `leaseTimeout` for a free
/// connection, then fails with ``StoreError/unavailable(_:)``. A parked connection is checked before
/// it is handed out (libpq status, and whether the server closed the socket meanwhile), so after a
/// PostgreSQL restart the next request gets a fresh connection rather than a dead one. A connection
/// that broke, or that cannot be brought back to an idle transaction state, is discarded, never parked.
public final class PostgresPool: Sendable {
    private let configuration: PostgresConfiguration
    private let park: ConnectionPark

    /// Creates the pool; connects lazily and never throws.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.park = ConnectionPark(maximumSize: configuration.poolSize)
    }

    /// Leases a healthy connection, runs `body` with it on this thread, and returns the connection.
    ///
    /// On return, a connection left inside a transaction (open or failed) is rolled back; one that broke
    /// is discarded and replaced on a later lease.
    /// - Throws: ``StoreError/unavailable(_:)`` when no connection is free within `leaseTimeout` or
    ///   PostgreSQL cannot be reached; otherwise whatever `body` throws.
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try lease()
        defer { release(connection) }
        return try body(connection)
    }

    /// Runs `body` inside `BEGIN … COMMIT` on one connection.
    ///
    /// Any error thrown by `body` (or by `COMMIT`) rolls back and is rethrown. A
    /// ``StoreError/serializationFailure`` (`40001`, `40P01`) re-runs `body` once, in a new transaction,
    /// so `body` must be safe to run twice. If `body` swallowed a statement error, the transaction is
    /// aborted and cannot commit: it is rolled back and `.server(sqlstate: "25P02", …)` is thrown.
    public func transaction<T>(
        isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try withConnection { connection in
            var attempt = 1
            while true {
                do {
                    try connection.execute(isolation.beginStatement)
                    let value = try body(connection)
                    if connection.transactionState == .failed {
                        throw StoreError.server(
                            sqlstate: SQLState.inFailedSQLTransaction,
                            message: "a statement failed inside the transaction; rolled back instead of committed")
                    }
                    try connection.execute("COMMIT")
                    return value
                } catch {
                    if !connection.isBroken, connection.transactionState != .idle {
                        try? connection.execute("ROLLBACK")
                    }
                    if attempt == 1, let storeError = error as? StoreError, storeError == .serializationFailure {
                        attempt += 1
                        continue
                    }
                    throw error
                }
            }
        }
    }

    /// Leases a connection for one statement: ``PostgresConnection/query(_:_:)``.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = [], prepared: Bool = true) throws -> PostgresRows {
        try withConnection { connection in try connection.query(sql, parameters, prepared: prepared) }
    }

    /// The pool's current counters.
    public var statistics: PoolStatistics { park.statistics }

    /// Closes the idle connections; leased ones close when returned. Later leases fail with `.unavailable`.
    public func close() {
        _ = park.close()  // dropped here, outside the park's lock: PQfinish
    }

    // MARK: Leasing

    private func lease() throws(StoreError) -> PostgresConnection {
        let deadline = ContinuousClock.now + configuration.leaseTimeout
        while true {
            switch park.lease(until: deadline) {
            case .use(let connection):
                if connection.isAlive() { return connection }
                _ = park.release(nil)  // dead while parked (server restarted): drop it, try the next
            case .connect:
                do throws(StoreError) {
                    return try PostgresConnection(configuration: configuration)
                } catch {
                    _ = park.release(nil)
                    throw error
                }
            case .timedOut:
                throw .unavailable("no database connection free within \(configuration.leaseTimeout)")
            case .closed:
                throw .unavailable("the connection pool is closed")
            }
        }
    }

    private func release(_ connection: PostgresConnection) {
        var isReusable = !connection.isBroken
        if isReusable {
            switch connection.transactionState {
            case .idle:
                break
            case .inTransaction, .failed:
                do throws(StoreError) {
                    try connection.execute("ROLLBACK")
                    isReusable = connection.transactionState == .idle
                } catch {
                    isReusable = false
                }
            case .active, .unknown:
                isReusable = false
            }
        }
        _ = park.release(isReusable ? connection : nil)
    }
}
