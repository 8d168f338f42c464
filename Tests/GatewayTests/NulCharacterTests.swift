import Foundation
import Testing
@testable import Gateway

/// PostgreSQL text cannot hold U+0000: every string field, nested JSON included, is a field error.
@Suite struct NulCharacterTests {
    let gateway = TestGateway.shared

    /// PostgreSQL text cannot hold U+0000: every string field says so, with details.
    @Test(arguments: [
        ("/v1/query", #"{"context":"python\u0000java"}"#, "context"),
        ("/v1/query/extract", #"{"content":"hello\u0000world"}"#, "content"),
        ("/v1/account/api-keys", #"{"name":"a\u0000","scopes":["read"]}"#, "name"),
    ])
    func nulCharactersAreFieldErrors(path: String, body: String, field: String) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().request(
            "POST", path, headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == field)
    }

    @Test(arguments: [
        ("/v1/query", #"{"context":"x","filters":{"a\u0000":1}}"#, "filters"),
        ("/v1/query", #"{"context":"x","filters":{"a":"\u0000"}}"#, "filters"),
        ("/v1/query/extract", #"{"content":"hello","metadata":{"k\u0000":"v"}}"#, "metadata"),
        ("/v1/memories", #"{"text":"x","metadata":{"k":["\u0000"]}}"#, "metadata"),
    ])
    func nulInNestedJSONIsAFieldError(path: String, body: String, field: String) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().request(
            "POST", path, headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == field)
    }

    @Test func historyKeyIDIsValidated() throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().call("GET", "/v1/usage/history?key_id=%00", key: tenant.key)
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == "key_id")
    }
}
