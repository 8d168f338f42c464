/// Applies ``Migration``s once, in version order, recording them in `schema_migrations`.
public enum Migrator {
    /// The `pg_advisory_lock` key every gateway process takes while migrating ("MGMIGRAT" in ASCII).
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
    /// Creates `schema_migrations` if needed, and takes `pg_advisory_lock` on one connection for the
    /// whole run, so when several processes start at once one applies the schema and the others wait,
    /// then find nothing left to do. Each migration runs in its own transaction together with its
    /// `schema_migrations` row: a failing one leaves no trace, and the error is thrown (later
    /// migrations are not attempted).
    public static func migrate(pool: PostgresPool, migrations: [Migration]) throws -> [Int] {
        let ordered = try validated(migrations)
        return try pool.withConnection { connection throws -> [Int] in
            _ = try connection.query("SELECT pg_advisory_lock($1)", [.int(advisoryLockKey)])
            defer {
                // A broken connection's session lock is released by the server anyway.
                _ = try? connection.query("SELECT pg_advisory_unlock($1)", [.int(advisoryLockKey)])
            }
            try connection.execute(createTableSQL)
            let applied = Set(
                try connection.query("SELECT version FROM schema_migrations").compactMap { $0.int(0) })
            var appliedNow: [Int] = []
            for migration in ordered where !applied.contains(Int64(migration.version)) {
                try connection.execute("BEGIN")
                do throws(StoreError) {
                    try connection.execute(migration.sql)
                    _ = try connection.query(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        [.int(Int64(migration.version)), .text(migration.name)])
                    try connection.execute("COMMIT")
                } catch {
                    if connection.transactionState != .idle { try? connection.execute("ROLLBACK") }
                    throw error
                }
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// Whether every migration's version is recorded (a readiness check; no lock).
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
