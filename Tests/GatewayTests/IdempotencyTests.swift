import Foundation
import Testing
@testable import Gateway

/// `Idempotency-Key`: replays, conflicts, secrets blanked.
@Suite struct IdempotencyTests {
    let gateway = TestGateway.shared

    @Test func sameKeyReplaysWithoutRedoingTheWork() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let body: JSONValue = ["name": "ci", "scopes": ["read"]]
        let first = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: body, headers: [("Idempotency-Key", "abc-1")])
        #expect(first.status == 201)
        #expect(first.header("Idempotent-Replayed") == nil)
        let second = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: body, headers: [("Idempotency-Key", "abc-1")])
        #expect(second.status == 201)
        #expect(second.header("Idempotent-Replayed") == "true")
        #expect(second.data?["id"] == first.data?["id"])
        #expect(second.data?["key"] == .null)
        #expect(second.json?["meta"]?["request_id"] == first.json?["meta"]?["request_id"])
        #expect(second.header("X-Request-ID") != first.header("X-Request-ID"))
        #expect(second.header("Location") == first.header("Location"))
        let keys = try client.call("GET", "/v1/account/api-keys", key: tenant.key)
        #expect(keys.data?["api_keys"]?.arrayValue?.count == 2)

        let other = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: ["name": "other", "scopes": ["read"]],
                                    headers: [("Idempotency-Key", "abc-1")])
        #expect(other.status == 409)
        #expect(other.errorCode == "idempotency_conflict")
    }

    @Test func errorsAreReplayedToo() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let bad: JSONValue = ["name": "", "scopes": ["read"]]
        let first = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: bad, headers: [("Idempotency-Key", "k")])
        #expect(first.status == 400)
        let second = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: bad, headers: [("Idempotency-Key", "k")])
        #expect(second.status == 400)
        #expect(second.header("Idempotent-Replayed") == "true")
    }

    @Test func keysArePerTenant() throws {
        let a = try gateway.createTenant()
        let b = try gateway.createTenant()
        let client = gateway.client()
        let body: JSONValue = ["name": "same", "scopes": ["read"]]
        let first = try client.call("POST", "/v1/account/api-keys", key: a.key, json: body, headers: [("Idempotency-Key", "shared")])
        let second = try client.call("POST", "/v1/account/api-keys", key: b.key, json: body, headers: [("Idempotency-Key", "shared")])
        #expect(first.status == 201 && second.status == 201)
        #expect(second.header("Idempotent-Replayed") == nil)
        #expect(first.data?["id"] != second.data?["id"])
    }

    @Test func keyLengthIsChecked() throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().call("POST", "/v1/account/api-keys", key: tenant.key, json: ["name": "x", "scopes": ["read"]],
                                                 headers: [("Idempotency-Key", String(repeating: "k", count: 256))])
        #expect(response.status == 400)
    }
}
