/// Applies ``Migration``s once, in version order, recording them in `schema_migrations`.
public enum Migrator {
    /// The advisory lock key every gateway process takes while migrating ("MGMIGRAT" in ASCII).
    static let advisoryLockKey: Int64 = 0x4D47_4D49_4752_4154

    /// The ledger of applied migrations, in the session's first `search_path` schema.
    static let createTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version bigint PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Errors in the list of migrations itself.
    public enum MigrationError: Error, Sendable, Equatable {
        case duplicateVersion(Int)
    }

    /// Applies the pending migrations and returns the versions applied now (empty when current).
    ///
    /// Each migration runs in its own transaction, which takes `pg_advisory_xact_lock`, creates
    /// `schema_migrations` if needed, and applies the migration with its row unless another process
    /// already did: when several processes start at once one applies each migration and the others
    /// wait, then find it done. Transaction-scoped locks also hold behind pgbouncer in transaction
    /// pooling mode. A failing migration leaves no trace, and the error is thrown (later migrations
    /// are not attempted).
    public static func migrate(pool: PostgresPool, migrations: [Migration]) throws -> [Int] {
        let ordered = try validated(migrations)
        if try isCurrent(pool: pool, migrations: ordered) { return [] }
        return try pool.withConnection { connection throws -> [Int] in
            var appliedNow: [Int] = []
            for migration in ordered {
                // The lock is transaction-scoped, taken again for each migration: a session lock
                // taken and released by separate statements would leak behind pgbouncer in
                // transaction mode, where they may run on different server connections.
                try connection.execute("BEGIN")
                do throws(StoreError) {
                    _ = try connection.query("SELECT pg_advisory_xact_lock($1)", [.int(advisoryLockKey)])
                    try connection.execute(createTableSQL)
                    let done = try connection.query(
                        "SELECT 1 FROM schema_migrations WHERE version = $1", [.int(Int64(migration.version))])
                    if done.isEmpty {
                        try connection.execute(migration.sql)
                        _ = try connection.query(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            [.int(Int64(migration.version)), .text(migration.name)])
                        appliedNow.append(migration.version)
                    }
                    try connection.execute("COMMIT")
                } catch {
                    if connection.transactionState != .idle { try? connection.execute("ROLLBACK") }
                    throw error
                }
            }
            return appliedNow
        }
    }

    public static func isCurrent(pool: PostgresPool, migrations: [Migration]) throws -> Bool {
        let recorded = try pool.withConnection { connection throws -> Set<Int64> in
            // Two statements: a query naming a missing table fails when parsed, whatever its CASE says.
            let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
            guard exists.first?.bool(0) == true else { return [] }
            return Set(try connection.query("SELECT version FROM schema_migrations").compactMap { $0.int(0) })
        }
        return migrations.allSatisfy { recorded.contains(Int64($0.version)) }
    }

    private static func validated(_ migrations: [Migration]) throws(MigrationError) -> [Migration] {
        let ordered = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.version == next.version {
            throw .duplicateVersion(next.version)
        }
        return ordered
    }
}
