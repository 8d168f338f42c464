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

        let insert = """
            INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'api', $7, $8)
            ON CONFLICT DO NOTHING
            RETURNING \(MemoryObject.columns)
            """
        let parameters: [PostgresValue] = [
            .text(principal.orgID), .text(principal.env), .text(memoryID), .text(input.text),
            .jsonb(input.metadataJSON ?? "{}"), input.spaceID.map(PostgresValue.text) ?? .null,
            .text(context.request.requestID), .text(principal.keyPrefix),
        ]
        let rows: PostgresRows
        let webhooks = context.services.webhooks
        let isSubscribed = try webhooks.isSubscribed(context.pool, orgID: principal.orgID, env: principal.env,
                                                     type: WebhookEvent.memoryCreated)
        if input.spaceID == nil, !(principal.hardQuota && principal.isLive), !isSubscribed {
            // Nothing else to do: one statement, one round trip.
            rows = try context.pool.query(insert, parameters)
        } else {
            rows = try context.pool.transaction { connection in
                try MemoryWrites.reserveQuota(connection, principal: principal, adding: 1)
                if let spaceID = input.spaceID {
                    try MemoryWrites.ensureSpace(connection, principal: principal, spaceID: spaceID)
                }
                let rows = try connection.query(insert, parameters)
                // A taken id writes nothing: roll back the space made on first use too.
                guard let row = rows.first else { throw APIError.conflict("a memory with id '\(memoryID)' already exists") }
                try webhooks.record(connection, orgID: principal.orgID, env: principal.env, type: WebhookEvent.memoryCreated,
                                    data: .object(MemoryObject.json(row)))
                return rows
            }
        }
        guard let row = rows.first else {
            throw APIError.conflict("a memory with id '\(memoryID)' already exists")
        }
        return created(row)
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
                    SELECT memory_id, text, metadata, space_id, source, version, created_at, updated_at
                      FROM memories
                     WHERE org_id = $1 AND env = $2 AND memory_id = $3 AND updated_at <= $4::timestamptz
                    UNION ALL
                    SELECT memory_id, text, metadata, space_id, source, version, created_at, valid_from
                      FROM memory_versions
                     WHERE org_id = $1 AND env = $2 AND memory_id = $3
                       AND valid_from <= $4::timestamptz AND $4::timestamptz < superseded_at
                ) m
                ORDER BY m.version DESC LIMIT 1
                """,
                parameters + [.text(asOf)])
        } else {
            rows = try context.pool.query(
                """
                SELECT \(MemoryObject.columns) FROM memories m
                 WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = $3
                """,
                parameters)
        }
        guard let row = rows.first else {
            if asOf != nil { throw APIError(status: 404, code: "not_found", message: "memory not found at as_of") }
            throw APIError.notFound("memory")
        }
        var response = APIResponse(json: .object(MemoryObject.json(row)))
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
        if reader.issues.isEmpty, !reader.has("text"), !reader.has("metadata") {
            reader.issues.add("text", "text or metadata is required")
        }
        try reader.issues.check()

        let memory = try context.pool.transaction { connection -> JSONObject in
            let key: [PostgresValue] = [.text(principal.orgID), .text(principal.env), .text(memoryID)]
            let locked = try connection.query(
                "SELECT 1 FROM memories WHERE org_id = $1 AND env = $2 AND memory_id = $3 FOR UPDATE", key)
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
                       version = m.version + 1, updated_at = clock.now, request_id = $6, key_prefix = $7
                  FROM clock
                 WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = $3
                RETURNING \(MemoryObject.columns)
                """,
                key + [text.map(PostgresValue.text) ?? .null, metadata.map(PostgresValue.jsonb) ?? .null,
                       .text(context.request.requestID), .text(principal.keyPrefix)])
            guard let row = rows.first else { throw APIError.notFound("memory") }
            let memory = MemoryObject.json(row)
            try context.services.webhooks.record(connection, orgID: principal.orgID, env: principal.env,
                                                 type: WebhookEvent.memoryUpdated, data: .object(memory))
            return memory
        }
        var response = APIResponse(json: .object(memory))
        response.memoryIDs = [memoryID]
        return response
    }

    /// `GET /v1/memories/{id}/history`: `{versions: [...]}`, newest first; the current version has
    /// `superseded_at: null` and `is_current: true`.
    static func history(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let memoryID = context.parameter("id")
        let rows = try context.pool.query(
            """
            SELECT \(MemoryObject.versionColumns) FROM \(MemoryObject.historySQL(condition: "memory_id = $3"))
             ORDER BY v.version DESC
            """,
            [.text(principal.orgID), .text(principal.env), .text(memoryID)])
        // One statement, one snapshot: the current row is there unless the memory is gone.
        guard let first = rows.first, first.bool(5) == true else { throw APIError.notFound("memory") }
        var data = JSONObject()
        data["versions"] = .array(rows.map { MemoryObject.versionJSON($0) })
        var response = APIResponse(json: .object(data))
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
                connection, principal: principal, conditions: "m.org_id = $1 AND m.env = $2 AND m.memory_id = $3",
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
}
