import Foundation
import Testing
@testable import Gateway

/// The routes whose work is fused into the admission statement still refuse first: no scope, no
/// work; refused by the limiter, no work; and they fall back to the handler for what is unusual.
@Suite struct FusedRoutesTests {
    let gateway = TestGateway.shared

    func count(_ key: String) throws -> Int? {
        try gateway.client().call("GET", "/v1/memories/count", key: key).data?["count"]?.intValue
    }

    @Test func aKeyWithoutTheScopeWritesNothing() throws {
        let tenant = try gateway.createTenant()
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let refused = try gateway.client().call("POST", "/v1/memories", key: reader.key, json: ["text": "sneaky"])
        #expect(refused.status == 403)
        #expect(refused.errorCode == "insufficient_scope")
        #expect(try count(tenant.key) == 0)
        let writer = try gateway.createKey(admin: tenant.key, scopes: ["write"])
        let created = try gateway.client().call("POST", "/v1/memories", key: writer.key, json: ["text": "fine", "memory_id": "m1"])
        #expect(created.status == 201)
        let readBack = try gateway.client().call("GET", "/v1/memories/m1", key: writer.key)
        #expect(readBack.status == 403)
        #expect(readBack.json?["error"]?["message"]?.stringValue?.contains("read") == true)
    }

    @Test func aRefusedRequestWritesNothing() throws {
        let tenant = try gateway.createTenant(plan: "starter")
        let key = try gateway.createKey(admin: tenant.key, scopes: ["write"], extra: [("rate_limit_per_minute", 2)])
        let client = gateway.client()
        var statuses: [Int] = []
        for index in 0..<4 {
            statuses.append(try client.call("POST", "/v1/memories", key: key.key,
                                            json: ["text": .string("note \(index)"), "memory_id": .string("n\(index)")]).status)
        }
        #expect(statuses == [201, 201, 429, 429])
        #expect(try count(tenant.key) == 2)
        #expect(try client.call("GET", "/v1/memories/n2", key: tenant.key).status == 404)
    }

    @Test func unusualRequestsFallBackToTheHandler() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "a", "memory_id": "dup"]).status == 201)
        let taken = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "b", "memory_id": "dup"])
        #expect(taken.status == 409)
        #expect(taken.errorCode == "conflict")
        let invalid = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": ""])
        #expect(invalid.status == 400)
        let spaced = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "c", "space_id": "s1"])
        #expect(spaced.status == 201)
        #expect(spaced.data?["space_id"]?.stringValue == "s1")
        let got = try client.call("GET", "/v1/memories/dup", key: tenant.key)
        #expect(got.status == 200)
        #expect(got.data?["text"]?.stringValue == "a")
        #expect(try client.call("GET", "/v1/memories/missing", key: tenant.key).errorCode == "not_found")
        let unauthenticated = try client.call("POST", "/v1/memories", json: ["text": ""])
        #expect(unauthenticated.status == 401)
    }

    @Test func theHardMemoryQuotaStillHolds() throws {
        let tenant = try gateway.createTenant(plan: "free")
        #expect(try gateway.client().call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                          json: ["limits": ["max_memories": 2, "rate_limit_per_minute": 100]]).status == 200)
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "one"]).status == 201)
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "two"]).status == 201)
        let third = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "three"])
        #expect(third.status == 429)
        #expect(third.errorCode == "quota_exceeded")
        #expect(third.header("Retry-After") == nil)
    }
}
