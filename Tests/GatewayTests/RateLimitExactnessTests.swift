import Foundation
import PostgresStore
import Synchronization
import Testing
@testable import Gateway

/// The limiter's exactness across two instances, its refill, its local memory of refusals and the
/// monthly quota's reset.
@Suite struct RateLimitExactnessTests {
    @Test func twentyAlternatingRequestsAdmitExactlyTenThenRefill() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let key = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"], extra: [("rate_limit_per_minute", 60)])
        var admitted = 0
        var lastRemaining: Int?
        for index in 0..<70 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: key.key)
            if response.status == 200 {
                admitted += 1
                let remaining = try #require(response.header("RateLimit-Remaining").flatMap { Int($0) })
                if let lastRemaining { #expect(remaining <= lastRemaining) }  // headers agree with what follows
                lastRemaining = remaining
            }
        }
        // A burst of the limit from idle (a request or so may refill while the burst runs).
        #expect(admitted >= 60 && admitted <= 61)
        let refused = try UsageGateways.first.client().call("GET", "/v1/account", key: key.key)
        #expect(refused.status == 429)
        let wait = try #require(refused.header("Retry-After").flatMap { Int($0) })
        #expect(wait == 1)
        Thread.sleep(forTimeInterval: Double(wait) + 0.05)
        #expect(try UsageGateways.second.client().call("GET", "/v1/account", key: key.key).status == 200)
    }

    @Test func concurrentBurstsOverTwoInstancesNeverOvershoot() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let key = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"], extra: [("rate_limit_per_minute", 20)])
        let admitted = Atomic<Int>(0)
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: 16) { thread in
            let client = UsageGateways.client(thread)
            for _ in 0..<6 {
                if (try? client.call("GET", "/v1/account", key: key.key).status) == 200 {
                    admitted.add(1, ordering: .relaxed)
                }
            }
        }
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        // 20 from idle, plus what refilled (20/60 per second) while the burst ran.
        let allowed = 20 + Int(elapsed * 20 / 60)
        #expect(admitted.load(ordering: .relaxed) >= 20)
        #expect(admitted.load(ordering: .relaxed) <= allowed)
    }

    @Test func aRefusedKeyStopsReachingTheDatabase() throws {
        let gateway = try TestGateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "free")
        let client = gateway.client()
        for _ in 0..<10 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 429)
        let admission = gateway.running.services.admission
        let before = admission.databaseDecisions.load(ordering: .relaxed)
        for _ in 0..<25 {
            let response = try client.call("GET", "/v1/account", key: tenant.key)
            #expect(response.status == 429)
            #expect((response.header("Retry-After").flatMap { Int($0) } ?? 0) >= 1)
        }
        #expect(admission.databaseDecisions.load(ordering: .relaxed) == before)
        let metrics = try client.request("GET", "/metrics").text
        #expect(metrics.contains("gateway_admission_queries_total \(before)"))
    }

    @Test func theMonthlyQuotaRefusesThenResetsWithTheNextPeriod() throws {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "free")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 1000]]).status == 200)
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200)
        let pool = gateway.running.services.pool
        // The stored counter says the period's 10,000 are used.
        _ = try pool.query("UPDATE quota_counters SET requests = 10000 WHERE org_id = $1", [.text(tenant.orgID)])
        let refused = try client.call("GET", "/v1/account", key: tenant.key)
        #expect(refused.status == 429)
        #expect(refused.errorCode == "quota_exceeded")
        let wait = try #require(refused.header("Retry-After").flatMap { Int($0) })
        let bounds = UTCDate.monthBounds(Date())
        let nextPeriod = Double(UTCDate.daysSinceEpoch(bounds.end) + 1) * 86_400
        #expect(abs(Double(wait) - (nextPeriod - Date().timeIntervalSince1970)) < 5)
        // The refusing instance remembers the refusal until the period ends (FairLimitsTests).
        #expect(try client.call("GET", "/v1/account", key: tenant.key).errorCode == "quota_exceeded")
        // A new period (made here in the database, so the first instance cannot know it yet: the
        // other one asks): the counter of the period that ended no longer applies.
        _ = try pool.query("UPDATE quota_counters SET period = period - interval '1 month' WHERE org_id = $1", [.text(tenant.orgID)])
        _ = try pool.query("DELETE FROM usage_counters WHERE org_id = $1", [.text(tenant.orgID)])
        #expect(try UsageGateways.second.client().call("GET", "/v1/account", key: tenant.key).status == 200)
    }
}
