import Foundation
import Testing
@testable import Gateway

/// The limiter and the hard monthly quota end to end, over two gateway instances.
@Suite struct RateLimitEndToEndTests {
    let a = UsageGateways.first.client()

    func expectRateLimitHeaders(_ response: TestResponse, limit: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.header("RateLimit-Limit") == String(limit), sourceLocation: sourceLocation)
        let remaining = response.header("RateLimit-Remaining").flatMap { Int($0) }
        let reset = response.header("RateLimit-Reset").flatMap { Int($0) }
        #expect(remaining != nil && reset != nil, sourceLocation: sourceLocation)
        #expect(response.header("RateLimit-Policy") == "\"minute\";q=\(limit);w=60", sourceLocation: sourceLocation)
        #expect(response.header("RateLimit") == "\"minute\";r=\(remaining ?? -1);t=\(reset ?? -1)",
                sourceLocation: sourceLocation)
    }

    @Test func freeTenantGetsExactlyTenAcrossTwoInstances() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        var admitted = 0
        var refusals: [TestResponse] = []
        for index in 0..<16 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            if response.status == 200 {
                admitted += 1
                expectRateLimitHeaders(response, limit: 10)
            } else {
                refusals.append(response)
            }
        }
        #expect(admitted == 10)
        #expect(refusals.count == 6)
        for refusal in refusals {
            #expect(refusal.status == 429)
            #expect(refusal.errorCode == "rate_limit_exceeded")
            let retryAfter = try #require(refusal.header("Retry-After").flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 60)
            #expect(refusal.json?["error"]?["retry_after"]?.intValue == retryAfter)
            expectRateLimitHeaders(refusal, limit: 10)
            #expect(refusal.header("RateLimit-Remaining") == "0")
        }
    }

    @Test func remainingCountsDownFromTheBurst() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        var seen: [Int] = []
        for index in 0..<3 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            seen.append(Int(response.header("RateLimit-Remaining") ?? "") ?? -1)
        }
        #expect(seen == [9, 8, 7])
    }

    @Test func headLimitedAsGetAndScopeRefusalsCarryHeaders() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        let head = try a.call("HEAD", "/v1/account", key: tenant.key)
        #expect(head.status == 200)
        expectRateLimitHeaders(head, limit: 10)
        #expect(head.header("RateLimit-Remaining") == "9")
        #expect(try a.call("GET", "/v1/account", key: tenant.key).header("RateLimit-Remaining") == "8")
        // A memory write needs `write`: a read-only key is refused with the headers on.
        let reader = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        let refused = try a.call("GET", "/v1/account/api-keys", key: reader.key)
        #expect(refused.status == 403)
        #expect(refused.errorCode == "insufficient_scope")
        expectRateLimitHeaders(refused, limit: 10)
    }

    @Test func operatorLimitChangeTakesEffectWithinOneSecond() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 3]]).status == 200)
        let started = ContinuousClock.now
        var statuses: [Int] = []
        for index in 0..<5 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            statuses.append(response.status)
            #expect(response.header("RateLimit-Limit") == "3")
        }
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(statuses == [200, 200, 200, 429, 429])
        // Raising it again frees the key on both instances (the local throttle memory is dropped).
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 1000]]).status == 200)
        for index in 0..<2 {
            let admitted = try eventually(timeout: .seconds(1)) {
                try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key).status == 200
            }
            #expect(admitted)
        }
        // And null returns to the plan's.
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": nil]]).status == 200)
        #expect(try a.call("GET", "/v1/account", key: tenant.key).header("RateLimit-Limit") == "300")
    }

    @Test func keyLimitBelowTheTenantsApplies() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let slow = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"],
                                                     extra: [("rate_limit_per_minute", 2)])
        var statuses: [Int] = []
        for index in 0..<3 {
            statuses.append(try UsageGateways.client(index).call("GET", "/v1/account", key: slow.key).status)
        }
        #expect(statuses == [200, 200, 429])
        // The admin key has its own bucket.
        #expect(try a.call("GET", "/v1/account", key: tenant.key).header("RateLimit-Limit") == "300")
    }

    @Test func hardMonthlyQuotaAdmitsExactlyTheQuota() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        #expect(try UsageGateways.operatorPatch(
            tenant.orgID, ["limits": ["monthly_request_quota": 5, "rate_limit_per_minute": 1000]]).status == 200)
        var statuses: [Int] = []
        var refusal: TestResponse?
        for index in 0..<8 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            statuses.append(response.status)
            if response.status == 429 { refusal = response }
        }
        #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
        let refused = try #require(refusal)
        #expect(refused.errorCode == "quota_exceeded")
        let retryAfter = try #require(refused.header("Retry-After").flatMap { Int($0) })
        let bounds = UTCDate.monthBounds(Date())
        let nextPeriod = Double((UTCDate.daysSinceEpoch(bounds.end) + 1) * 86_400)
        let expected = Int((nextPeriod - Date().timeIntervalSince1970).rounded(.up))
        #expect(abs(retryAfter - expected) <= 5)
        #expect(refused.json?["error"]?["retry_after"]?.intValue == retryAfter)
        expectRateLimitHeaders(refused, limit: 1000)
        // A monthly refusal counts in rate_limited. Read with a key that was never refused (made
        // without a request): the refused one's refusal is remembered until the raised quota's
        // notification arrives (within 1 s), and a poll refused meanwhile would count too.
        let reader = try #require(try FairLimitsTests.insertKeys(
            UsageGateways.first.running.services.pool, orgID: tenant.orgID, count: 1).first)
        var data: JSONValue?
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["monthly_request_quota": 100]]).status == 200)
        _ = try eventually(timeout: .seconds(3)) {
            data = try a.call("GET", "/v1/usage", key: reader).data
            return data?["rate_limited"]?.intValue == 3
        }
        #expect(data?["rate_limited"]?.intValue == 3)
        #expect(data?["requests"]?["quota"]?.intValue == 100)
    }

    /// A tenant moved onto a hard-quota plan mid-month keeps what it already used this month.
    @Test func hardQuotaStartsFromThePeriodsUsage() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        for _ in 0..<4 { #expect(try a.call("GET", "/v1/account", key: tenant.key).status == 200) }
        // Wait until usage has the 4 requests, then move onto free with a quota of 6.
        #expect(try eventually(timeout: .seconds(3)) {
            let usage = try a.call("GET", "/v1/usage", key: tenant.key)
            return (usage.data?["requests"]?["used"]?.intValue ?? 0) >= 4
        })
        #expect(try UsageGateways.operatorPatch(
            tenant.orgID, ["plan": "free", "limits": ["monthly_request_quota": 6, "rate_limit_per_minute": 1000]]).status == 200)
        // 4 (or 5, counting the usage poll that saw them) used: at most 2 more are admitted.
        var admitted = 0
        for _ in 0..<5 where try a.call("GET", "/v1/account", key: tenant.key).status == 200 { admitted += 1 }
        #expect(admitted <= 2)
        let refused = try a.call("GET", "/v1/account", key: tenant.key)
        #expect(refused.errorCode == "quota_exceeded")
    }

    @Test func testKeysNeverConsumeTheHardQuota() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        // Creating the key is the first live request of the month.
        let testKey = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"], environment: "test")
        #expect(try UsageGateways.operatorPatch(
            tenant.orgID, ["limits": ["monthly_request_quota": 3, "rate_limit_per_minute": 1000]]).status == 200)
        for index in 0..<12 {
            #expect(try UsageGateways.client(index).call("GET", "/v1/account", key: testKey.key).status == 200)
        }
        var statuses: [Int] = []
        for index in 0..<4 {
            statuses.append(try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key).status)
        }
        #expect(statuses == [200, 200, 429, 429])
        // Test keys stay rate limited, though: the tenant limit covers them too.
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 1]]).status == 200)
        _ = try a.call("GET", "/v1/account", key: testKey.key)
        let limited = try a.call("GET", "/v1/account", key: testKey.key)
        #expect(limited.status == 429)
        #expect(limited.errorCode == "rate_limit_exceeded")
    }

    @Test func paidPlansQuotaIsSoft() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["monthly_request_quota": 2]]).status == 200)
        for index in 0..<5 {
            #expect(try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key).status == 200)
        }
    }
}

/// The two quota refusals' shapes, without a server.
@Suite struct RateLimitErrorShapeTests {
    @Test func memoryQuotaRefusalHasNullRetryAfterAndNoHeader() throws {
        let error = APIError(status: 429, code: "quota_exceeded", message: "full", retryAfterIsNull: true)
        #expect(error.retryAfter == nil)
        #expect(!error.headers.contains { $0.0.lowercased() == "retry-after" })
        let body = try JSONParser.parse(Envelope.error(error, requestID: "req_1"))
        #expect(body["error"]?["retry_after"] == .null)
        #expect(body["error"]?["code"]?.stringValue == "quota_exceeded")
    }

    @Test func rateLimitHeadersCarryBothForms() {
        let state = RateLimitState(limit: 10, remaining: 0, resetSeconds: 42)
        let headers = Dictionary(state.headers, uniquingKeysWith: { first, _ in first })
        #expect(headers["RateLimit-Limit"] == "10")
        #expect(headers["RateLimit-Remaining"] == "0")
        #expect(headers["RateLimit-Reset"] == "42")
        #expect(headers["RateLimit-Policy"] == "\"minute\";q=10;w=60")
        #expect(headers["RateLimit"] == "\"minute\";r=0;t=42")
    }
}

/// `GATEWAY_RATE_LIMITS=off` (benchmarks only) admits past the limit but still authenticates.
@Suite struct RateLimiterSwitchTests {
    @Test func limiterOffAdmitsPastTheLimitButStillChecksKeys() throws {
        let gateway = try TestGateway { $0.isRateLimiting = false }
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "free")
        let client = gateway.client()
        for _ in 0..<15 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        #expect(try client.call("GET", "/v1/account", key: "mem_live_" + String(repeating: "x", count: 40)).status == 401)
    }
}
