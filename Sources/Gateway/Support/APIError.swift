/// An error the API answers with: status, stable code, a message for people, optional details.
/// Handlers throw these; `Envelope.error` renders them. Unknown errors become `internal`.
struct APIError: Error, Sendable {
    var status: Int
    var code: String
    var message: String
    var details: [FieldIssue] = []
    /// Seconds, for 429/503: sets `Retry-After` and `error.retry_after`. `retryAfterIsNull` writes
    /// `"retry_after": null` (a memory quota that waiting will not cure).
    var retryAfter: Int?
    var retryAfterIsNull = false
    var headers: [(String, String)] = []

    /// One bad field of a request.
    struct FieldIssue: Sendable {
        var field: String
        var message: String
    }

    static func invalidRequest(_ message: String, details: [FieldIssue] = []) -> APIError {
        APIError(status: 400, code: "invalid_request", message: message, details: details)
    }

    static func invalidField(_ field: String, _ message: String) -> APIError {
        APIError(status: 400, code: "invalid_request", message: "\(field): \(message)",
                 details: [FieldIssue(field: field, message: message)])
    }

    static func notFound(_ what: String = "resource") -> APIError {
        APIError(status: 404, code: "not_found", message: "\(what) not found")
    }

    static func conflict(_ message: String) -> APIError {
        APIError(status: 409, code: "conflict", message: message)
    }

    static let missingKey = APIError(
        status: 401, code: "missing_api_key",
        message: "no API key: send Authorization: Bearer <key>",
        headers: [("WWW-Authenticate", "Bearer realm=\"memory-gateway\"")])

    static let invalidKey = APIError(
        status: 401, code: "invalid_api_key", message: "the API key is not valid",
        headers: [("WWW-Authenticate", "Bearer realm=\"memory-gateway\"")])

    static func insufficientScope(_ scope: String) -> APIError {
        APIError(status: 403, code: "insufficient_scope", message: "this request needs the '\(scope)' scope")
    }

    static func unavailable(retryAfter: Int = 1) -> APIError {
        APIError(status: 503, code: "service_unavailable",
                 message: "the service is temporarily unavailable; retry shortly", retryAfter: retryAfter)
    }

    static let internalError = APIError(status: 500, code: "internal_error", message: "internal error")

    static let unsupportedMediaType = APIError(
        status: 415, code: "unsupported_media_type", message: "the request body must be JSON (Content-Type: application/json)")
}

/// Collects field problems of one request so a 400 lists them all.
struct Issues {
    private(set) var list: [APIError.FieldIssue] = []

    mutating func add(_ field: String, _ message: String) {
        list.append(APIError.FieldIssue(field: field, message: message))
    }

    var isEmpty: Bool { list.isEmpty }

    /// Throws a 400 listing every issue, when there is one.
    func check() throws(APIError) {
        guard let first = list.first else { return }
        let message = list.count == 1 ? "\(first.field): \(first.message)" : "\(list.count) fields are invalid"
        throw APIError.invalidRequest(message, details: list)
    }
}

extension APIError {
    /// 429 `concurrent_limit_exceeded`: the tenant already holds all its slots of `kind` on this
    /// instance (see `TenantSlots`). Waiting a second usually cures it.
    static func concurrentLimit(_ kind: TenantSlots.Kind, limits: TenantSlots.Limits) -> APIError {
        let what: String
        switch kind {
        case .connection: what = "requests using the database (at most \(limits.connections))"
        case .export: what = "exports (at most \(limits.exports))"
        case .query: what = "queries and extractions (at most \(limits.queries))"
        }
        return APIError(status: 429, code: "concurrent_limit_exceeded",
                        message: "too many concurrent \(what) for this tenant on this instance; retry shortly",
                        retryAfter: 1, headers: [("Retry-After", "1")])
    }
}
