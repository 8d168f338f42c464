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

/// The record, the work and the stored response commit together: concurrent requests with one key
/// on two instances do the work once and all answer with its response.
@Suite struct IdempotencyAtomicityTests {
    @Test func concurrentSameKeyRequestsOnTwoInstancesDoTheWorkOnce() throws {
        let first = UsageGateways.first
        let tenant = try first.createTenant()
        let ids = UnsafeStrings()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let response = try? UsageGateways.client(index).call(
                "POST", "/v1/memories", key: tenant.key, json: ["text": "exactly once"],
                headers: [("Idempotency-Key", "same-key")])
            if response?.status == 201, let id = response?.data?["id"]?.stringValue { ids.append(id) }
        }
        #expect(ids.values.count == 8)
        #expect(Set(ids.values).count == 1)
        let count = try first.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 1)
    }

    @Test func aRefusalUndoesItsPartialWorkAndIsReplayed() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "taken", "memory_id": "b2"]).status == 201)
        // The space would be made on first use, then the taken id refuses the whole import.
        let body: JSONValue = ["memories": [["text": "a", "memory_id": "b1", "space_id": "new-space"], ["text": "b", "memory_id": "b2"]]]
        let first = try client.call("POST", "/v1/memories/batch", key: tenant.key, json: body, headers: [("Idempotency-Key", "imp")])
        #expect(first.status == 409)
        let again = try client.call("POST", "/v1/memories/batch", key: tenant.key, json: body, headers: [("Idempotency-Key", "imp")])
        #expect(again.status == 409)
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(try client.call("GET", "/v1/spaces/new-space", key: tenant.key).status == 404)
        #expect(try client.call("GET", "/v1/memories/b1", key: tenant.key).status == 404)
    }
}

/// Strings appended from concurrent closures, for tests.
final class UnsafeStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    func append(_ value: String) {
        lock.lock()
        storage.append(value)
        lock.unlock()
    }

    var values: [String] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
