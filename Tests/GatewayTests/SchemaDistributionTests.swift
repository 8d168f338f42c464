import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// The schema stays distributable by tenant (Citus, `docs/operations-scaling.md`): every table that
/// holds an `org_id` has it first in its primary key, and every SQL statement of the gateway that
/// touches a tenant-owned table names `org_id`, so each statement routes to one shard.
@Suite struct SchemaDistributionTests {
    /// Tables that hold no tenant data: reference data and the migrator's own bookkeeping.
    /// `console_sessions` is found by the session token's hash alone on every console request, as a
    /// key is by its hash (m0008): on Citus a reference table, like the key-hash lookup.
    static let tablesWithoutOrgID: Set<String> = ["plans", "schema_migrations", "console_sessions"]

    /// Tenant-owned tables whose statements must name `org_id`.
    static let tenantTables = [
        "memories", "memory_versions", "spaces", "idempotency_keys", "usage_counters", "usage_alerts",
        "quota_counters", "api_keys", "audit_log", "rate_limits", "storage_usage", "storage_deltas", "webhooks", "webhook_events", "webhook_deliveries",
    ]

    /// String literals that touch a tenant table without `org_id` on purpose (file name, a fragment of
    /// the literal). Keep it short; each entry says why. (The per-request key lookup by hash needs no
    /// entry: it lives in SQL, in `gw_admit` of m0001, and on Citus it reads a reference table or a
    /// hash → org lookup table; see docs/operations-scaling.md.)
    static let allowedStatements: [(file: String, fragment: String, why: String)] = [
        // Candidates when they land: billing across all tenants (Billing.swift) is operator-only
        // and may fan out to every shard.
        ("IdempotencySweeper.swift", "DELETE FROM idempotency_keys",
         "the expiry sweep of every tenant's old records, in the background; fans out to every shard"),
        ("StorageAccounting.swift", "DELETE FROM storage_deltas",
         "folding every tenant's storage deltas, in the background; fans out to every shard"),
        ("MemoryExpiry.swift", "WHERE expires_at <= now()\n",
         "the expiry sweeper deletes expired memories of every tenant (background, no request data)"),
        ("ConsoleSessions.swift", "LEFT JOIN api_keys a ON a.key_hash = s.key_hash",
         "a console session is found by its token's hash before any tenant is known, and its key by the "
             + "key's hash, as admission finds a key (api_keys_by_hash); the select list names a.org_id"),
    ]

    /// Interpolations that always carry the tenant condition, so a literal using them names `org_id`
    /// through them. Each is checked below to still do so.
    static let tenantConditionInterpolations: [(interpolation: String, file: String, mustContain: String)] = [
        // MemoryFilter.whereClause(principal:parameters:) starts with `m.org_id = $n AND m.env = $n+1`.
        (#"\(conditions)"#, "MemoryFilter.swift", #"["m.org_id = $\(parameters.count - 1)", "m.env = $\(parameters.count)"]"#),
    ]

    static let sourcesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Gateway").standardized

    // MARK: the live schema

    /// A database holding exactly the migrated schema: the shared test database also holds tables
    /// other suites create while these tests run.
    static let migratedPool: PostgresPool = {
        do {
            let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: try GatewayProcess.freshDatabase()))
            _ = try Migrator.migrate(pool: pool, migrations: Migrations.all)
            return pool
        } catch {
            fatalError("could not migrate a fresh database: \(error)")
        }
    }()

    @Test func everyOrgTableHasOrgIDFirstInItsPrimaryKey() throws {
        let pool = Self.migratedPool
        let rows = try pool.query(
            """
            SELECT c.relname,
                   EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND a.attnum > 0 AND NOT a.attisdropped),
                   (SELECT a.attname FROM pg_index i
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                     WHERE i.indrelid = c.oid AND i.indisprimary)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
             ORDER BY c.relname
            """)
        var tables: [String] = []
        for row in rows {
            let table = row.string(0) ?? "?"
            tables.append(table)
            let hasOrgID = row.bool(1) ?? false
            let firstKeyColumn = row.string(2)
            if hasOrgID {
                #expect(firstKeyColumn == "org_id",
                        "\(table): primary key starts with \(firstKeyColumn ?? "nothing (no primary key)"), not org_id")
            } else {
                #expect(Self.tablesWithoutOrgID.contains(table),
                        "\(table) has no org_id: distribute it by tenant, or add it to the reference allow-list with a reason")
            }
        }
        for table in Self.tenantTables + ["tenants"] {
            #expect(tables.contains(table), "expected table \(table) in the schema")
        }
    }

    /// Every unique index on a tenant table includes `org_id` (Citus requires the distribution column
    /// in unique constraints), except the key-hash lookup index, which moves with api_keys to a
    /// reference table or a hash → org lookup table on Citus.
    @Test func uniqueIndexesOnTenantTablesIncludeOrgID() throws {
        let pool = Self.migratedPool
        let rows = try pool.query(
            """
            SELECT c.relname, ic.relname,
                   EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k
                            WHERE a.attname = 'org_id')
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND i.indisunique AND c.relname = ANY ($1::text[])
            """, [.textArray(Self.tenantTables)])
        for row in rows where row.bool(2) != true {
            let index = row.string(1) ?? "?"
            #expect(index == "api_keys_by_hash", "unique index \(index) on \(row.string(0) ?? "?") lacks org_id")
        }
    }

    // MARK: the gateway's SQL

    /// A statement touching a tenant table in one Swift string literal.
    struct Finding: CustomStringConvertible {
        let file: String
        let line: Int
        let sql: String
        var description: String { "\(file):\(line): \(sql.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(160))" }
    }

    /// Best effort: every string literal (single-line and `"""` blocks) of Sources/Gateway that reads or
    /// writes a tenant table (FROM / JOIN / UPDATE / INSERT INTO / DELETE FROM) must name `org_id`, and an
    /// UPDATE or DELETE of one must name it after its WHERE (an upsert's `ON CONFLICT DO UPDATE` is not one).
    @Test func everyTenantStatementNamesOrgID() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 10, "did not find the gateway's sources at \(Self.sourcesURL.path)")
        var touching = 0
        var violations: [Finding] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let name = file.lastPathComponent
            for (line, literal) in Self.stringLiterals(text) {
                let upper = literal.uppercased()
                let hits = Self.tenantTables.filter { Self.references(upper, table: $0.uppercased()) }
                guard !hits.isEmpty else { continue }
                touching += 1
                if Self.allowedStatements.contains(where: { $0.file == name && literal.contains($0.fragment) }) { continue }
                var ok = upper.contains("ORG_ID")
                    || Self.tenantConditionInterpolations.contains { literal.contains($0.interpolation) }
                if ok, upper.range(of: #"(?<!DO\s)\b(UPDATE|DELETE\s+FROM)\s"#, options: .regularExpression) != nil {
                    if let whereRange = upper.range(of: "WHERE") {
                        ok = upper[whereRange.upperBound...].contains("ORG_ID")
                    } else {
                        ok = false
                    }
                }
                if !ok { violations.append(Finding(file: name, line: line, sql: literal)) }
            }
        }
        #expect(touching > 5, "the scan found almost no SQL: is the literal reader broken?")
        #expect(violations.isEmpty, "statements on tenant tables without org_id:\n\(violations.map(\.description).joined(separator: "\n"))")
    }

    /// The interpolations trusted above still build the tenant condition.
    @Test func trustedInterpolationsStillFilterByTenant() throws {
        let files = try Self.swiftFiles()
        for trusted in Self.tenantConditionInterpolations {
            guard let file = files.first(where: { $0.lastPathComponent == trusted.file }) else {
                Issue.record("\(trusted.file) not found: update tenantConditionInterpolations")
                continue
            }
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains(trusted.mustContain), "\(trusted.file) no longer starts its conditions with org_id")
        }
    }

    /// The scanner on known good and bad statements.
    @Test func scannerFlagsWhatItShould() {
        let source = #"""
            let a = "SELECT 1 FROM memories WHERE org_id = $1"
            let b = """
                DELETE FROM spaces WHERE space_id = $1
                """
            let c = "no sql here: memories are nice"
            """#
        let literals = Self.stringLiterals(source)
        #expect(literals.count == 3)
        #expect(Self.references(literals[0].text.uppercased(), table: "MEMORIES"))
        #expect(Self.references(literals[1].text.uppercased(), table: "SPACES"))
        #expect(!Self.references(literals[2].text.uppercased(), table: "MEMORIES"))
        #expect(literals[1].line == 2)
    }

    static func references(_ upperSQL: String, table: String) -> Bool {
        upperSQL.range(of: #"\b(FROM|JOIN|UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"# + table + #"\b"#,
                       options: .regularExpression) != nil
    }

    static func swiftFiles() throws -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: sourcesURL, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// The string literals of Swift source with the line each starts on: `"""` blocks, then `"…"` on
    /// one line (escapes honoured, interpolations kept as text). Comments are skipped.
    static func stringLiterals(_ source: String) -> [(line: Int, text: String)] {
        var result: [(line: Int, text: String)] = []
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            var line = lines[index]
            if let comment = line.range(of: "//"), !line[..<comment.lowerBound].contains("\"") { line = String(line[..<comment.lowerBound]) }
            if let open = line.range(of: "\"\"\""), !line[open.upperBound...].contains("\"\"\"") {
                // A multi-line literal: until the line holding the closing delimiter.
                var body: [String] = []
                let start = index + 1
                index += 1
                while index < lines.count, !lines[index].contains("\"\"\"") {
                    body.append(lines[index])
                    index += 1
                }
                result.append((start, body.joined(separator: "\n")))
                index += 1
                continue
            }
            var characters = Array(line)
            var position = 0
            while position < characters.count {
                if characters[position] == "\"" {
                    var text = ""
                    position += 1
                    while position < characters.count, characters[position] != "\"" {
                        if characters[position] == "\\", position + 1 < characters.count {
                            text.append(characters[position])
                            position += 1
                        }
                        text.append(characters[position])
                        position += 1
                    }
                    result.append((index + 1, text))
                }
                position += 1
            }
            characters.removeAll()
            index += 1
        }
        return result
    }
}
