import HTTPServer
import PostgresStore

/// One request as a handler sees it, after routing, authentication and admission. Not Sendable:
/// its `pool` may be bound to a connection of the worker thread running the request.
struct RequestContext {
    let request: HTTPRequest
    let parameters: [String: String]
    let query: QueryParameters
    let routeTemplate: String
    let services: Services
    let responder: HTTPResponder
    /// Set on tenant routes; nil on operator and service routes.
    let principal: Principal?

    /// Where the handler's statements go (see `Database`).
    var pool: Database
    /// The tenant slots the pipeline took for this request (nil on service and operator routes).
    var lease: TenantSlots.Lease? = nil

    /// The same request with its statements going to `database`.
    func binding(_ database: Database) -> RequestContext {
        var copy = self
        copy.pool = database
        return copy
    }

    /// The calling tenant key. Tenant routes always have one: the pipeline admits them first.
    var tenant: Principal {
        guard let principal else { preconditionFailure("tenant route reached without a principal") }
        return principal
    }

    /// Runs `body` holding a slot of `kind`: the request's own when the pipeline took one for it,
    /// else one taken now (a handler reached another way, such as a tool call).
    /// - Throws: 429 `concurrent_limit_exceeded` when the tenant has none free.
    func withSlot<T>(_ kind: TenantSlots.Kind, _ body: () throws -> T) throws -> T {
        if lease?.holds(kind) == true { return try body() }
        let slots = services.tenantSlots
        guard let extra = slots.tryAcquire(tenant.orgID, [kind]) else {
            throw APIError.concurrentLimit(kind, limits: slots.limits)
        }
        defer { extra.releaseAll() }
        return try body()
    }

    /// The request's slots including one of `kind`, moved out of the request for work that
    /// outlives it (an export's stream); taken now when the pipeline holds none of `kind`.
    /// - Throws: 429 `concurrent_limit_exceeded` when the tenant has none free.
    func takeSlots(_ kind: TenantSlots.Kind) throws(APIError) -> TenantSlots.Lease {
        if let lease, lease.holds(kind) { return lease.take() }
        let slots = services.tenantSlots
        guard let taken = slots.tryAcquire(tenant.orgID, [kind]) else {
            throw APIError.concurrentLimit(kind, limits: slots.limits)
        }
        return taken
    }

    /// A path parameter (`{id}`); routing guarantees it is present.
    func parameter(_ name: String) -> String {
        parameters[name] ?? ""
    }

    /// The JSON object body. 415 when the body declares another media type, 400 when it is not a
    /// JSON object.
    func jsonBody() throws(APIError) -> JSONObject {
        if let contentType = request.headers["Content-Type"], !Self.isJSON(contentType) {
            throw APIError.unsupportedMediaType
        }
        guard !request.body.isEmpty else {
            throw APIError(status: 400, code: "invalid_request", message: "a JSON body is required",
                           details: [.init(field: "body", message: "a JSON object is required")])
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(request.body)
        } catch {
            throw APIError(status: 400, code: "invalid_request", message: "malformed JSON: \(error.message)",
                           details: [.init(field: "body", message: "malformed JSON: \(error.message)")])
        }
        guard case .object(let object) = value else {
            throw APIError(status: 400, code: "invalid_request", message: "the body must be a JSON object",
                           details: [.init(field: "body", message: "must be a JSON object")])
        }
        return object
    }

    /// The JSON object body, or an empty object when there is no body.
    func optionalJSONBody() throws(APIError) -> JSONObject {
        request.body.isEmpty ? JSONObject() : try jsonBody()
    }

    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
