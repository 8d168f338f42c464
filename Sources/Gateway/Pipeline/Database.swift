import PostgresStore

/// Where a handler's statements go: the pool, or, for a request with an `Idempotency-Key`, the
/// one connection whose transaction also claims and completes the key's record, so the work and
/// its stored response commit together or not at all.
///
/// Bound to a connection, `transaction` becomes a savepoint inside the outer transaction (its
/// isolation level is the outer one's), and `query` runs in the outer transaction. Not Sendable:
/// it lives on the worker thread that runs the request.
final class Database {
    let pool: PostgresPool
    private let connection: PostgresConnection?
    private var savepoints = 0

    init(pool: PostgresPool) {
        self.pool = pool
        self.connection = nil
    }

    /// Statements run on `connection`, inside the transaction the caller opened on it.
    init(pool: PostgresPool, boundTo connection: PostgresConnection) {
        self.pool = pool
        self.connection = connection
    }

    /// Whether statements run inside a transaction the caller opened (an idempotent request's).
    var isBound: Bool { connection != nil }

    /// `prepared: false`: planned for these parameters every time (see `PostgresConnection.query`).
    @discardableResult
    func query(_ sql: String, _ parameters: [PostgresValue] = [], prepared: Bool = true) throws -> PostgresRows {
        if let connection { return try connection.query(sql, parameters, prepared: prepared) }
        return try pool.query(sql, parameters, prepared: prepared)
    }

    func transaction<T>(isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T) throws -> T {
        guard let connection else { return try pool.transaction(isolation: isolation, body) }
        return try savepoint(on: connection) { try body(connection) }
    }

    /// A write's transaction: bound to a connection, a savepoint of the outer transaction (as
    /// ``transaction(isolation:_:)``); otherwise one write of a group sharing its commit (and WAL
    /// flush) with concurrent writes through `committer` (see `GroupCommitter`). `body` must be safe
    /// to run twice.
    func writeTransaction<T>(_ committer: GroupCommitter, _ body: @escaping (PostgresConnection) throws -> T) throws -> T {
        guard let connection else { return try committer.transaction(body) }
        return try savepoint(on: connection) { try body(connection) }
    }

    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        if let connection { return try body(connection) }
        return try pool.withConnection(body)
    }

    /// Runs `body` inside a savepoint of the bound connection's transaction: an error undoes what
    /// `body` did and leaves the outer transaction usable.
    func savepoint<T>(on connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        savepoints += 1
        let name = "gw_\(savepoints)"  // ours, never input
        try connection.execute("SAVEPOINT \(name)")
        do {
            let value = try body()
            try connection.execute("RELEASE SAVEPOINT \(name)")
            return value
        } catch {
            try? connection.execute("ROLLBACK TO SAVEPOINT \(name)")
            throw error
        }
    }
}
