import PostgresStore

/// Placeholder until billing lands.
enum Billing {
    struct Report {}
    static func report(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func build(pool: PostgresPool, period: String) throws -> Report { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func csv(_ report: Report) -> String { "" }
    static func json(_ report: Report) -> JSONValue { .null }
}
