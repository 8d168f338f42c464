import Foundation
import Glibc
import PostgresStore
import Synchronization
import Testing
import PostgresTestServer

/// Leasing, errors and transactions against the shared server.
@Suite struct PoolTests {
    struct Boom: Error {}

    @Test func exhaustionFailsWithinTheLeaseTimeoutThenRecovers() throws {
        let pool = TestDatabase.pool(poolSize: 2, leaseTimeout: .milliseconds(300))
        defer { pool.close() }
        let holding = DispatchSemaphore(value: 0)
        let releaseHeld = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                _ = try? pool.withConnection { connection in
                    _ = try connection.query("SELECT 1")
                    holding.signal()
                    releaseHeld.wait()
                }
                group.leave()
            }.start()
        }
        holding.wait()
        holding.wait()
        #expect(pool.statistics.inUse == 2)

        let (error, elapsed) = measure { storeError { _ = try pool.query("SELECT 1") } }
        guard case .unavailable = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        #expect(elapsed >= .milliseconds(280))
        #expect(elapsed < .milliseconds(1500))
        #expect(pool.statistics.totalLeaseTimeouts == 1)

        // A waiter gets the first connection released.
        let waiter = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            releaseHeld.signal()
        }
        waiter.start()
        let (rows, waited) = try measure { try pool.query("SELECT 2") }
        #expect(rows.first?.int(0) == 2)
        #expect(waited < .milliseconds(300))
        releaseHeld.signal()
        group.wait()
        #expect(try pool.query("SELECT 3").first?.int(0) == 3)
        let statistics = pool.statistics
        #expect(statistics.inUse == 0 && statistics.idle == 2 && statistics.waiting == 0 && statistics.size == 2)
    }

    @Test func manyThreadsShareASmallPool() throws {
        let pool = TestDatabase.pool(poolSize: 3, leaseTimeout: .seconds(10))
        defer { pool.close() }
        let failures = Collected<String>()
        onThreads(12) { index in
            for iteration in 0..<50 {
                do {
                    let rows = try pool.query("SELECT $1::int8 * 2", [.int(Int64(index * 1000 + iteration))])
                    if rows.first?.int(0) != Int64(index * 1000 + iteration) * 2 { failures.append("wrong result") }
                } catch {
                    failures.append("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
        #expect(pool.statistics.idle <= 3)
    }

    @Test func closedPoolFailsWithUnavailable() {
        let pool = TestDatabase.pool()
        #expect((try? pool.query("SELECT 1")) != nil)
        pool.close()
        guard case .unavailable = storeError({ _ = try pool.query("SELECT 1") }) else {
            Issue.record("expected .unavailable")
            return
        }
        #expect(pool.statistics.idle == 0)
    }

    @Test func unreachableServerFailsFastWithUnavailable() {
        var configuration = PostgresConfiguration(
            connectionString: "postgresql://postgres@127.0.0.1:\(TestPostgresServer.freePort())/postgres")
        configuration.poolSize = 2
        let pool = PostgresPool(configuration: configuration)
        let (error, elapsed) = measure { storeError { _ = try pool.query("SELECT 1") } }
        guard case .unavailable = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        #expect(elapsed < .seconds(1))
        #expect(pool.statistics.inUse == 0)
        guard case .unavailable = storeError({ _ = try pool.query("not even parsed") }) else {
            Issue.record("expected .unavailable")
            return
        }
    }

    static let errorCases: [(sql: String, expected: StoreError)] = [
        ("SELECT $1::jsonb", .invalidInput(sqlstate: "22P02", message: "")),
        ("SELECT to_tsvector('no_such_config', 'x')", .invalidInput(sqlstate: "42704", message: "")),
        ("SELECT 1 / 0", .invalidInput(sqlstate: "22012", message: "")),
        ("SELECT 'abc'::int8", .invalidInput(sqlstate: "22P02", message: "")),
        ("SELEC 1", .server(sqlstate: "42601", message: "")),
        ("SELECT * FROM no_such_table_anywhere", .server(sqlstate: "42P01", message: "")),
    ]

    @Test(arguments: errorCases)
    func mapsServerErrorsBySQLState(sql: String, expected: StoreError) throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let parameters: [PostgresValue] = sql.contains("$1") ? [.text("{not json")] : []
        let error = storeError { _ = try pool.query(sql, parameters) }
        switch (error, expected) {
        case (.invalidInput(let state, let message)?, .invalidInput(let expectedState, _)),
            (.server(let state, let message)?, .server(let expectedState, _)):
            #expect(state == expectedState)
            #expect(!message.isEmpty)
        default:
            Issue.record("\(sql): expected \(expected), got \(String(describing: error))")
        }
        // The connection survived the error and is reused.
        #expect(try pool.query("SELECT 1").first?.int(0) == 1)
        #expect(pool.statistics.idle == 1)
    }

    @Test(arguments: [true, false])
    func mapsConstraintViolations(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared, poolSize: 1)
        defer { pool.close() }
        let parent = TestDatabase.uniqueName("parent")
        let child = TestDatabase.uniqueName("child")
        try pool.withConnection { connection in
            try connection.execute(
                """
                CREATE TEMP TABLE \(parent) (id int8 PRIMARY KEY, email text NOT NULL,
                    CONSTRAINT \(parent)_email_key UNIQUE (email), CONSTRAINT \(parent)_id_positive CHECK (id > 0));
                CREATE TEMP TABLE \(child) (parent_id int8 CONSTRAINT \(child)_parent_fk REFERENCES \(parent) (id));
                """)
            let insert = "INSERT INTO \(parent) (id, email) VALUES ($1, $2)"
            _ = try connection.query(insert, [.int(1), .text("a@example.com")])
            #expect(
                storeError { _ = try connection.query(insert, [.int(2), .text("a@example.com")]) }
                    == .uniqueViolation(constraint: "\(parent)_email_key"))
            #expect(
                storeError { _ = try connection.query(insert, [.int(-1), .text("b@example.com")]) }
                    == .checkViolation(constraint: "\(parent)_id_positive"))
            #expect(
                storeError { _ = try connection.query(insert, [.int(3), .null]) }
                    == .checkViolation(constraint: nil))
            #expect(
                storeError { _ = try connection.query("INSERT INTO \(child) VALUES ($1)", [.int(99)]) }
                    == .foreignKeyViolation(constraint: "\(child)_parent_fk"))
            #expect(try connection.query("SELECT count(*) FROM \(parent)").first?.int(0) == 1)
        }
    }

    @Test func transactionRollsBackOnAThrownError() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("rollback")
        try pool.query("CREATE TABLE \(table) (n int8)")
        defer { _ = try? pool.query("DROP TABLE \(table)") }
        #expect(throws: Boom.self) {
            try pool.transaction { connection in
                _ = try connection.query("INSERT INTO \(table) VALUES (1)")
                throw Boom()
            }
        }
        #expect(try pool.query("SELECT count(*) FROM \(table)").first?.int(0) == 0)

        let value = try pool.transaction(isolation: .repeatableRead) { connection in
            _ = try connection.query("INSERT INTO \(table) VALUES (2)")
            return try connection.query("SELECT current_setting('transaction_isolation')").first?.string(0)
        }
        #expect(value == "repeatable read")
        #expect(try pool.query("SELECT count(*) FROM \(table)").first?.int(0) == 1)

        // A statement error swallowed inside the body cannot be committed.
        let swallowed = storeError {
            try pool.transaction { connection in
                _ = try connection.query("INSERT INTO \(table) VALUES (3)")
                _ = try? connection.query("SELECT 1 / 0")
            }
        }
        #expect(
            swallowed
                == .server(
                    sqlstate: "25P02",
                    message: "a statement failed inside the transaction; rolled back instead of committed"))
        #expect(try pool.query("SELECT count(*) FROM \(table)").first?.int(0) == 1)
    }

    @Test func connectionLeftInATransactionIsRolledBackBeforeReuse() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("leftopen")
        try pool.query("CREATE TABLE \(table) (n int8)")
        defer { _ = try? pool.query("DROP TABLE \(table)") }
        try pool.withConnection { connection in
            try connection.execute("BEGIN")
            _ = try connection.query("INSERT INTO \(table) VALUES (1)")
        }
        _ = try? pool.withConnection { connection in
            try connection.execute("BEGIN")
            _ = try connection.query("SELECT 1 / 0")  // leaves the transaction failed
        }
        try pool.withConnection { connection throws in
            #expect(try connection.query("SELECT count(*) FROM \(table)").first?.int(0) == 0)
            // Not in a transaction: SAVEPOINT is refused with 25P01 no_active_sql_transaction.
            guard case .server(sqlstate: "25P01", _)? = storeError({ try connection.execute("SAVEPOINT probe") }) else {
                Issue.record("the connection was still in a transaction")
                return
            }
        }
        #expect(pool.statistics.idle == 1)
    }

    @Test func serializationFailureIsRetriedOnce() throws {
        let pool = TestDatabase.pool(poolSize: 3)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("serial")
        try pool.query("CREATE TABLE \(table) (id int8 PRIMARY KEY, n int8)")
        defer { _ = try? pool.query("DROP TABLE \(table)") }
        try pool.query("INSERT INTO \(table) VALUES (1, 0)")

        /// Reads the row, lets another connection change it, then writes it: 40001 under repeatable read.
        func conflictingUpdate(_ connection: PostgresConnection, interfere: Bool) throws {
            _ = try connection.query("SELECT n FROM \(table) WHERE id = 1")
            if interfere { _ = try pool.query("UPDATE \(table) SET n = n + 100 WHERE id = 1") }
            _ = try connection.query("UPDATE \(table) SET n = n + 1 WHERE id = 1")
        }

        let attempts = Atomic<Int>(0)
        try pool.transaction(isolation: .repeatableRead) { connection in
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            try conflictingUpdate(connection, interfere: attempt == 1)
        }
        #expect(attempts.load(ordering: .relaxed) == 2)
        #expect(try pool.query("SELECT n FROM \(table) WHERE id = 1").first?.int(0) == 101)

        // Failing again on the retry: the error reaches the caller after exactly two attempts.
        attempts.store(0, ordering: .relaxed)
        let error = storeError {
            try pool.transaction(isolation: .serializable) { connection in
                attempts.add(1, ordering: .relaxed)
                try conflictingUpdate(connection, interfere: true)
            }
        }
        #expect(error == .serializationFailure)
        #expect(attempts.load(ordering: .relaxed) == 2)
        #expect(try pool.query("SELECT n FROM \(table) WHERE id = 1").first?.int(0) == 301)
        #expect(pool.statistics.inUse == 0)
    }

    @Test func deadlockIsReportedAsSerializationFailure() throws {
        let pool = TestDatabase.pool(poolSize: 2, leaseTimeout: .seconds(5))
        defer { pool.close() }
        let table = TestDatabase.uniqueName("deadlock")
        try pool.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        defer { _ = try? pool.query("DROP TABLE \(table)") }
        try pool.query("INSERT INTO \(table) VALUES (1), (2)")
        let errors = Collected<StoreError?>()
        let bothLocked = DispatchGroup()
        bothLocked.enter()
        bothLocked.enter()
        onThreads(2) { index in
            errors.append(
                storeError {
                    try pool.withConnection { connection in
                        try connection.execute("BEGIN")
                        _ = try connection.query(
                            "SELECT * FROM \(table) WHERE id = $1 FOR UPDATE", [.int(Int64(index + 1))])
                        bothLocked.leave()
                        bothLocked.wait()
                        _ = try connection.query(
                            "SELECT * FROM \(table) WHERE id = $1 FOR UPDATE", [.int(Int64(2 - index))])
                        try connection.execute("COMMIT")
                    }
                })
        }
        #expect(errors.all.filter { $0 == .serializationFailure }.count == 1)
        #expect(errors.all.filter { $0 == nil }.count == 1)
    }
}

/// Connections killed by the server, and statements cancelled by it.
@Suite struct BrokenConnectionTests {
    @Test func aConnectionKilledWhileLeasedFailsWithUnavailableAndIsDiscarded() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        let admin = TestDatabase.pool(poolSize: 1)
        defer {
            pool.close()
            admin.close()
        }
        let error = storeError {
            try pool.withConnection { connection in
                let pid = try #require(try connection.query("SELECT pg_backend_pid()").first?.int(0))
                try admin.query("SELECT pg_terminate_backend($1::int4)", [.int(pid)])
                _ = try connection.query("SELECT 1")
            }
        }
        guard case .unavailable? = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        #expect(pool.statistics.idle == 0 && pool.statistics.inUse == 0)
        #expect(try pool.query("SELECT 1").first?.int(0) == 1)
    }

    @Test func aParkedConnectionKilledMeanwhileIsReplacedTransparently() throws {
        let pool = TestDatabase.pool(poolSize: 2)
        let admin = TestDatabase.pool(poolSize: 1)
        defer {
            pool.close()
            admin.close()
        }
        onThreads(2) { _ in _ = try? pool.query("SELECT pg_sleep(0.05)") }
        #expect(pool.statistics.idle == 2)
        let pids = try pool.withConnection { first in
            try pool.withConnection { second in
                try [first, second].compactMap { try $0.query("SELECT pg_backend_pid()").first?.int(0) }
            }
        }
        for pid in pids { try admin.query("SELECT pg_terminate_backend($1::int4, 5000)", [.int(pid)]) }
        // Both parked connections are dead; the next requests never see it.
        for _ in 0..<4 { #expect(try pool.query("SELECT 1").first?.int(0) == 1) }
        let newPid = try pool.query("SELECT pg_backend_pid()").first?.int(0)
        #expect(newPid.map { !pids.contains($0) } == true)
    }

    @Test func statementTimeoutCancelsAndLeavesTheConnectionUsable() throws {
        var configuration = TestDatabase.configuration(poolSize: 1)
        configuration.statementTimeout = .milliseconds(100)
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }
        let (error, elapsed) = measure { storeError { _ = try pool.query("SELECT pg_sleep(5)") } }
        guard case .server(sqlstate: "57014", _)? = error else {
            Issue.record("expected query_canceled, got \(String(describing: error))")
            return
        }
        #expect(elapsed < .seconds(2))
        #expect(try pool.query("SELECT 1").first?.int(0) == 1)
        #expect(pool.statistics.idle == 1)
    }
}

extension BrokenConnectionTests {
    /// A listener that accepts TCP connections and never answers: connecting must give up on time.
    @Test func connectingToAServerThatNeverAnswersGivesUpAtTheConnectTimeout() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        try #require(bound)
        var configuration = PostgresConfiguration(
            connectionString: "postgresql://postgres@127.0.0.1:\(UInt16(bigEndian: address.sin_port))/postgres")
        configuration.connectTimeout = .milliseconds(300)
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }
        let (error, elapsed) = measure { storeError { _ = try pool.query("SELECT 1") } }
        guard case .unavailable? = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        #expect(elapsed >= .milliseconds(280))
        #expect(elapsed < .milliseconds(1500))
        #expect(pool.statistics.inUse == 0)
    }
}
