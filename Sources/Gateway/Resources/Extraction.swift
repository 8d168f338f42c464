/// Placeholder until this resource lands; every route answers 501.
enum Extraction {
    static func extract(_ context: RequestContext) throws -> APIResponse { throw APIError(status: 501, code: "not_implemented", message: "not implemented yet") }
}
