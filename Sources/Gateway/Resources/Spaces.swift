import Auth
import PostgresStore

/// `/v1/spaces`: named groups of memories, per tenant and environment.
/// `{"id", "name", "description", "memory_count", "created_at", "updated_at"}`.
///
/// A space a memory write names is created on first use, named after its id. Deleting a space
/// keeps its memories (without a space) unless `delete_memories=true`.
enum Spaces {
    /// Longest space name.
    static let maxNameLength = 200
    /// Longest description.
    static let maxDescriptionLength = 2_000

    /// `POST /v1/spaces` `{id?, name, description?}`: 201 and `Location: /v1/spaces/{id}`;
    /// `spc_…` when no id; 409 when the id is taken.
    static func create(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var reader = BodyReader(try context.jsonBody())
        let spaceID = reader.identifier("id", maxLength: MemoryInput.maxSpaceIDLength)
        let name = readText(&reader, "name", required: true, length: 1...maxNameLength)
        let description = readText(&reader, "description", required: false, length: 0...maxDescriptionLength)
        try reader.issues.check()
        guard let name else { throw APIError.invalidField("name", "is required") }
        let id = spaceID ?? Identifier.make(prefix: "spc")
        let rows = try context.pool.query(
            """
            WITH s AS (
                INSERT INTO spaces (org_id, env, space_id, name, description) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT DO NOTHING RETURNING *
            )
            SELECT \(SpaceRow.selectList) FROM s
            """,
            [.text(principal.orgID), .text(principal.env), .text(id), .text(name),
             description.map(PostgresValue.text) ?? .null])
        guard let row = rows.first else { throw APIError.conflict("a space with id '\(id)' already exists") }
        return APIResponse(status: 201, json: SpaceRow(row).json, headers: [("Location", "/v1/spaces/\(id)")])
    }

    /// `GET /v1/spaces`: `{spaces, page, per_page, has_more}`, newest first.
    static func list(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var issues = Issues()
        let perPage = Paging.perPage(context.query, &issues)
        let page = Paging.page(context.query, &issues)
        try issues.check()
        let rows = try context.pool.query(
            """
            SELECT \(SpaceRow.selectList) FROM spaces s WHERE s.org_id = $1 AND s.env = $2
             ORDER BY s.created_at DESC, s.space_id DESC LIMIT $3 OFFSET $4
            """,
            [.text(principal.orgID), .text(principal.env), .int(Int64(perPage + 1)),
             .int(Int64(page - 1) * Int64(perPage))])
        var data = JSONObject()
        data["spaces"] = .array(rows.prefix(perPage).map { SpaceRow($0).json })
        data["page"] = .int(page)
        data["per_page"] = .int(perPage)
        data["has_more"] = .bool(rows.count > perPage)
        return APIResponse(json: .object(data))
    }

    /// `GET /v1/spaces/{id}`.
    static func get(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let rows = try context.pool.query(
            "SELECT \(SpaceRow.selectList) FROM spaces s WHERE s.org_id = $1 AND s.env = $2 AND s.space_id = $3",
            [.text(principal.orgID), .text(principal.env), .text(context.parameter("id"))])
        guard let row = rows.first else { throw APIError.notFound("space") }
        return APIResponse(json: SpaceRow(row).json)
    }

    /// `PUT /v1/spaces/{id}` `{name?, description?}` (at least one; `description: null` clears it).
    static func update(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var reader = BodyReader(try context.jsonBody())
        let name = readText(&reader, "name", required: false, length: 1...maxNameLength)
        let description = readText(&reader, "description", required: false, length: 0...maxDescriptionLength)
        let clearsDescription = reader.isExplicitNull("description")
        if reader.isExplicitNull("name") {
            reader.issues.add("name", "must be a string")
        }
        if reader.issues.isEmpty, name == nil, description == nil, !clearsDescription {
            reader.issues.add("name", "name or description is required")
        }
        try reader.issues.check()
        let rows = try context.pool.query(
            """
            WITH s AS (
                UPDATE spaces SET name = coalesce($4, name),
                       description = CASE WHEN $6 THEN NULL ELSE coalesce($5, description) END,
                       updated_at = greatest(gw_now(), updated_at)
                 WHERE org_id = $1 AND env = $2 AND space_id = $3
                RETURNING *
            )
            SELECT \(SpaceRow.selectList) FROM s
            """,
            [.text(principal.orgID), .text(principal.env), .text(context.parameter("id")),
             name.map(PostgresValue.text) ?? .null, description.map(PostgresValue.text) ?? .null,
             .bool(clearsDescription)])
        guard let row = rows.first else { throw APIError.notFound("space") }
        return APIResponse(json: SpaceRow(row).json)
    }

    /// `DELETE /v1/spaces/{id}`: `{id, deleted: true, memories_deleted}`. Its memories stay, without
    /// a space, unless `delete_memories=true`: then they go with their history (and stored replays
    /// showing them are forgotten).
    static func delete(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let spaceID = context.parameter("id")
        var issues = Issues()
        var deleteMemories = false
        switch context.query["delete_memories"] {
        case nil, "false"?: deleteMemories = false
        case "true"?: deleteMemories = true
        case .some: issues.add("delete_memories", "must be true or false")
        }
        try issues.check()
        let memoriesDeleted = try context.pool.transaction { connection -> Int in
            let key: [PostgresValue] = [.text(principal.orgID), .text(principal.env), .text(spaceID)]
            let deleted = try connection.query(
                "DELETE FROM spaces WHERE org_id = $1 AND env = $2 AND space_id = $3 RETURNING space_id", key)
            guard !deleted.isEmpty else { throw APIError.notFound("space") }
            guard deleteMemories else {
                _ = try connection.query(
                    "UPDATE memories SET space_id = NULL WHERE org_id = $1 AND env = $2 AND space_id = $3", key)
                return 0
            }
            return try MemoryWrites.erase(
                connection, principal: principal,
                // Expired memories are already gone (the sweeper reclaims them): not counted again.
                conditions: "m.org_id = $1 AND m.env = $2 AND m.space_id = $3 AND \(MemoryObject.isLive())",
                parameters: key
            ).count
        }
        var data = JSONObject()
        data["id"] = .string(spaceID)
        data["deleted"] = .bool(true)
        data["memories_deleted"] = .int(memoriesDeleted)
        return APIResponse(json: .object(data))
    }

    /// A text field of `length` Unicode scalars (BodyReader refuses U+0000).
    private static func readText(_ reader: inout BodyReader, _ name: String, required: Bool,
                                 length: ClosedRange<Int>) -> String? {
        reader.string(name, required: required, length: length)
    }
}
