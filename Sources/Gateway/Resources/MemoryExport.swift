import HTTPServer
import PostgresStore

/// `GET /v1/memories/export` (the export path): the memories matching the list filters as NDJSON
/// (`application/x-ndjson`), one memory object per line, newest first; `include_history=true`
/// adds `versions` (the history array, newest first, current version included).
///
/// A consistent snapshot in constant memory: one `REPEATABLE READ` transaction, a server-side
/// cursor fetched ``batchSize`` rows at a time, each batch written to the client before the next
/// is fetched (the stream blocks while the client is slow). Filters are validated before the
/// stream starts, so a 400 is an ordinary error response.
enum MemoryExport {
    /// Rows fetched from the cursor per round trip.
    static let batchSize = 500

    private static let cursorName = "memory_export"

    /// The handler: validates, opens the snapshot and the cursor, then streams; returns
    /// ``APIResponse/streamedResponse`` once the stream is finished.
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

        try context.pool.withConnection { connection in
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            var parameters: [PostgresValue] = []
            let conditions = filter.whereClause(principal: principal, parameters: &parameters)
            _ = try connection.query(
                """
                DECLARE \(cursorName) NO SCROLL CURSOR FOR
                SELECT \(MemoryObject.columns) FROM memories m WHERE \(conditions)
                 ORDER BY m.created_at DESC, m.memory_id DESC
                """,
                parameters)
            var rows = try connection.query("FETCH \(batchSize) FROM \(cursorName)")

            // From here on the response has started: errors end the stream, they cannot become a status.
            var headers = HTTPHeaders()
            headers.add("Content-Type", "application/x-ndjson")
            headers.add("Cache-Control", "no-store")
            for (name, value) in principal.rateLimit.headers { headers.add(name, value) }
            let stream = context.responder.startStream(status: 200, headers: headers, logFields: [
                ("org", principal.orgID), ("key_prefix", principal.keyPrefix),
            ])
            do {
                while !rows.isEmpty {
                    let versions =
                        includeHistory ? try history(of: rows, principal: principal, connection: connection) : [:]
                    var buffer: [UInt8] = []
                    for row in rows {
                        var memory = MemoryObject.json(row)
                        if includeHistory {
                            memory["versions"] = .array(versions[row.string(0) ?? ""] ?? [])
                        }
                        JSONWriter.write(.object(memory), into: &buffer)
                        buffer.append(UInt8(ascii: "\n"))
                    }
                    guard stream.write(buffer) else { break }  // the client went away
                    guard rows.count == batchSize else { break }
                    rows = try connection.query("FETCH \(batchSize) FROM \(cursorName)")
                }
                try connection.execute("COMMIT")
            } catch {
                // The status line is gone; the server has no way to abort the body, so the last
                // line says the export is incomplete.
                Log.error("export interrupted", ["request_id": context.request.requestID, "error": "\(error)"])
                let line: JSONValue = ["error": ["code": "internal_error", "message": "the export was interrupted"]]
                _ = stream.write(line.jsonBytes + [UInt8(ascii: "\n")])
            }
            stream.finish()
        }
        return APIResponse.streamedResponse
    }

    /// The history of the memories in `rows`, read in the export's snapshot, keyed by memory id.
    private static func history(of rows: PostgresRows, principal: Principal,
                                connection: PostgresConnection) throws -> [String: [JSONValue]] {
        let ids = rows.compactMap { $0.string(0) }
        let versionRows = try connection.query(
            """
            SELECT v.memory_id, \(MemoryObject.versionColumns)
              FROM \(MemoryObject.historySQL(condition: "memory_id = ANY ($3::text[])"))
             ORDER BY v.memory_id, v.version DESC
            """,
            [.text(principal.orgID), .text(principal.env), .textArray(ids)])
        var versions: [String: [JSONValue]] = [:]
        for row in versionRows {
            versions[row.string(0) ?? "", default: []].append(MemoryObject.versionJSON(row, offset: 1))
        }
        return versions
    }
}
