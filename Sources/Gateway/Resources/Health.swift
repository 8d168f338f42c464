import PostgresStore

/// `/healthz`, `/readyz`, `/metrics`.
enum Health {
    /// The process is up.
    static func live(_ context: RequestContext) throws -> APIResponse {
        APIResponse(data: Array(#"{"status":"ok"}"#.utf8))
    }

    /// 200 only while PostgreSQL answers and migrations are current.
    static func ready(_ context: RequestContext) throws -> APIResponse {
        let isCurrent: Bool
        do {
            isCurrent = try Migrator.isCurrent(pool: context.services.pool, migrations: Migrations.all)
        } catch {
            throw APIError(status: 503, code: "service_unavailable", message: "the database does not answer", retryAfter: 1)
        }
        guard isCurrent else {
            throw APIError(status: 503, code: "service_unavailable", message: "migrations are pending", retryAfter: 1)
        }
        return APIResponse(data: Array(#"{"status":"ready","database":"ok","migrations":"current"}"#.utf8))
    }

    static func metrics(_ context: RequestContext) throws -> APIResponse {
        let text = context.services.metrics.render(
            pool: context.services.pool.statistics,
            admissionQueries: context.services.admission.databaseDecisions.load(ordering: .relaxed))
        return APIResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", bytes: Array(text.utf8))
    }
}
