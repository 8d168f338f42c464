import Auth
import HTTPServer
import PostgresStore

/// The two hottest memory routes fused into the admission statement (see `FusedOperation`): a
/// plain `GET /v1/memories/{id}` and a plain `POST /v1/memories` cost one round trip in all.
/// Anything unusual (a query string, a space, a hard quota, an id already taken, an invalid body)
/// falls back to the ordinary handlers, which report it.
extension Memories {
    static let fusedGet = FusedOperation(
        prepare: { request, parameters in
            guard request.query.isEmpty, let id = parameters["id"] else { return nil }
            return ("""
                SELECT \(MemoryObject.columns)
                  FROM a JOIN memories m ON m.org_id = a.org_id AND m.env = a.environment AND m.memory_id = $4
                 WHERE \(FusedOperation.admitted("read"))
                """, [.text(id)])
        },
        finish: { context, row, offset in
            guard !row.isNull(offset) else { throw APIError.notFound("memory") }
            var response = APIResponse(json: .object(MemoryObject.json(row, offset: offset)))
            response.memoryIDs = [context.parameter("id")]
            return response
        })

    static let fusedCreate = FusedOperation(
        prepare: { request, _ in
            if let contentType = request.headers["Content-Type"], !RequestContext.isJSON(contentType) { return nil }
            guard !request.body.isEmpty, case .object(let object)? = try? JSONParser.parse(request.body) else { return nil }
            var reader = BodyReader(object)
            guard let input = MemoryInput.read(&reader), reader.issues.isEmpty, input.spaceID == nil else { return nil }
            return ("""
                INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix)
                SELECT a.org_id, a.environment, $4, $5, $6::jsonb, NULL, 'api', $7, a.key_prefix
                  FROM a
                 WHERE \(FusedOperation.admitted("write")) AND NOT (a.hard_quota AND a.environment = 'live')
                ON CONFLICT DO NOTHING
                RETURNING \(MemoryObject.columns)
                """,
                [.text(input.memoryID ?? Identifier.make(prefix: "mem")), .text(input.text),
                 .jsonb(input.metadataJSON ?? "{}"), .text(request.requestID)])
        },
        finish: { _, row, offset in
            // Nothing inserted (a hard quota to check, or the id is taken): the handler decides.
            guard !row.isNull(offset) else { return nil }
            return created(row, offset: offset)
        })

    /// The 201 of a created memory read with `MemoryObject.columns` from `offset`.
    static func created(_ row: PostgresRow, offset: Int = 0) -> APIResponse {
        let memory = MemoryObject.json(row, offset: offset)
        let memoryID = row.string(offset) ?? ""
        var response = APIResponse(status: 201, json: .object(memory), headers: [("Location", "/v1/memories/\(memoryID)")])
        response.memoryIDs = [memoryID]
        return response
    }
}
