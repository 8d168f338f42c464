import Auth
import PostgresStore

/// `/v1/memories` and `/v1/memories/{id}`: create, read (optionally as of a past instant), replace
/// (keeping the old version), history and delete. Listing, counting and erasure by filters are
/// in `Memories+List.swift`.
///
/// Every statement filters by the caller's tenant and environment: another tenant's memory, or a
/// memory of the other environment, is simply not found.
enum Memories {
    /// `POST /v1/memories`: 201 with the memory and `Location: /v1/memories/{id}`.
    static func create(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var reader = BodyReader(try context.jsonBody())
        let input = MemoryInput.read(&reader)
        try reader.issues.check()
        guard let input else { throw APIError.invalidRequest("the memory is not valid") }
        let memoryID = input.memoryID ?? Identifier.make(prefix: "mem")
        try MemoryWrites.reserveStorage(context, adding: input.storedBytes)

        let insert = """
            INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix,
                                       expires_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'api', $7, $8, \(MemoryInput.Expiry.sql(at: 9, seconds: 10)))
            ON CONFLICT DO NOTHING
            RETURNING \(MemoryObject.columns)
            """
        let parameters: [PostgresValue] = [
            .text(principal.orgID), .text(principal.env), .text(memoryID), .text(input.text),
            .jsonb(input.metadataJSON ?? "{}"), input.spaceID.map(PostgresValue.text) ?? .null,
            .text(context.request.requestID), .text(principal.keyPrefix),
        ] + (input.expiry ?? .never).parameters
        let taken = APIError.conflict("a memory with id '\(memoryID)' already exists")
        let webhooks = context.services.webhooks
        let writes = context.services.writes
        let isSimple = try input.spaceID == nil && !(principal.hardQuota && principal.isLive)
            && !webhooks.isSubscribed(context.pool, orgID: principal.orgID, env: principal.env,
                                      type: WebhookEvent.memoryCreated)
        if !writes.isEnabled, isSimple {
            // Nothing else to do: one statement, one round trip, its own commit. A taken custom id
            // may belong to an expired memory not swept yet: then the transaction below frees it.
            if let row = try context.pool.query(insert, parameters).first { return created(MemoryRow(row)) }
            if input.memoryID == nil { throw taken }
        }
        // Grouped with concurrent writes: this create's statements run in its own savepoint of a
        // shared transaction, and it is answered once that commits.
        let work = { (connection: PostgresConnection) throws -> PostgresRow in
            try MemoryWrites.reserveQuota(connection, principal: principal, adding: 1)
            if let spaceID = input.spaceID {
                try MemoryWrites.ensureSpace(connection, principal: principal, spaceID: spaceID)
            }
            var rows = try connection.query(insert, parameters)
            if rows.isEmpty, input.memoryID != nil {
                // The id may be held by an expired memory not swept yet: free it and try again.
                let expired = try MemoryExpiry.deleteExpired(connection, principal: principal, memoryIDs: [memoryID])
                if !expired.isEmpty {
                    try MemoryExpiry.recordDeleted(expired, connection, webhooks: webhooks)
                    rows = try connection.query(insert, parameters)
                }
            }
            // A taken id writes nothing: roll back the space made on first use too.
            guard let row = rows.first else { throw taken }
            try webhooks.record(connection, orgID: principal.orgID, env: principal.env, type: WebhookEvent.memoryCreated,
                                data: .object(MemoryRow(row).json))
            return row
        }
        if writes.isEnabled, isSimple, !context.pool.isBound {
            // Nothing but the row: one row of the group's multi-row insert.
            let insert = GroupedInsert(
                orgID: principal.orgID, env: principal.env, memoryID: memoryID, text: input.text,
                metadataJSON: input.metadataJSON, requestID: context.request.requestID, keyPrefix: principal.keyPrefix,
                expiry: input.expiry ?? .never)
            return created(MemoryRow(try writes.create(insert, work)))
        }
        return created(MemoryRow(try context.pool.writeTransaction(writes, work)))
    }

    /// `GET /v1/memories/{id}`, with `as_of`: the version with `valid_from ≤ as_of < superseded_at`
    /// (the current row is valid from its `updated_at`); 404 when the memory did not exist then.
    static func get(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let memoryID = context.parameter("id")
        var issues = Issues()
        let asOf = MemoryFilter.timestamp(context.query, "as_of", &issues)
        try issues.check()
        let parameters: [PostgresValue] = [.text(principal.orgID), .text(principal.env), .text(memoryID)]
        let rows: PostgresRows
        if let asOf {
            // A superseded version shows the time it was written as its `updated_at`.
            rows = try context.pool.query(
                """
                SELECT \(MemoryObject.columns) FROM (
                    SELECT memory_id, text, metadata, space_id, source, version, created_at, updated_at, expires_at
                      FROM memories m
                     WHERE org_id = $1 AND env = $2 AND memory_id = $3 AND updated_at <= $4::timestamptz
                       AND \(MemoryObject.isLive())
                    UNION ALL
                    SELECT v.memory_id, v.text, v.metadata, v.space_id, v.source, v.version, v.created_at, v.valid_from,
                           c.expires_at
                      FROM memory_versions v
                      JOIN memories c ON c.org_id = v.org_id AND c.env = v.env AND c.memory_id = v.memory_id
                     WHERE v.org_id = $1 AND v.env = $2 AND v.memory_id = $3
                       AND v.valid_from <= $4::timestamptz AND $4::timestamptz < v.superseded_at
                       AND \(MemoryObject.isLive("c"))
                ) m
                ORDER BY m.version DESC LIMIT 1
                """,
                parameters + [.text(asOf)])
        } else {
            rows = try context.pool.query(
                """
                SELECT \(MemoryObject.columns) FROM memories m
                 WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = $3 AND \(MemoryObject.isLive())
                """,
                parameters)
        }
        guard let row = rows.first else {
            if asOf != nil { throw APIError(status: 404, code: "not_found", message: "memory not found at as_of") }
            throw APIError.notFound("memory")
        }
        var response = APIResponse(data: MemoryRow(row).jsonBytes)
        response.memoryIDs = [memoryID]
        return response
    }

    /// `PUT /v1/memories/{id}`: replaces `text` and/or `metadata`, bumps `version` and keeps the
    /// old version in `memory_versions`. The row is locked first, so concurrent updates serialize
    /// and versions stay consecutive.
    static func update(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let memoryID = context.parameter("id")
        var reader = BodyReader(try context.jsonBody())
        let text = MemoryInput.readText(&reader, required: false)
        let metadata = MemoryInput.readMetadata(&reader)
        let expiry = MemoryInput.readExpiry(&reader, allowsClearing: true)
        if reader.issues.isEmpty, !reader.has("text"), !reader.has("metadata"), expiry == nil {
            reader.issues.add("text", "text, metadata, expires_at or ttl_seconds is required")
        }
        try reader.issues.check()
        // The new version's text when it changes (an unchanged text is not known here without a read).
        try MemoryWrites.reserveStorage(context, adding: (text?.utf8.count ?? 0) + (metadata?.utf8.count ?? 2))

        let memory = try context.pool.writeTransaction(context.services.writes) { connection -> MemoryRow in
            let key: [PostgresValue] = [.text(principal.orgID), .text(principal.env), .text(memoryID)]
            let locked = try connection.query(
                "SELECT 1 FROM memories m WHERE org_id = $1 AND env = $2 AND memory_id = $3 AND \(MemoryObject.isLive())"
                    + " FOR UPDATE", key)
            guard !locked.isEmpty else { throw APIError.notFound("memory") }
            let rows = try connection.query(
                """
                WITH clock AS (
                    SELECT greatest(gw_now(), updated_at) AS now FROM memories
                     WHERE org_id = $1 AND env = $2 AND memory_id = $3
                ), kept AS (
                    INSERT INTO memory_versions (org_id, env, memory_id, version, text, metadata, space_id, source,
                                                 created_at, valid_from, superseded_at, request_id, key_prefix)
                    SELECT o.org_id, o.env, o.memory_id, o.version, o.text, o.metadata, o.space_id, o.source,
                           o.created_at, o.updated_at, clock.now, o.request_id, o.key_prefix
                      FROM memories o, clock
                     WHERE o.org_id = $1 AND o.env = $2 AND o.memory_id = $3
                )
                UPDATE memories AS m
                   SET text = coalesce($4, m.text), metadata = coalesce($5::jsonb, m.metadata),
                       version = m.version + 1, updated_at = clock.now, request_id = $6, key_prefix = $7,
                       expires_at = CASE WHEN $10::bool THEN NULL
                                         ELSE coalesce(\(MemoryInput.Expiry.sql(at: 8, seconds: 9)), m.expires_at) END
                  FROM clock
                 WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = $3
                RETURNING \(MemoryObject.columns)
                """,
                key + [text.map(PostgresValue.text) ?? .null, metadata.map(PostgresValue.jsonb) ?? .null,
                       .text(context.request.requestID), .text(principal.keyPrefix)]
                    + (expiry ?? .never).parameters + [.bool(expiry == .never)])
            guard let row = rows.first else { throw APIError.notFound("memory") }
            let memory = MemoryRow(row)
            try context.services.webhooks.record(connection, orgID: principal.orgID, env: principal.env,
                                                 type: WebhookEvent.memoryUpdated, data: .object(memory.json))
            return memory
        }
        var response = APIResponse(data: memory.jsonBytes)
        response.memoryIDs = [memoryID]
        return response
    }

    /// What a history cursor encodes: the memory and the last version shown.
    private static let historyCursorKind = "history.v1"

    /// `GET /v1/memories/{id}/history`: `{versions: [...], has_more, next_cursor}`, newest first,
    /// `per_page` (1–100, default 100) versions and at most 4 MiB of JSON a page, `cursor` for the
    /// next; the current version has `superseded_at: null` and `is_current: true`. 404 when the
    /// memory is gone (on any page).
    static func history(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let memoryID = context.parameter("id")
        var issues = Issues()
        let perPage = Paging.perPage(context.query, &issues, defaultValue: 100)
        var before = Int64(Int32.max)
        if let cursor = context.query["cursor"] {
            if let fields = Cursor.decode(cursor, orgID: principal.orgID, env: principal.env), fields.count == 3,
               fields[0] == historyCursorKind, fields[1] == memoryID,
               let version = Int64(fields[2]), (1...Int64(Int32.max)).contains(version)
            {
                before = version
            } else {
                issues.add("cursor", "is not a valid cursor for this memory's history")
            }
        }
        try issues.check()
        let inner = """
            SELECT \(MemoryVersionRow.selectList),
                   (octet_length(v.text) + octet_length(v.metadata::text))::bigint AS gw_size
              FROM \(MemoryObject.historySQL(condition: "memory_id = $3"))
             WHERE v.version < $4
             ORDER BY v.version DESC LIMIT $5
            """
        // One statement, one snapshot: the memory's existence and the page agree.
        let rows = try context.pool.query(
            """
            WITH page AS (\(MemoryPage.sizeCut(inner, order: "version DESC", cutParameter: 6)))
            SELECT e.present, page.*
              FROM (SELECT EXISTS (SELECT 1 FROM memories m WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = $3
                                      AND \(MemoryObject.isLive())) AS present) e
              LEFT JOIN page ON true
             ORDER BY page.version DESC
            """,
            [.text(principal.orgID), .text(principal.env), .text(memoryID), .int(before), .int(Int64(perPage + 1)),
             .int(Int64(MemoryPage.maxResponseBytes))])
        guard let first = rows.first, first.bool("present") == true else { throw APIError.notFound("memory") }
        let versionRows = rows.filter { !$0.isNull("version") }.map { (row: MemoryVersionRow($0), page: PageRow($0)) }
        var data = Array(#"{"versions":["#.utf8)
        let candidates = versionRows.prefix(perPage)
        let shownCount = MemoryPage.appendItems(
            candidates, to: &data, limit: MemoryPage.maxResponseBytes - MemoryPage.envelopeAllowance
        ) { $0.row.write(into: &$1) }
        let fetched = versionRows.first?.page.fetched ?? 0
        let hasMore = fetched > shownCount
        var nextCursor: JSONValue = .null
        if hasMore, let last = candidates.prefix(shownCount).last {
            nextCursor = .string(Cursor.encode([historyCursorKind, memoryID, String(last.row.version)],
                                               orgID: principal.orgID, env: principal.env))
        }
        data.append(contentsOf: #"],"has_more":"#.utf8)
        JSONWriter.write(.bool(hasMore), into: &data)
        data.append(contentsOf: #","next_cursor":"#.utf8)
        JSONWriter.write(nextCursor, into: &data)
        data.append(UInt8(ascii: "}"))
        var response = APIResponse(data: data)
        response.memoryIDs = [memoryID]
        return response
    }

    /// `DELETE /v1/memories/{id}`: `{id, deleted: true}`; the history goes too, and stored
    /// idempotent responses showing the memory are forgotten.
    static func delete(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let memoryID = context.parameter("id")
        try context.pool.transaction { connection in
            let deleted = try MemoryWrites.erase(
                connection, principal: principal,
                conditions: "m.org_id = $1 AND m.env = $2 AND m.memory_id = $3 AND \(MemoryObject.isLive())",
                parameters: [.text(principal.orgID), .text(principal.env), .text(memoryID)])
            guard !deleted.isEmpty else { throw APIError.notFound("memory") }
            try context.services.webhooks.record(
                connection, orgID: principal.orgID, env: principal.env, type: WebhookEvent.memoryDeleted,
                data: .object(JSONObject([("id", .string(memoryID)), ("reason", "api")])))
        }
        var data = JSONObject()
        data["id"] = .string(memoryID)
        data["deleted"] = .bool(true)
        return APIResponse(json: .object(data))
    }

    /// The 201 of a created memory, with `Location: /v1/memories/{id}`.
    static func created(_ memory: MemoryRow) -> APIResponse {
        var response = APIResponse(status: 201, data: memory.jsonBytes,
                                   headers: [("Location", "/v1/memories/\(memory.id)")])
        response.memoryIDs = [memory.id]
        return response
    }
}
