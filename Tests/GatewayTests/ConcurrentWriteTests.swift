import Foundation
import Testing
@testable import Gateway

/// Concurrent writes on overlapping data all succeed and leave no orphans.
@Suite struct ConcurrentWriteTests {
    let gateway = TestGateway.shared

    @Test(arguments: ["skip", "update"])
    func concurrentOverlappingImportsSucceed(policy: String) throws {
        let tenant = try gateway.createTenant()
        let ids = (0..<60).map { "x-\($0)" }
        let statuses = UnsafeResults()
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let order = index % 2 == 0 ? ids : ids.reversed()
            let items: [JSONValue] = order.map { .object(JSONObject([("text", .string("item \($0)")), ("memory_id", .string($0))])) }
            let response = try? gateway.client().call("POST", "/v1/memories/batch", key: tenant.key,
                                                      json: ["memories": .array(items), "on_conflict": .string(policy)])
            statuses.set(index, Int32(response?.status ?? -1))
        }
        #expect(statuses.values == [201, 201, 201, 201])
        let count = try gateway.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 60)
    }

    @Test func deletingASpaceWhileWritingIntoItLeavesNoOrphans() throws {
        let tenant = try gateway.createTenant()
        for round in 0..<5 {
            let space = "race\(round)"
            #expect(try gateway.client().call("POST", "/v1/spaces", key: tenant.key, json: ["id": .string(space), "name": "r"]).status == 201)
            DispatchQueue.concurrentPerform(iterations: 9) { index in
                if index == 4 {
                    _ = try? gateway.client().call("DELETE", "/v1/spaces/\(space)", key: tenant.key)
                } else {
                    _ = try? gateway.client().call("POST", "/v1/memories", key: tenant.key,
                                                   json: ["text": .string("m \(index)"), "space_id": .string(space)])
                }
            }
            let orphans = try gateway.running.services.pool.query(
                """
                SELECT count(*) FROM memories m
                 WHERE m.org_id = $1 AND m.space_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM spaces s WHERE s.org_id = m.org_id AND s.env = m.env AND s.space_id = m.space_id)
                """, [.text(tenant.orgID)])
            #expect(orphans.first?.int(0) == 0)
        }
    }
}
