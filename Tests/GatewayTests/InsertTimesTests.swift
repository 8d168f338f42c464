import Foundation
import Testing
@testable import Gateway

/// A new memory's created_at, sent back as as_of, finds its first version: created_at and
/// updated_at are one instant (they were two calls of the clock, sometimes a millisecond apart).
@Suite struct InsertTimesTests {
    @Test func createdAndUpdatedAtAreOneInstantOnInsert() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant()
        let items: [JSONValue] = (0..<1000).map { .object(JSONObject([("text", .string("fact \($0)"))])) }
        let batch = try gateway.client().call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(items)])
        #expect(batch.status == 201)
        let rows = try gateway.running.services.pool.query(
            "SELECT count(*) FROM memories WHERE org_id = $1 AND created_at <> updated_at", [.text(tenant.orgID)])
        #expect(rows.first?.int(0) == 0)
        let created = try gateway.client().call("POST", "/v1/memories", key: tenant.key, json: ["text": "v1", "memory_id": "p"])
        let createdAt = try #require(created.data?["created_at"]?.stringValue)
        #expect(created.data?["updated_at"]?.stringValue == createdAt)
        _ = try gateway.client().call("PUT", "/v1/memories/p", key: tenant.key, json: ["text": "v2"])
        let then = try gateway.client().call("GET", "/v1/memories/p?as_of=\(createdAt)", key: tenant.key)
        #expect(then.data?["text"]?.stringValue == "v1")
    }
}
