import Foundation
import PostgresStore
import Testing

/// A server that stops answering (hung, partitioned: its kernel still acknowledges what we send)
/// must not hold a caller forever: past statement_timeout + 2 s the connection is given up.
@Suite struct ResponseTimeoutTests {
    @Test(arguments: [true, false])
    func aSilentServerFailsAsUnavailableAndTheConnectionIsReplaced(prepared: Bool) throws {
        var configuration = TestDatabase.configuration(prepared: prepared, poolSize: 1)
        configuration.statementTimeout = .seconds(1)
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }
        let start = ContinuousClock.now
        #expect(throws: StoreError.self) {
            try pool.withConnection { connection in
                // The server's own timeout off: only the client's deadline (1 s + 2 s) can end this.
                try connection.execute("SET statement_timeout = 0")
                _ = try connection.query("SELECT pg_sleep(30)")
            }
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .seconds(2.5) && elapsed < .seconds(10))
        // The pool hands out a fresh connection afterwards.
        #expect(try pool.query("SELECT 1").first?.int(0) == 1)
    }
}
