import Foundation
import Testing
@testable import Gateway

/// Test keys never reach the live world: key management and the audit log.
@Suite struct TestModeIsolationTests {
    let gateway = TestGateway.shared

    /// A test key must not reach the live world through key management.
    @Test func testAdminKeysManageOnlyTestKeys() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let testAdmin = try gateway.createKey(admin: tenant.key, scopes: ["admin", "read"], environment: "test")
        let live = try client.call("POST", "/v1/account/api-keys", key: testAdmin.key,
                                   json: ["name": "escalate", "scopes": ["read"], "environment": "live"])
        #expect(live.status == 400)
        #expect(live.json?["error"]?["details"]?[0]?["field"]?.stringValue == "environment")
        let test = try client.call("POST", "/v1/account/api-keys", key: testAdmin.key,
                                   json: ["name": "ci", "scopes": ["read"], "environment": "test"])
        #expect(test.status == 201)
        let listed = try client.call("GET", "/v1/account/api-keys", key: testAdmin.key)
        let environments = Set(listed.data?["api_keys"]?.arrayValue?.compactMap { $0["environment"]?.stringValue } ?? [])
        #expect(environments == ["test"])
        let liveKeys = try client.call("GET", "/v1/account/api-keys", key: tenant.key)
        let liveAdminID = try #require(liveKeys.data?["api_keys"]?.arrayValue?.first { $0["environment"] == "live" }?["id"]?.stringValue)
        #expect(try client.call("GET", "/v1/account/api-keys/\(liveAdminID)", key: testAdmin.key).status == 404)
        #expect(try client.call("DELETE", "/v1/account/api-keys/\(liveAdminID)", key: testAdmin.key).status == 404)
        #expect(try client.call("POST", "/v1/account/api-keys/\(liveAdminID)/rotate", key: testAdmin.key, json: [:]).status == 404)
    }

    @Test func aTestKeySeesOnlyTestActivityInTheAuditLog() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        _ = try gateway.createKey(admin: tenant.key, scopes: ["read"])  // live activity
        let testAdmin = try gateway.createKey(admin: tenant.key, scopes: ["admin"], environment: "test")
        _ = try client.call("POST", "/v1/account/api-keys", key: testAdmin.key, json: ["name": "t", "scopes": ["read"], "environment": "test"])
        let log = try client.call("GET", "/v1/account/audit-log", key: testAdmin.key)
        let prefixes = log.data?["events"]?.arrayValue?.compactMap { $0["actor_key_prefix"]?.stringValue } ?? []
        #expect(prefixes.count == 1)
        #expect(prefixes.allSatisfy { $0.hasPrefix("mem_test_") })
        let live = try client.call("GET", "/v1/account/audit-log", key: tenant.key)
        #expect((live.data?["events"]?.arrayValue?.count ?? 0) >= 3)
    }
}
