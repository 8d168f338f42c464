import HTTPServer
import PostgresStore
import Testing

@testable import Gateway

/// Every error becomes a response in one place, carrying its own headers.
@Suite struct ErrorBoundaryTests {
    @Test(arguments: [
        (StoreError.unavailable("lost"), 503, "service_unavailable", 2 as Int?),
        (.uniqueViolation(constraint: "memories_pkey"), 409, "conflict", nil),
        (.foreignKeyViolation(constraint: "memories_space_fk"), 409, "conflict", nil),
        (.checkViolation(constraint: "memories_text_length"), 500, "internal_error", nil),
        (.serializationFailure, 503, "service_unavailable", 1),
        (.invalidInput(sqlstate: "22P02", message: "bad"), 400, "invalid_request", nil),
        (.server(sqlstate: "57014", message: "canceling statement"), 503, "service_unavailable", 5),
        (.server(sqlstate: "XX000", message: "internal"), 500, "internal_error", nil),
    ])
    func everyStoreErrorMapsToItsDocumentedStatus(_ error: StoreError, _ status: Int, _ code: String, _ retryAfter: Int?) {
        let mapped = APIError(error, requestID: "req_test")
        #expect(mapped.status == status)
        #expect(mapped.code == code)
        #expect(mapped.retryAfter == retryAfter)
        // No server detail reaches the client.
        #expect(!mapped.message.contains("memories_") && !mapped.message.contains("canceling"))
    }

    @Test func anUnknownErrorIsAGeneric500() {
        struct Surprise: Error {}
        let mapped = APIError(Surprise(), requestID: "req_test")
        #expect(mapped.status == 500 && mapped.message == "internal error")
    }

    @Test func aRetryableErrorSendsRetryAfterInTheHeaderAndTheEnvelope() throws {
        let response = APIError.unavailable(retryAfter: 3).response(requestID: "req_1", headers: HTTPHeaders())
        #expect(response.status == 503)
        #expect(response.headers["Retry-After"] == "3")
        #expect(response.headers["Content-Type"] == "application/json")
        let body = try JSONParser.parse(response.body)
        #expect(body["error"]?["retry_after"]?.intValue == 3)
        #expect(body["meta"]?["request_id"]?.stringValue == "req_1")
    }

    @Test func anErrorKeepsItsOwnHeadersAfterTheCallers() {
        var notAllowed = APIError(status: 405, code: "method_not_allowed", message: "no")
        notAllowed.headers = [("Allow", "GET, HEAD")]
        let base = APIError.baseHeaders(path: "/v1/memories", rateHeaders: [("X-RateLimit-Limit", "60")])
        let response = notAllowed.response(requestID: "r", headers: base)
        #expect(response.headers.fields.map(\.name) == [
            "Cache-Control", "X-RateLimit-Limit", "Allow", "Content-Type",
        ])
        let unauthorized = APIError.missingKey.response(requestID: "r", headers: HTTPHeaders())
        #expect(unauthorized.headers["WWW-Authenticate"] == "Bearer realm=\"memory-gateway\"")
        #expect(unauthorized.headers["Retry-After"] == nil)
    }

    @Test func anExplicitRetryAfterHeaderIsNotDuplicated() {
        var limited = APIError(status: 429, code: "rate_limited", message: "slow down", retryAfter: 7)
        limited.headers = [("Retry-After", "7")]
        let response = limited.response(requestID: "r", headers: HTTPHeaders())
        #expect(response.headers.values("Retry-After") == ["7"])
    }

    @Test func onlyAPIPathsAreMarkedNoStore() {
        #expect(APIError.baseHeaders(path: "/v1/account", rateHeaders: [])["Cache-Control"] == "no-store")
        #expect(APIError.baseHeaders(path: "/healthz", rateHeaders: [])["Cache-Control"] == nil)
    }
}
