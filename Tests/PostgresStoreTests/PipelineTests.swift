import Foundation
import PostgresStore
import Testing

/// Several statements in one round trip.
@Suite struct PipelineTests {
    @Test(arguments: [true, false])
    func anErrorOutsideATransactionDoesNotAffectTheOthers(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared, poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("pipe")
        try pool.withConnection { connection in
            try connection.execute("CREATE TEMP TABLE \(table) (id int8 PRIMARY KEY, note text)")
            let insert = "INSERT INTO \(table) VALUES ($1, $2)"
            let results = try connection.pipeline([
                (insert, [.int(1), .text("one")]),
                (insert, [.int(1), .text("duplicate")]),
                ("SELEC broken", []),
                (insert, [.int(2), .text("nul \u{0} inside")]),
                (insert, [.int(3), .text("three")]),
                ("SELECT id, note FROM \(table) ORDER BY id", []),
            ])
            #expect(results.count == 6)
            #expect((try? results[0].get().affectedRows) == 1)
            #expect(results[1].failure == .uniqueViolation(constraint: "\(table)_pkey"))
            guard case .server(sqlstate: "42601", _)? = results[2].failure else {
                Issue.record("expected a syntax error, got \(results[2])")
                return
            }
            guard case .invalidInput? = results[3].failure else {
                Issue.record("expected invalid input, got \(results[3])")
                return
            }
            #expect((try? results[4].get().affectedRows) == 1)
            let rows = try results[5].get()
            #expect(rows.map { $0.int(0) } == [1, 3])
            #expect(rows.map { $0.string(1) } == ["one", "three"])
            // The connection is back to normal.
            #expect(try connection.query("SELECT count(*) FROM \(table)").first?.int(0) == 2)
            #expect(try connection.pipeline([]).isEmpty)
        }
        #expect(pool.statistics.idle == 1)
    }

    @Test func anErrorInsideATransactionFailsTheRestAndTheTransaction() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("pipetx")
        try pool.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        defer { _ = try? pool.query("DROP TABLE \(table)") }
        let collected = Collected<[Result<PostgresRows, StoreError>]>()
        let error = storeError {
            try pool.transaction { connection in
                collected.append(
                    try connection.pipeline([
                        ("INSERT INTO \(table) VALUES ($1)", [.int(1)]),
                        ("INSERT INTO \(table) VALUES ($1)", [.int(1)]),
                        ("INSERT INTO \(table) VALUES ($1)", [.int(2)]),
                    ]))
            }
        }
        let results = try #require(collected.all.first)
        #expect((try? results[0].get()) != nil)
        #expect(results[1].failure == .uniqueViolation(constraint: "\(table)_pkey"))
        guard case .server(sqlstate: "25P02", _)? = results[2].failure else {
            Issue.record("expected in_failed_sql_transaction, got \(results[2])")
            return
        }
        guard case .server(sqlstate: "25P02", _)? = error else {
            Issue.record("expected the transaction to fail, got \(String(describing: error))")
            return
        }
        #expect(try pool.query("SELECT count(*) FROM \(table)").first?.int(0) == 0)

        // Without errors, the whole pipeline commits with the transaction.
        try pool.transaction { connection in
            for result in try connection.pipeline(
                (1...3).map { ("INSERT INTO \(table) VALUES ($1)", [.int(Int64($0))]) })
            {
                _ = try result.get()
            }
        }
        #expect(try pool.query("SELECT count(*) FROM \(table)").first?.int(0) == 3)
    }

    @Test(arguments: [true, false])
    func largePipelinesDoNotDeadlock(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared, poolSize: 1)
        defer { pool.close() }
        let big = String(repeating: "x", count: 2_000)
        let statements: [(sql: String, parameters: [PostgresValue])] = (0..<2_000).map {
            ("SELECT $1::int8, $2::text, repeat('y', 2000)", [.int(Int64($0)), .text(big)])
        }
        let (results, elapsed) = try measure { try pool.withConnection { try $0.pipeline(statements) } }
        #expect(results.count == 2_000)
        for (index, result) in results.enumerated() {
            let row = try #require(try result.get().first)
            #expect(row.int(0) == Int64(index))
        }
        #expect(elapsed < .seconds(10))
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
