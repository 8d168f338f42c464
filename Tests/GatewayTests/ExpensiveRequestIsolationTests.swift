import Foundation
import Testing
@testable import Gateway

/// One tenant's expensive requests cannot take every connection from the others.
@Suite struct ExpensiveRequestIsolationTests {
    @Test func tenantSlotsBoundConcurrencyAndTimeOut() throws {
        let slots = TenantSlots(perTenant: 2, wait: .milliseconds(200))
        let holding = UnsafeResults()
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for index in 0..<2 {
            Thread.detachNewThread {
                _ = try? slots.withSlot("org_a") {
                    started.signal()
                    release.wait()
                }
                holding.set(index, 1)
            }
        }
        started.wait()
        started.wait()
        // org_a is full: a third waits, then 503; another tenant is not affected.
        let start = ContinuousClock.now
        #expect(throws: APIError.self) { try slots.withSlot("org_a") {} }
        #expect(ContinuousClock.now - start >= .milliseconds(150))
        #expect(try slots.withSlot("org_b") { 7 } == 7)
        release.signal()
        release.signal()
        #expect(eventually { holding.values.count == 2 })
        #expect(try slots.withSlot("org_a") { 8 } == 8)
    }

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
