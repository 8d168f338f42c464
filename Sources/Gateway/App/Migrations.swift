import PostgresStore

/// The schema's migrations, in order. Each is a plain `.sql` file in `Migrations/`, embedded in
/// the binary; a test checks that this list names every file there.
enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: String(decoding: PackageResources.m0001_initial_sql, as: UTF8.self)),
        Migration(version: 2, name: "query", sql: String(decoding: PackageResources.m0002_query_sql, as: UTF8.self)),
        Migration(version: 3, name: "insert_times", sql: String(decoding: PackageResources.m0003_insert_times_sql, as: UTF8.self)),
        Migration(version: 4, name: "plan_history", sql: String(decoding: PackageResources.m0004_plan_history_sql, as: UTF8.self)),
        Migration(version: 5, name: "fair_limits", sql: String(decoding: PackageResources.m0005_fair_limits_sql, as: UTF8.self)),
        Migration(version: 6, name: "lifecycle", sql: String(decoding: PackageResources.m0006_lifecycle_sql, as: UTF8.self)),
        Migration(version: 7, name: "webhooks", sql: String(decoding: PackageResources.m0007_webhooks_sql, as: UTF8.self)),
        Migration(version: 8, name: "console_sessions", sql: String(decoding: PackageResources.m0008_console_sessions_sql, as: UTF8.self)),
        Migration(version: 9, name: "leases", sql: String(decoding: PackageResources.m0009_leases_sql, as: UTF8.self)),
        Migration(version: 10, name: "query_bands", sql: String(decoding: PackageResources.m0010_query_bands_sql, as: UTF8.self)),
    ]
}
