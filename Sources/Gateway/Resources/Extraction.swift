import Auth
import PostgresStore

/// `POST /v1/query/extract` (write scope): turns content into memories, one per new statement.
///
/// The content is split by `StatementSplitter`; each statement whose key (`gw_statement_key`:
/// lower case, no punctuation, white space collapsed) is not already stored in the target space
/// (or among memories without a space, when no `space_id` is given) becomes a memory with
/// `source: "extraction"`. Repeats within the request keep their first occurrence and count in
/// `duplicates_skipped`. Statements with an empty key (punctuation only) are ignored. Everything
/// happens in one transaction; a hard memory quota refuses the request whole.
enum Extraction {
    static let contentLength = 1...200_000
    static let maxStatementLength = 50_000
    static let contentTypes = ["text", "conversation"]

    static func extract(_ context: RequestContext) throws -> APIResponse {
        let object = try context.jsonBody()
        var body = BodyReader(object)
        let content = body.string("content", required: true, length: contentLength)
        let contentType = body.string("content_type", length: 1...64) ?? "text"
        if !contentTypes.contains(contentType) {
            body.issues.add("content_type", "must be text or conversation")
        }
        let spaceID = body.identifier("space_id", maxLength: 64)
        let metadata = body.metadata()
        try body.issues.check()

        let statements = StatementSplitter.statements(in: content ?? "", conversation: contentType == "conversation")
        if let long = statements.first(where: { $0.unicodeScalars.count > maxStatementLength }) {
            throw APIError.invalidField(
                "content", "a statement is over \(maxStatementLength) characters (\(long.unicodeScalars.count))")
        }

        let principal = context.tenant
        let metadataJSON = metadata.map { String(decoding: JSONValue.object($0).jsonBytes, as: UTF8.self) } ?? "{}"
        try MemoryWrites.prepareStorage(context)
        let (created, considered) = try context.withSlot(.query) {
            try context.pool.transaction { connection in
                let (fresh, considered) = try freshStatements(statements, connection: connection, principal: principal,
                                                              spaceID: spaceID)
                guard !fresh.isEmpty else { return ([(id: String, text: String)](), considered) }
                try MemoryWrites.reserveQuota(connection, principal: principal, adding: fresh.count)
                try MemoryWrites.reserveStorage(
                    context, adding: fresh.reduce(0) { $0 + $1.utf8.count + metadataJSON.utf8.count })
                if let spaceID { try MemoryWrites.ensureSpace(connection, principal: principal, spaceID: spaceID) }
                let rows = fresh.map { (id: Identifier.make(prefix: "mem"), text: $0) }
                let inserted = try connection.query(
                    """
                    INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix)
                    SELECT $1, $2, u.id, u.text, $5::jsonb, $6::text, 'extraction', $7::text, $8::text
                      FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(id, text, position)
                     ORDER BY u.position
                    RETURNING \(MemoryObject.columns)
                    """,
                    [.text(principal.orgID), .text(principal.env), .textArray(rows.map(\.id)),
                     .textArray(rows.map(\.text)), .jsonb(metadataJSON), spaceID.map { .text($0) } ?? .null,
                     .text(context.request.requestID), .text(principal.keyPrefix)])
                try context.services.webhooks.record(connection, orgID: principal.orgID, env: principal.env,
                                                     type: WebhookEvent.memoryCreated,
                                                     data: inserted.map { .object(MemoryRow($0).json) })
                return (rows, considered)
            }
        }
        let data = JSONValue.object(JSONObject([
            ("memories_created", .int(created.count)),
            ("memory_ids", .array(created.map { .string($0.id) })),
            ("extracted_memories", .array(created.map {
                .object(JSONObject([("id", .string($0.id)), ("text", .string($0.text))]))
            })),
            ("duplicates_skipped", .int(considered - created.count)),
        ]))
        var response = APIResponse(status: 201, json: data)
        response.memoryIDs = created.map(\.id)
        return response
    }

    /// The statements to store, in order: first occurrences (by key) not already stored in the
    /// space, and how many statements had a non-empty key. Takes a transaction-scoped lock on the
    /// space so concurrent extractions into it cannot both store the same statement.
    static func freshStatements(
        _ statements: [String], connection: PostgresConnection, principal: Principal, spaceID: String?
    ) throws -> (fresh: [String], considered: Int) {
        guard !statements.isEmpty else { return ([], 0) }
        _ = try connection.query(
            "SELECT pg_advisory_xact_lock(hashtextextended('extract:' || $1 || ':' || $2 || ':' || $3, 0))",
            [.text(principal.orgID), .text(principal.env), .text(spaceID.map { "s:" + $0 } ?? "none")])
        // Two fixed variants: `space_id = $4` and `space_id IS NULL` both use memories_statement.
        let spaceCondition = spaceID == nil ? "m.space_id IS NULL" : "m.space_id = $4::text"
        let rows = try connection.query(
            """
            WITH input AS (
                SELECT s.text, s.ord, gw_statement_key(s.text) AS key
                  FROM unnest($3::text[]) WITH ORDINALITY AS s(text, ord)
            ),
            firsts AS (
                SELECT DISTINCT ON (i.key) i.ord, i.key FROM input i WHERE i.key <> '' ORDER BY i.key, i.ord
            ),
            fresh AS (
                SELECT f.ord FROM firsts f
                 WHERE NOT EXISTS (
                       SELECT 1 FROM memories m
                        WHERE m.org_id = $1 AND m.env = $2 AND \(spaceCondition) AND \(MemoryObject.isLive())
                          AND md5(gw_statement_key(m.text)) = md5(f.key) AND gw_statement_key(m.text) = f.key)
            )
            SELECT (SELECT coalesce(array_agg(ord ORDER BY ord), '{}'::bigint[]) FROM fresh) AS ordinals,
                   (SELECT count(*) FROM input WHERE key <> '') AS considered
            """,
            [.text(principal.orgID), .text(principal.env), .textArray(statements), .text(spaceID ?? "")])
        guard let row = rows.first else { return ([], 0) }
        // Ordinals come from `unnest ... WITH ORDINALITY` over `statements`, so 1...count.
        let ordinals = (row.stringArray("ordinals") ?? []).compactMap { Int($0) }
            .filter { statements.indices.contains($0 - 1) }
        return (ordinals.map { statements[$0 - 1] }, Int(clamping: row.int("considered") ?? 0))
    }
}
