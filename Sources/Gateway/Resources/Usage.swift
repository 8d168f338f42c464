/// Placeholder until this resource lands; every route answers 501.
enum Usage {
    static func summary(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func history(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func projection(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
}
