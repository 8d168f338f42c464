import HTTPServer
import PostgresStore

/// The error boundary: every error becomes an `APIError` in one function
/// (``APIError/init(_:requestID:)``), and every `APIError` becomes a response in one function
/// (``APIError/response(requestID:headers:)``), in the spirit of hummingbird's `HTTPResponseError`:
/// the error carries its status and its headers, and renders itself into the envelope.
extension APIError {
    /// Maps any error to what the client is told. Nothing internal reaches the client: unknown
    /// errors are 500 with a generic message, their detail logged with the request id.
    init(_ error: any Error, requestID: String) {
        switch error {
        case let error as APIError:
            self = error
        case let error as StoreError:
            self = APIError(error, requestID: requestID)
        default:
            Log.error("unexpected error", ["request_id": requestID, "error": "\(error)"])
            self = .internalError
        }
    }

    /// Maps a store error, case by case (a new case must decide here).
    init(_ error: StoreError, requestID: String) {
        switch error {
        case .unavailable:
            self = .unavailable(retryAfter: 2)
        case .uniqueViolation:
            self = .conflict("the object already exists")
        case .foreignKeyViolation:
            // The request refers to an object deleted meanwhile (handlers check existence first,
            // so only a concurrent delete gets here): the client should read the current state.
            self = .conflict("an object this request refers to no longer exists")
        case .checkViolation:
            // Handlers validate input before writing; a constraint that still fires is a bug to fix.
            Log.error("store error", ["request_id": requestID, "error": "\(error)"])
            self = .internalError
        case .serializationFailure:
            // Retried once already by the transaction: contention that a retry soon resolves.
            self = APIError(
                status: 503, code: "service_unavailable",
                message: "the request conflicted with concurrent ones; retry it", retryAfter: 1)
        case .invalidInput:
            self = .invalidRequest(
                "a value is not valid", details: [.init(field: "body", message: "a value is out of range or not valid")])
        case .server(let sqlstate, _) where sqlstate == SQLState.queryCanceled:
            self = APIError(
                status: 503, code: "service_unavailable",
                message: "the request took too long and was cancelled; narrow it (fewer words, a space_id, filters) or retry later",
                retryAfter: 5)
        case .server:
            Log.error("store error", ["request_id": requestID, "error": "\(error)"])
            self = .internalError
        }
    }

    /// The response for this error: the envelope, its status, the caller's `headers` (cache and
    /// rate-limit fields), then the error's own (`WWW-Authenticate`, `Allow`, ...) and `Retry-After`
    /// when the error says when to retry.
    func response(requestID: String, headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        for (name, value) in self.headers { headers.add(name, value) }
        if let retryAfter, !headers.contains("Retry-After") {
            headers.add("Retry-After", String(retryAfter))
        }
        headers.add("Content-Type", "application/json")
        return HTTPResponse(status: status, headers: headers, body: Envelope.error(self, requestID: requestID))
    }

    /// The headers every API response starts with: `Cache-Control: no-store` under `/v1/`, then the
    /// caller's rate-limit fields.
    static func baseHeaders(path: String, rateHeaders: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if path.hasPrefix("/v1/") { headers.add("Cache-Control", "no-store") }
        for (name, value) in rateHeaders { headers.add(name, value) }
        return headers
    }
}
