import PostgresStore

extension Memories {
    /// What a memory list cursor encodes: the position after the last memory shown.
    private static let cursorKind = "memories.v1"

    /// `GET /v1/memories`: newest first by `(created_at DESC, memory_id DESC)`, by `page` or by
    /// `cursor` (keyset paging: stable under concurrent inserts, each memory once; `page` is then
    /// null). `data: {memories, page, per_page, has_more, next_cursor}`. A page holds at most
    /// `per_page` memories and 4 MiB of JSON: one cut short by the size has `has_more` and a
    /// `next_cursor` that continues after its last memory (with `page` too).
    static func list(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var issues = Issues()
        let filter = MemoryFilter(context.query, issues: &issues)
        let perPage = Paging.perPage(context.query, &issues)
        var page: Int?
        var after: (createdAt: String, memoryID: String)?
        if let cursor = context.query["cursor"] {
            if context.query["page"] != nil {
                issues.add("page", "cannot be combined with cursor")
            }
            if let fields = Cursor.decode(cursor, orgID: principal.orgID, env: principal.env), fields.count == 3,
               fields[0] == cursorKind, UTCDate.parseTimestamp(fields[1]) != nil
            {
                after = (fields[1], fields[2])
            } else {
                issues.add("cursor", "is not a valid cursor")
            }
        } else {
            page = Paging.page(context.query, &issues)
        }
        try issues.check()

        var parameters: [PostgresValue] = []
        var conditions = filter.whereClause(principal: principal, parameters: &parameters)
        if let after {
            parameters.append(.text(after.createdAt))
            parameters.append(.text(after.memoryID))
            let (createdAt, memoryID) = (parameters.count - 1, parameters.count)
            conditions += " AND (m.created_at, m.memory_id) < ($\(createdAt)::timestamptz, $\(memoryID))"
        }
        parameters.append(.int(Int64(perPage + 1)))
        var inner = """
            SELECT \(MemoryPage.memoryColumns()) FROM memories m WHERE \(conditions)
            ORDER BY m.created_at DESC, m.memory_id DESC LIMIT $\(parameters.count)
            """
        if let page {
            parameters.append(.int(Int64(page - 1) * Int64(perPage)))
            inner += " OFFSET $\(parameters.count)"
        }
        parameters.append(.int(Int64(MemoryPage.maxResponseBytes)))
        let sql = MemoryPage.sizeCut(inner, order: "sort_created DESC, memory_id DESC", cutParameter: parameters.count)
        let rows = try context.pool.query(sql, parameters)

        // Written straight to bytes, item by item, stopping at the page's byte budget: the page
        // is held once as JSON (then once in the envelope), never as a tree of values.
        var data = Array(#"{"memories":["#.utf8)
        let limit = MemoryPage.maxResponseBytes - MemoryPage.envelopeAllowance
        let candidates = rows.prefix(perPage).map { MemoryRow($0) }
        let shownCount = MemoryPage.appendItems(candidates, to: &data, limit: limit) { $0.write(into: &$1) }
        let shown = candidates.prefix(shownCount)
        let fetched = PageRow.fetched(rows)
        let hasMore = fetched > shownCount
        var nextCursor: JSONValue = .null
        if hasMore, let last = shown.last {
            let fields = [cursorKind, last.createdAt, last.id]
            nextCursor = .string(Cursor.encode(fields, orgID: principal.orgID, env: principal.env))
        }
        data.append(contentsOf: #"],"page":"#.utf8)
        JSONWriter.write(page.map { .int($0) } ?? .null, into: &data)
        data.append(contentsOf: #","per_page":"#.utf8)
        JSONWriter.write(.int(perPage), into: &data)
        data.append(contentsOf: #","has_more":"#.utf8)
        JSONWriter.write(.bool(hasMore), into: &data)
        data.append(contentsOf: #","next_cursor":"#.utf8)
        JSONWriter.write(nextCursor, into: &data)
        data.append(UInt8(ascii: "}"))
        var response = APIResponse(data: data)
        response.memoryIDs = shown.map(\.id)
        return response
    }

    /// `GET /v1/memories/count`: `{count}` of the memories matching the list filters.
    static func count(_ context: RequestContext) throws -> APIResponse {
        var issues = Issues()
        let filter = MemoryFilter(context.query, issues: &issues)
        try issues.check()
        var parameters: [PostgresValue] = []
        let conditions = filter.whereClause(principal: context.tenant, parameters: &parameters)
        let rows = try context.pool.query("SELECT count(*) AS count FROM memories m WHERE \(conditions)", parameters)
        var data = JSONObject()
        data["count"] = .int(rows.first?.int("count") ?? 0)
        return APIResponse(json: .object(data))
    }

    /// `DELETE /v1/memories?confirm=true` (erasure): deletes every memory matching the filters
    /// (none = all) with its history, in one transaction; forgets stored replays that showed them
    /// and records a `memories.erased` audit event. `{deleted: N}`.
    static func erase(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var issues = Issues()
        if context.query["confirm"] != "true" {
            issues.add("confirm", "must be true to delete memories by filter")
        }
        let filter = MemoryFilter(context.query, issues: &issues)
        try issues.check()

        let deleted = try context.pool.transaction { connection -> Int in
            var parameters: [PostgresValue] = []
            let conditions = filter.whereClause(principal: principal, parameters: &parameters)
            let ids = try MemoryWrites.erase(connection, principal: principal, conditions: conditions,
                                             parameters: parameters)
            try AuditLog.record(
                connection, orgID: principal.orgID, action: "memories.erased", actorKeyPrefix: principal.keyPrefix,
                targetType: "memories", targetID: filter.spaceID, details: ["deleted": .int(ids.count)],
                requestID: context.request.requestID)
            if !ids.isEmpty {
                var filters = JSONObject()
                for (name, value) in context.query.pairs where name != "confirm" { filters[name] = .string(value) }
                try context.services.webhooks.record(
                    connection, orgID: principal.orgID, env: principal.env, type: WebhookEvent.memoriesErased,
                    data: .object(JSONObject([("deleted", .int(ids.count)), ("filters", .object(filters))])))
            }
            return ids.count
        }
        var data = JSONObject()
        data["deleted"] = .int(deleted)
        return APIResponse(json: .object(data))
    }
}
