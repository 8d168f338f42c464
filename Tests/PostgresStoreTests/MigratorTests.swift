import Foundation
import PostgresStore
import Testing

/// Migrations, each test in a schema of its own (via `search_path`), so runs never collide.
@Suite struct MigratorTests {
    /// A pool whose sessions resolve unqualified names in a fresh schema.
    private func schemaPool(_ schema: String, poolSize: Int = 2) -> PostgresPool {
        var configuration = TestDatabase.configuration(
            poolSize: poolSize, leaseTimeout: .seconds(30),
            url: TestDatabase.url(adding: ["options": "-c search_path=\(schema)"]))
        configuration.statementTimeout = .seconds(60)
        return PostgresPool(configuration: configuration)
    }

    private func migrations(_ table: String) -> [Migration] {
        [
            Migration(
                version: 1, name: "create",
                sql: "CREATE TABLE \(table) (id int8 PRIMARY KEY); CREATE TABLE \(table)_log (n int8)"),
            Migration(version: 2, name: "add column", sql: "ALTER TABLE \(table) ADD COLUMN note text"),
            // Not idempotent: applying it twice would duplicate the row.
            Migration(version: 3, name: "seed", sql: "INSERT INTO \(table)_log SELECT 1 FROM pg_sleep(0.2)"),
        ]
    }

    @Test func appliesPendingMigrationsOnceAndReportsReadiness() throws {
        let schema = TestDatabase.uniqueName("mig")
        let admin = TestDatabase.pool(poolSize: 1)
        defer { admin.close() }
        try admin.query("CREATE SCHEMA \(schema)")
        defer { _ = try? admin.query("DROP SCHEMA \(schema) CASCADE") }
        let pool = schemaPool(schema)
        defer { pool.close() }
        let all = migrations("things")

        #expect(try Migrator.isCurrent(pool: pool, migrations: all) == false)
        #expect(try Migrator.migrate(pool: pool, migrations: Array(all.prefix(1))) == [1])
        #expect(try Migrator.isCurrent(pool: pool, migrations: all) == false)
        #expect(try Migrator.isCurrent(pool: pool, migrations: Array(all.prefix(1))) == true)
        #expect(try Migrator.migrate(pool: pool, migrations: all.reversed()) == [2, 3])
        #expect(try Migrator.migrate(pool: pool, migrations: all) == [])
        #expect(try Migrator.isCurrent(pool: pool, migrations: all) == true)
        let recorded = try pool.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        #expect(recorded.map { $0.int(0) } == [1, 2, 3])
        #expect(recorded.map { $0.string(1) } == ["create", "add column", "seed"])
        #expect(recorded.allSatisfy { $0.date(2) != nil })
        #expect(throws: Migrator.MigrationError.duplicateVersion(2)) {
            try Migrator.migrate(pool: pool, migrations: all + [Migration(version: 2, name: "again", sql: "")])
        }
    }

    @Test func aFailingMigrationLeavesNoTrace() throws {
        let schema = TestDatabase.uniqueName("migfail")
        let admin = TestDatabase.pool(poolSize: 1)
        defer { admin.close() }
        try admin.query("CREATE SCHEMA \(schema)")
        defer { _ = try? admin.query("DROP SCHEMA \(schema) CASCADE") }
        let pool = schemaPool(schema)
        defer { pool.close() }
        let broken = [
            Migration(version: 1, name: "ok", sql: "CREATE TABLE a (id int8)"),
            Migration(version: 2, name: "half", sql: "CREATE TABLE b (id int8); SELECT no_such_function()"),
        ]
        #expect(throws: StoreError.self) { try Migrator.migrate(pool: pool, migrations: broken) }
        #expect(try pool.query("SELECT version FROM schema_migrations").map { $0.int(0) } == [1])
        #expect(try pool.query("SELECT to_regclass('b') IS NULL").first?.bool(0) == true)
        // The advisory lock was released: another migration run proceeds at once.
        let fixed = [broken[0], Migration(version: 2, name: "fixed", sql: "CREATE TABLE b (id int8)")]
        #expect(try Migrator.migrate(pool: pool, migrations: fixed) == [2])
    }

    @Test func concurrentMigrationsFromThreePoolsApplyTheSchemaOnce() throws {
        let schema = TestDatabase.uniqueName("migrace")
        let admin = TestDatabase.pool(poolSize: 1)
        defer { admin.close() }
        try admin.query("CREATE SCHEMA \(schema)")
        defer { _ = try? admin.query("DROP SCHEMA \(schema) CASCADE") }
        let all = migrations("race")
        let applied = Collected<[Int]>()
        let failures = Collected<String>()
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for _ in 0..<3 {
            group.enter()
            let pool = schemaPool(schema, poolSize: 1)
            Thread {
                start.wait()
                do {
                    applied.append(try Migrator.migrate(pool: pool, migrations: all))
                } catch {
                    failures.append("\(error)")
                }
                pool.close()
                group.leave()
            }.start()
        }
        for _ in 0..<3 { start.signal() }
        group.wait()
        #expect(failures.all.isEmpty)
        // Each migration is applied by exactly one of the three (not necessarily the same one).
        #expect(applied.all.flatMap { $0 }.sorted() == [1, 2, 3])
        #expect(try admin.query("SELECT count(*) FROM \(schema).race_log").first?.int(0) == 1)
        #expect(try admin.query("SELECT count(*) FROM \(schema).schema_migrations").first?.int(0) == 3)
    }
}
