/// One schema change, applied once, in version order, by ``Migrator``.
public struct Migration: Sendable {
    /// Unique, increasing; recorded in `schema_migrations` once applied.
    public var version: Int
    /// A human label, recorded with the version.
    public var name: String
    /// Run with the simple query protocol inside one transaction; may hold several statements.
    /// Statements that cannot run in a transaction block (`CREATE INDEX CONCURRENTLY`) are not supported.
    public var sql: String

    /// A migration; `version` orders it and records it.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
