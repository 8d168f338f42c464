import PostgresStore
import Testing

/// `prepared: false` on a connection that prepares statements sends that one unnamed (planned for
/// its parameters every time) and prepares nothing.
@Suite struct UnpreparedQueryTests {
    @Test func anUnpreparedQueryLeavesNoPreparedStatement() throws {
        let pool = TestDatabase.pool(prepared: true, poolSize: 1)
        defer { pool.close() }
        try pool.withConnection { connection in
            let before = try connection.query("SELECT count(*) FROM pg_prepared_statements").first?.int(0) ?? -1
            let rows = try connection.query("SELECT $1::text || 'x'", [.text("a")], prepared: false)
            #expect(rows.first?.string(0) == "ax")
            let after = try connection.query("SELECT count(*) FROM pg_prepared_statements").first?.int(0) ?? -1
            // The counting statement itself was prepared by the first count.
            #expect(after == before)
            _ = try connection.query("SELECT $1::text || 'y'", [.text("b")])
            let prepared = try connection.query("SELECT count(*) FROM pg_prepared_statements").first?.int(0) ?? -1
            #expect(prepared == before + 1)
        }
    }
}
