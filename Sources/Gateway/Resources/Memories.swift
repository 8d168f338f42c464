/// Placeholder until this resource lands; every route answers 501.
enum Memories {
    static func create(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func list(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func erase(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func count(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func get(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func update(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func delete(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
    static func history(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
}
