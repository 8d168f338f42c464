import Foundation
import Testing
@testable import Gateway

/// `/v1/admin`: the operator token, tenants, plans, limits and the audit trail.
@Suite struct OperatorTests {
    let gateway = TestGateway.shared

    @Test func operatorRoutesNeedTheToken() throws {
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/admin/tenants").errorCode == "missing_api_key")
        #expect(try client.call("GET", "/v1/admin/tenants", key: "wrong").errorCode == "invalid_api_key")
        let tenant = try gateway.createTenant()
        #expect(try client.call("GET", "/v1/admin/tenants", key: tenant.key).status == 401)
        #expect(try client.call("GET", "/v1/admin/tenants", key: TestGateway.operatorToken).status == 200)
    }

    @Test func tenantCreationShape() throws {
        let client = gateway.client()
        let response = try client.call("POST", "/v1/admin/tenants", key: TestGateway.operatorToken, json: ["name": "Acme"])
        #expect(response.status == 201)
        let tenant = try #require(response.data?["tenant"])
        let id = try #require(tenant["id"]?.stringValue)
        #expect(tenant["plan"]?.stringValue == "free")
        #expect(tenant["suspended"] == .bool(false))
        #expect(tenant["created_at"]?.stringValue != nil)
        #expect(response.header("Location") == "/v1/admin/tenants/\(id)")
        let key = try #require(response.data?["api_key"])
        #expect(key["scopes"]?.arrayValue == ["read", "write", "delete", "admin"])
        #expect(key["environment"]?.stringValue == "live")
        #expect(key["key"]?.stringValue?.hasPrefix("mem_live_") == true)
        let bad = try client.call("POST", "/v1/admin/tenants", key: TestGateway.operatorToken, json: ["name": "x", "plan": "gold"])
        #expect(bad.status == 400)
    }

    @Test func planChangesAndLimitsAreEffectiveAndAudited() throws {
        let tenant = try gateway.createTenant(plan: "free")
        let client = gateway.client()
        let patched = try client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                      json: ["plan": "starter", "limits": ["rate_limit_per_minute": 500]])
        #expect(patched.status == 200)
        #expect(patched.data?["plan"]?.stringValue == "starter")
        #expect(patched.data?["limits"]?["rate_limit_per_minute"]?.intValue == 500)
        #expect(patched.data?["limits"]?["monthly_request_quota"]?.intValue == 100_000)
        let account = try client.call("GET", "/v1/account", key: tenant.key)
        #expect(account.header("RateLimit-Limit") == "500")
        let reset = try client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                    json: ["limits": ["rate_limit_per_minute": nil]])
        #expect(reset.data?["limits"]?["rate_limit_per_minute"]?.intValue == 60)
        let audit = try client.call("GET", "/v1/account/audit-log", key: tenant.key)
        let event = try #require(audit.data?["events"]?.arrayValue?.first { $0["action"]?.stringValue == "tenant.plan_changed" })
        #expect(event["target"]?["type"]?.stringValue == "tenant")
        #expect(event["target"]?["id"]?.stringValue == tenant.orgID)
        #expect(try client.call("PATCH", "/v1/admin/tenants/org_missing", key: TestGateway.operatorToken, json: ["plan": "free"]).status == 404)
    }

    @Test func operatorRoutesAre404WithoutAConfiguredToken() throws {
        let bare = try TestGateway { $0.operatorToken = nil }
        defer { bare.stop() }
        let response = try bare.client().call("GET", "/v1/admin/tenants", key: TestGateway.operatorToken)
        #expect(response.status == 404)
    }
}
