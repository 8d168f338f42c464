import Foundation
import Testing
@testable import Gateway

/// One tenant's expensive requests cannot take every connection from the others.
@Suite struct ExpensiveRequestIsolationTests {
    @Test func usageHistoryCountsServerErrorsInErrorsOnly() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant()
        let principal = Principal(
            orgID: tenant.orgID, keyID: "key_x", keyPrefix: "mem_live_xxx", environment: .live, scopes: [.read],
            plan: "professional", monthlyQuota: 1_000_000, maxMemories: 1_000_000, hardQuota: false,
            rateLimit: RateLimitState(limit: 300, remaining: 299, resetSeconds: 1))
        let usage = gateway.running.services.usage
        usage.recordRequest(principal: principal, endpoint: "POST /v1/query", status: 500)
        usage.recordRequest(principal: principal, endpoint: "POST /v1/query", status: 200)
        usage.recordRequest(principal: principal, endpoint: "POST /v1/query", status: 404)
        usage.flush()
        let history = try gateway.client().call("GET", "/v1/usage/history", key: tenant.key)
        let today = try #require(history.data?["days"]?.arrayValue?.last)
        #expect(today["requests"]?.intValue == 2)
        #expect(today["errors"]?.intValue == 2)
    }

    @Test func operatorRoutesAre404ForEveryMethodWithoutAToken() throws {
        let bare = try TestGateway { $0.operatorToken = nil }
        defer { bare.stop() }
        let client = bare.client()
        #expect(try client.request("POST", "/v1/admin/billing").status == 404)
        #expect(try client.request("DELETE", "/v1/admin/tenants/org_x").header("Allow") == nil)
    }
}
