import Foundation
import HTTPServer
import PostgresStore
import Synchronization

/// `GET /v1/memories/export` (the export path): the memories matching the list filters as NDJSON
/// (`application/x-ndjson`), one memory object per line, newest first; `include_history=true`
/// adds `versions` (the history array, newest first, current version included).
///
/// The tenant's memories as of the moment the export starts (the `as_of` view over versions: a
/// memory updated meanwhile shows the version it had then, one erased or expired meanwhile is
/// left out, one created meanwhile is not in it), read page by page in short statements
/// (keyset paging, at most ``pageRows`` rows and about ``MemoryPage/exportPageBytes`` stored
/// bytes a page). No connection, transaction or thread is held while the client reads: a page is
/// written, and the next is read only once the client has taken every byte of it
/// (``HTTPBodyStream/whenDrained(_:)``). The export holds one of its tenant's export slots for its
/// whole length and a connection slot only while reading a page. Filters are validated and the
/// first page read before the stream starts, so a 400 or 503 is an ordinary error response.
enum MemoryExport {
    /// Rows read per page at most.
    static let pageRows = 500
    /// How long a later page waits for one of its tenant's connection slots before the export is
    /// given up (the client then sees a truncated body).
    static let pageSlotWait: Duration = .seconds(30)

    /// The handler: validates, reads the first page, starts the stream and hands the rest to an
    /// ``Job``; returns ``APIResponse/streamedResponse``.
    static func export(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var issues = Issues()
        let filter = MemoryFilter(context.query, issues: &issues)
        var includeHistory = false
        switch context.query["include_history"] {
        case nil, "false"?: includeHistory = false
        case "true"?: includeHistory = true
        case .some: issues.add("include_history", "must be true or false")
        }
        try issues.check()

        let lease = try context.takeSlots(.export)
        // The moment of the snapshot, with PostgreSQL's precision (stored times are milliseconds).
        guard let asOf = try context.pool.query("SELECT now()::text AS now").first?.string("now") else {
            throw APIError.internalError
        }
        let job = Job(services: context.services, principal: principal, filter: filter,
                      includeHistory: includeHistory, asOf: asOf, requestID: context.request.requestID, lease: lease)
        let first = try job.readPage(context.pool)
        lease.release(.connection)

        // From here on the response has started: errors end the stream, they cannot become a status.
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-ndjson")
        headers.add("Cache-Control", "no-store")
        for (name, value) in principal.rateLimit.headers { headers.add(name, value) }
        let stream = context.responder.startStream(status: 200, headers: headers, logFields: [
            ("org", principal.orgID), ("key_prefix", principal.keyPrefix),
        ])
        job.write(first, to: stream)
        return APIResponse.streamedResponse
    }

    /// One export after its first page: where it is, and what it holds.
    final class Job: Sendable {
        struct Page: Sendable {
            var bytes: [UInt8]
            /// The keyset position after the page's last memory; nil when it was the last page.
            var next: Position?
        }

        struct Position: Sendable {
            var createdAt: String
            var memoryID: String
        }

        private let services: Services
        private let principal: Principal
        private let filter: MemoryFilter
        private let includeHistory: Bool
        private let asOf: String
        private let requestID: String
        /// The export slot (and, for the first page only, a connection slot), released at the end.
        private let lease: TenantSlots.Lease
        /// Read and written by one page at a time (pages never overlap); a Mutex for Sendable.
        private let position = Mutex<Position?>(nil)

        init(services: Services, principal: Principal, filter: MemoryFilter, includeHistory: Bool, asOf: String,
             requestID: String, lease: TenantSlots.Lease) {
            self.services = services
            self.principal = principal
            self.filter = filter
            self.includeHistory = includeHistory
            self.asOf = asOf
            self.requestID = requestID
            self.lease = lease
        }

        /// Writes `page`; then either ends the stream or reads the next page once the client has
        /// taken this one (no thread waits in between).
        func write(_ page: Page, to stream: HTTPBodyStream) {
            guard stream.write(page.bytes) else { return end() }  // the client went away
            guard let next = page.next else {
                stream.finish()
                return end()
            }
            position.withLock { $0 = next }
            stream.whenDrained { [self] in
                guard stream.isOpen else { return end() }
                if !services.workers.submit({ self.continueAfterSlot(stream) }) { fail(stream, "workers busy") }
            }
        }

        /// Takes a connection slot of the tenant (parked, not blocking, while it has none free),
        /// then reads and writes the next page.
        private func continueAfterSlot(_ stream: HTTPBodyStream) {
            let slots = services.tenantSlots
            let granted: @Sendable (TenantSlots.Lease) -> Void = { [self] pageLease in
                if !services.workers.submit({ self.readAndWrite(stream, pageLease) }) {
                    pageLease.releaseAll()
                    fail(stream, "workers busy")
                }
            }
            if let pageLease = slots.acquire(
                principal.orgID, [.connection], wait: MemoryExport.pageSlotWait, granted: granted,
                timedOut: { [self] _ in fail(stream, "no connection slot of the tenant within the wait") })
            {
                readAndWrite(stream, pageLease)
            }
        }

        private func readAndWrite(_ stream: HTTPBodyStream, _ pageLease: TenantSlots.Lease) {
            let page: Page
            do {
                defer { pageLease.releaseAll() }
                guard stream.isOpen else { return end() }
                page = try readPage(Database(pool: services.pool))
            } catch {
                return fail(stream, "\(error)")
            }
            write(page, to: stream)
        }

        /// The status line is gone: end the body without its terminating chunk, so the client
        /// sees a truncated transfer rather than an export that looks complete.
        private func fail(_ stream: HTTPBodyStream, _ reason: String) {
            Log.error("export interrupted", ["request_id": requestID, "error": reason])
            stream.abort()
            end()
        }

        private func end() {
            lease.releaseAll()
        }

        /// Reads the page after the current position: one statement (two in one short
        /// transaction with the history), as of the export's start.
        func readPage(_ database: Database) throws -> Page {
            let after = position.withLock { $0 }
            var parameters: [PostgresValue] = []
            var conditions = filter.whereClause(principal: principal, parameters: &parameters)
            parameters.append(.text(asOf))
            let asOfParameter = "$\(parameters.count)::timestamptz"
            if let after {
                parameters.append(.text(after.createdAt))
                parameters.append(.text(after.memoryID))
                let (createdAt, memoryID) = (parameters.count - 1, parameters.count)
                conditions += " AND (m.created_at, m.memory_id) < ($\(createdAt)::timestamptz, $\(memoryID))"
            }
            parameters.append(.int(Int64(MemoryExport.pageRows)))
            let limit = parameters.count
            parameters.append(.int(Int64(MemoryPage.exportPageBytes)))
            let cut = parameters.count
            // The as_of view: current rows written by then, and the versions current then of
            // memories updated since (the only ones that can have such a version).
            let snapshot = """
                (SELECT org_id, env, memory_id, text, metadata, space_id, source, version, created_at, updated_at,
                        expires_at
                   FROM memories WHERE org_id = $1 AND env = $2 AND updated_at <= \(asOfParameter)
                 UNION ALL
                 SELECT org_id, env, memory_id, text, metadata, space_id, source, version, created_at, valid_from,
                        (SELECT c.expires_at FROM memories c
                          WHERE c.org_id = $1 AND c.env = $2 AND c.memory_id = memory_versions.memory_id)
                   FROM memory_versions
                  WHERE org_id = $1 AND env = $2 AND valid_from <= \(asOfParameter) AND superseded_at > \(asOfParameter)
                    AND memory_id IN (SELECT memory_id FROM memories
                                       WHERE org_id = $1 AND env = $2 AND updated_at > \(asOfParameter))) m
                """
            let inner = """
                SELECT \(MemoryPage.memoryColumns(sizeFactor: includeHistory ? "m.version + 1" : "1"))
                  FROM \(snapshot) WHERE \(conditions)
                 ORDER BY m.created_at DESC, m.memory_id DESC LIMIT $\(limit)
                """
            let sql = MemoryPage.sizeCut(inner, order: "sort_created DESC, memory_id DESC", cutParameter: cut)
            let (rows, versions) = try database.transaction(isolation: .repeatableRead) { connection in
                let rows = try connection.query(sql, parameters)
                let ids = rows.map { MemoryRow($0).id }
                let versions = includeHistory && !ids.isEmpty ? try history(of: ids, connection: connection) : [:]
                return (rows, versions)
            }
            var bytes: [UInt8] = []
            let memories = rows.map { MemoryRow($0) }
            for memory in memories {
                if includeHistory {
                    memory.write(into: &bytes) { buffer in
                        buffer.append(contentsOf: #","versions":["#.utf8)
                        for (index, version) in (versions[memory.id] ?? []).enumerated() {
                            if index > 0 { buffer.append(UInt8(ascii: ",")) }
                            version.write(into: &buffer)
                        }
                        buffer.append(UInt8(ascii: "]"))
                    }
                } else {
                    memory.write(into: &bytes)
                }
                bytes.append(UInt8(ascii: "\n"))
            }
            let fetched = PageRow.fetched(rows)
            let isLast = fetched < MemoryExport.pageRows && fetched == rows.count
            guard !isLast, let last = memories.last else { return Page(bytes: bytes, next: nil) }
            return Page(bytes: bytes, next: Position(createdAt: last.createdAt, memoryID: last.id))
        }

        /// The history of the memories `ids` as of the export's start, keyed by memory id: the
        /// versions written by then, the one current then shown as current.
        private func history(of ids: [String], connection: PostgresConnection) throws -> [String: [MemoryVersionRow]] {
            let later = "(v.superseded_at IS NULL OR v.superseded_at > $3::timestamptz)"
            let versionRows = try connection.query(
                """
                SELECT v.memory_id AS memory_id, v.version AS version, v.text AS text, v.metadata::text AS metadata,
                       gw_time(v.valid_from) AS valid_from,
                       CASE WHEN \(later) THEN NULL ELSE gw_time(v.superseded_at) END AS superseded_at,
                       \(later) AS is_current, v.request_id AS request_id, v.key_prefix AS key_prefix
                  FROM \(MemoryObject.historySQL(condition: "memory_id = ANY ($4::text[])"))
                 WHERE v.valid_from <= $3::timestamptz
                 ORDER BY v.memory_id, v.version DESC
                """,
                [.text(principal.orgID), .text(principal.env), .text(asOf), .textArray(ids)])
            var versions: [String: [MemoryVersionRow]] = [:]
            for row in versionRows {
                let version = MemoryVersionRow(row)
                versions[version.memoryID, default: []].append(version)
            }
            return versions
        }
    }
}
