import PostgresStore

/// `POST /v1/query` (read scope): full-text search over the tenant's memories in PostgreSQL.
///
/// Query terms are the distinct lexemes of `to_tsvector(language, context)`. A memory holding every
/// term scores at least 0.5, one holding some scores below 0.5 in proportion to the share held,
/// one holding none is never returned. Scoring: `docs/scoring.md` and `QuerySQL`.
enum Query {
    static func search(_ context: RequestContext) throws -> APIResponse {
        let request = try QueryRequest(try context.jsonBody())
        let principal = context.tenant
        // english needs no lookup: the statement names the built-in configuration itself.
        let configuration = request.language == QueryRequest.defaultLanguage
            ? 0 : try configurationOID(request.language, pool: context.pool)
        let (sql, parameters) = statement(request, orgID: principal.orgID, env: principal.env, configuration: configuration)
        // Bounded per tenant in concurrency (and, like every statement, by DB_STATEMENT_TIMEOUT_MS),
        // so one tenant's heavy queries (long contexts, hybrid search over many memories) cannot
        // hold every connection. One statement, one round trip.
        let rows = try context.withSlot(.query) {
            // Unprepared: a custom plan folds the query's tsquery and uses the GIN index well; a
            // generic plan cannot (measured 7.9 ms against 0.14 ms for the candidate scan).
            try context.pool.query(sql.text, parameters, prepared: false)
        }
        guard let row = rows.first.map(QueryResultRow.init), let data = row.body else {
            throw APIError.internalError
        }
        // PostgreSQL's json text has spaces (`"id" : …`): answer compact JSON like every route.
        let compact: [UInt8]
        do {
            compact = try JSONParser.parse(data).jsonBytes
        } catch {
            throw APIError.internalError
        }
        var response = APIResponse(data: compact)
        response.memoryIDs = row.memoryIDs
        return response
    }

    /// The statement answering `request` for the tenant `orgID` in `env`, and its parameters
    /// (numbered as `QuerySQL` documents). `configuration` is the text search configuration's
    /// oid, unused (0) for `english`.
    static func statement(_ request: QueryRequest, orgID: String, env: String,
                          configuration: Int64) -> (sql: QuerySQL, parameters: [PostgresValue]) {
        var parameters: [PostgresValue] = [
            .text(orgID), .text(env), .text(request.context), .int(configuration),
            request.spaceID.map { .text($0) } ?? .text(""), .text(""),
            request.asOf.map { .text($0) } ?? .text(""),
            .double(request.temporalBoost), .double(request.relevanceThreshold), .int(Int64(request.maxMemories)),
        ]
        let memoryFilter = request.filters?.sql(alias: "m", parameters: &parameters)
        let versionFilter = request.asOf == nil ? nil : request.filters?.sql(alias: "v", parameters: &parameters)
        let sql = QuerySQL(
            usesStoredVectors: request.language == QueryRequest.defaultLanguage,
            hybridSearch: request.hybridSearch, asOf: request.asOf != nil, space: request.spaceID != nil,
            memoryFilter: memoryFilter, versionFilter: versionFilter, includeMetadata: request.includeMetadata,
            countBelowThreshold: request.countBelowThreshold,
            onlyFullMatchesPass: request.relevanceThreshold >= 0.5)
        return (sql, parameters)
    }

    /// The oid of the text search configuration `name`, which must exist and be visible on the
    /// search path. `english` (the default, and the stored vectors' configuration) is the
    /// built-in `pg_catalog.english`.
    /// - Throws: 400 `invalid_request` (field `language`) for an unknown configuration.
    static func configurationOID(_ name: String, pool: Database) throws -> Int64 {
        let rows = try pool.query(
            "SELECT c.oid::bigint AS oid FROM pg_ts_config c WHERE c.cfgname = $1 AND pg_ts_config_is_visible(c.oid)",
            [.text(name)])
        guard let oid = rows.first?.int("oid") else {
            throw APIError.invalidField("language", "must be a PostgreSQL text search configuration such as english or simple")
        }
        return oid
    }
}
