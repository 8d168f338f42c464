/// One transaction, one commit, for the work of several independent callers (group commit).
extension PostgresPool {
    /// Runs each of `bodies` in its own savepoint of one `READ COMMITTED` transaction on one
    /// connection, then commits once: one WAL flush for all of them.
    ///
    /// A body that throws (or leaves a statement failed) is rolled back to its savepoint alone; the
    /// others still commit. If the transaction itself fails (the connection is lost, `COMMIT`
    /// fails), every body not failed on its own gets that error. A single body runs without
    /// savepoints (it is the whole transaction). Savepoint changes travel in the round trip that
    /// ends the previous body, so N bodies cost N + 1 round trips besides their own statements.
    ///
    /// - Returns: for each body, in order, nil when its work committed, else the error that undid it.
    public func commitTogether(_ bodies: [(PostgresConnection) throws -> Void]) -> [(any Error)?] {
        var failures: [(any Error)?] = Array(repeating: nil, count: bodies.count)
        guard !bodies.isEmpty else { return failures }
        let usesSavepoints = bodies.count > 1
        do {
            try withConnection { connection in
                do {
                    try connection.execute(IsolationLevel.readCommitted.beginStatement
                                           + (usesSavepoints ? "; SAVEPOINT gw_group" : ""))
                    for (index, body) in bodies.enumerated() {
                        var failure: (any Error)?
                        do {
                            try body(connection)
                            if connection.transactionState == .failed {
                                throw StoreError.server(
                                    sqlstate: SQLState.inFailedSQLTransaction,
                                    message: "a statement failed inside the write; rolled back instead of committed")
                            }
                        } catch {
                            failure = error
                        }
                        if let failure {
                            guard usesSavepoints, !connection.isBroken else { throw failure }
                            failures[index] = failure
                            // The savepoint stays defined after ROLLBACK TO: the next body runs in it.
                            try connection.execute("ROLLBACK TO SAVEPOINT gw_group")
                        } else if usesSavepoints, index < bodies.count - 1 {
                            try connection.execute("RELEASE SAVEPOINT gw_group; SAVEPOINT gw_group")
                        }
                    }
                    try connection.execute("COMMIT")
                } catch {
                    if !connection.isBroken, connection.transactionState != .idle {
                        try? connection.execute("ROLLBACK")
                    }
                    throw error
                }
            }
        } catch {
            for index in failures.indices where failures[index] == nil { failures[index] = error }
        }
        return failures
    }
}
