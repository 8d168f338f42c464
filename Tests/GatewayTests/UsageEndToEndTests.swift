import Foundation
import Testing
@testable import Gateway

/// Two gateway instances on one PostgreSQL, shared by the usage, billing and rate-limit suites.
enum UsageGateways {
    static let first: TestGateway = {
        do { return try TestGateway() } catch { fatalError("gateway did not start: \(error)") }
    }()
    static let second: TestGateway = {
        do { return try TestGateway() } catch { fatalError("gateway did not start: \(error)") }
    }()

    static var both: [TestGateway] { [first, second] }

    /// A gateway's client by index (even: first, odd: second).
    static func client(_ index: Int) -> TestHTTPClient {
        (index % 2 == 0 ? first : second).client()
    }

    static func operatorPatch(_ orgID: String, _ body: JSONValue) throws -> TestResponse {
        try first.client().call("PATCH", "/v1/admin/tenants/\(orgID)", key: TestGateway.operatorToken, json: body)
    }
}

/// `GET /v1/usage` end to end: exact counts across instances, never counting itself, endpoint
/// templates, keys, environments.
@Suite struct UsageEndToEndTests {
    let a = UsageGateways.first.client()
    let b = UsageGateways.second.client()

    /// Polls `/v1/usage` until `condition` holds on its `data` (within `timeout`), returning it.
    func pollUsage(_ key: String, query: String = "", timeout: Duration = .seconds(3),
                   until condition: (JSONValue) -> Bool) throws -> JSONValue? {
        var last: JSONValue?
        _ = try eventually(timeout: timeout) {
            let response = try a.call("GET", "/v1/usage\(query)", key: key)
            last = response.data
            return response.status == 200 && last.map(condition) == true
        }
        return last
    }

    @Test func countsRequestsAcrossTwoInstancesExactly() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let n = 24
        for index in 0..<n {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            #expect(response.status == 200)
        }
        let started = ContinuousClock.now
        let data = try pollUsage(tenant.key, timeout: .seconds(2)) { $0["by_endpoint"]?["GET /v1/account"]?.intValue == n }
        #expect(ContinuousClock.now - started < .milliseconds(2500))
        #expect(data?["by_endpoint"]?["GET /v1/account"]?.intValue == n)
        // Stays exact: nothing counted twice by the two flushers.
        Thread.sleep(forTimeInterval: 0.6)
        let later = try a.call("GET", "/v1/usage", key: tenant.key).data
        #expect(later?["by_endpoint"]?["GET /v1/account"]?.intValue == n)
    }

    @Test func aUsageResponseNeverCountsItself() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let first = try a.call("GET", "/v1/usage", key: tenant.key)
        #expect(first.status == 200)
        #expect(first.data?["requests"]?["used"]?.intValue == 0)
        #expect(first.data?["by_endpoint"] == .object(JSONObject()))
        Thread.sleep(forTimeInterval: 0.8)
        let second = try b.call("GET", "/v1/usage", key: tenant.key)
        #expect(second.data?["requests"]?["used"]?.intValue == 1)
        #expect(second.data?["by_endpoint"]?["GET /v1/usage"]?.intValue == 1)
        Thread.sleep(forTimeInterval: 0.8)
        let third = try a.call("GET", "/v1/usage", key: tenant.key)
        #expect(third.data?["requests"]?["used"]?.intValue == 2)
    }

    @Test func summaryShape() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let response = try a.call("GET", "/v1/usage", key: tenant.key)
        #expect(response.status == 200)
        #expect(response.header("RateLimit-Limit") == "60")
        let data = try #require(response.data)
        let bounds = UTCDate.monthBounds(Date())
        #expect(data["period"]?["start"]?.stringValue == UTCDate.format(bounds.start))
        #expect(data["period"]?["end"]?.stringValue == UTCDate.format(bounds.end))
        #expect(data["requests"]?["quota"]?.intValue == 100_000)
        #expect(data["requests"]?["remaining"]?.intValue == 100_000)
        #expect(data["requests"]?["percent"]?.numberValue?.text == "0.00")
        #expect(data["memories"]?["stored"]?.intValue == 0)
        #expect(data["memories"]?["quota"]?.intValue == 50_000)
        #expect(data["memories"]?["percent"]?.numberValue?.text == "0.00")
        #expect(data["rate_limited"]?.intValue == 0)
        #expect(data["by_key"] == .array([]))
        #expect(data["alerts"] == .array([]))
        // percent is written with two decimals in the raw body.
        #expect(response.text.contains("\"percent\":0.00"))
    }

    @Test func byEndpointUsesRouteTemplatesAndHeadCountsAsGet() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let created = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        #expect(try a.call("GET", "/v1/account/api-keys/\(created.id)", key: tenant.key).status == 200)
        #expect(try b.call("GET", "/v1/account/api-keys/key_unknown", key: tenant.key).status == 404)
        #expect(try a.call("HEAD", "/v1/account", key: tenant.key).status == 200)
        #expect(try b.call("GET", "/v1/account", key: tenant.key).status == 200)
        // Unknown routes are not counted (no key is needed for a 404 route).
        #expect(try a.call("GET", "/v1/nothing-here", key: tenant.key).status == 404)
        // (The polls count too: wait on the endpoints this test made.)
        let data = try pollUsage(tenant.key) {
            $0["by_endpoint"]?["GET /v1/account"]?.intValue == 2
                && $0["by_endpoint"]?["GET /v1/account/api-keys/{id}"]?.intValue == 2
        }
        let endpoints = data?["by_endpoint"]
        #expect(endpoints?["POST /v1/account/api-keys"]?.intValue == 1)
        #expect(endpoints?["GET /v1/account/api-keys/{id}"]?.intValue == 2)
        #expect(endpoints?["GET /v1/account"]?.intValue == 2)
        #expect(endpoints?["HEAD /v1/account"] == nil)
    }

    @Test func byKeyListsEachKeyWithItsName() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let reader = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        for index in 0..<3 {
            #expect(try UsageGateways.client(index).call("GET", "/v1/account", key: reader.key).status == 200)
        }
        // A scope refusal is counted too (and is an error).
        #expect(try a.call("GET", "/v1/account/api-keys", key: reader.key).errorCode == "insufficient_scope")
        // Look with the reader itself, so the polls count on it (after their responses).
        var data: JSONValue?
        _ = try eventually(timeout: .seconds(3)) {
            data = try a.call("GET", "/v1/usage", key: reader.key).data
            // Both: the refusal may reach a later flush than the three reads.
            return data?["by_endpoint"]?["GET /v1/account"]?.intValue == 3
                && data?["by_endpoint"]?["GET /v1/account/api-keys"]?.intValue == 1
        }
        let byKey = try #require(data?["by_key"]?.arrayValue)
        #expect(byKey.count == 2)
        let readerRow = try #require(byKey.first { $0["key_id"]?.stringValue == reader.id })
        #expect(readerRow["name"]?.stringValue == "test key")
        #expect(readerRow["key_prefix"]?.stringValue == String(reader.key.prefix(12)))
        #expect((readerRow["requests"]?.intValue ?? 0) >= 4)
        let adminRow = try #require(byKey.first { $0["key_id"]?.stringValue != reader.id })
        #expect(adminRow["requests"]?.intValue == 1)
        #expect(adminRow["key_prefix"]?.stringValue == String(tenant.key.prefix(12)))
        #expect(adminRow["name"]?.stringValue == "default admin key")
        // Most requests first.
        #expect(byKey[0]["key_id"]?.stringValue == reader.id)
    }

    @Test func clientErrorsCountAsRequests() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let reader = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        #expect(try a.call("GET", "/v1/account", key: reader.key).status == 200)
        #expect(try a.call("GET", "/v1/usage?environment=prod", key: reader.key).status == 400)
        #expect(try a.call("GET", "/v1/account/api-keys", key: reader.key).status == 403)
        let data = try pollUsage(tenant.key) {
            $0["by_key"]?.arrayValue?.first { $0["key_id"]?.stringValue == reader.id }?["requests"]?.intValue == 3
        }
        #expect(data?["by_endpoint"]?["GET /v1/account/api-keys"]?.intValue == 1)
    }

    @Test func testTrafficIsShownApartAndNeverAgainstTheLiveQuota() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let testKey = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"], environment: "test")
        for index in 0..<4 {
            #expect(try UsageGateways.client(index).call("GET", "/v1/account", key: testKey.key).status == 200)
        }
        // The test key sees test usage by default.
        let testView = try pollUsage(testKey.key) { $0["by_endpoint"]?["GET /v1/account"]?.intValue == 4 }
        #expect(testView?["environment"]?.stringValue == "test")
        #expect(testView?["requests"]?["quota"]?.intValue == 100_000)
        #expect(testView?["alerts"] == .array([]))
        // The live key sees only the live key's creation request...
        let live = try a.call("GET", "/v1/usage", key: tenant.key).data
        #expect(live?["requests"]?["used"]?.intValue == 1)
        #expect(live?["by_endpoint"]?["GET /v1/account"] == nil)
        // ...unless it asks for test.
        let asked = try a.call("GET", "/v1/usage?environment=test", key: tenant.key).data
        #expect((asked?["by_endpoint"]?["GET /v1/account"]?.intValue ?? 0) == 4)
        // But the test key may not look at live (contract v1.1: test keys see test data only).
        let liveFromTest = try a.call("GET", "/v1/usage?environment=live", key: testKey.key)
        #expect(liveFromTest.status == 403)
        #expect(liveFromTest.errorCode == "insufficient_scope")
    }

    @Test(arguments: ["prod", "LIVE", "", "test,live"])
    func invalidEnvironmentIs400(value: String) throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        for path in ["/v1/usage", "/v1/usage/history", "/v1/usage/projection"] {
            let response = try a.call("GET", "\(path)?environment=\(value)", key: tenant.key)
            #expect(response.status == 400)
            #expect(response.errorCode == "invalid_request")
        }
    }

    @Test func usageNeedsTheReadScope() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let writer = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["write"])
        for path in ["/v1/usage", "/v1/usage/history", "/v1/usage/projection"] {
            let response = try a.call("GET", path, key: writer.key)
            #expect(response.status == 403)
            #expect(response.errorCode == "insufficient_scope")
            #expect(response.header("RateLimit-Limit") == "60")
        }
        #expect(try a.call("GET", "/v1/usage").status == 401)
    }

    @Test func tenantsDoNotSeeEachOthersUsage() throws {
        let one = try UsageGateways.first.createTenant(plan: "starter")
        let other = try UsageGateways.first.createTenant(plan: "starter")
        for _ in 0..<3 { _ = try a.call("GET", "/v1/account", key: one.key) }
        _ = try pollUsage(one.key) { $0["by_endpoint"]?["GET /v1/account"]?.intValue == 3 }
        let data = try b.call("GET", "/v1/usage", key: other.key).data
        #expect(data?["requests"]?["used"]?.intValue == 0)
        #expect(data?["by_key"] == .array([]))
    }

    @Test func rateLimitedRequestsAreCountedApart() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        var refused = 0
        for index in 0..<13 {
            let response = try UsageGateways.client(index).call("GET", "/v1/account", key: tenant.key)
            if response.status == 429 { refused += 1 }
        }
        #expect(refused == 3)
        // Raise the limit so we may look.
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 1000]]).status == 200)
        Thread.sleep(forTimeInterval: 0.5)  // the old bucket drains under the new limit in 60 ms
        let data = try pollUsage(tenant.key) { $0["rate_limited"]?.intValue == 3 }
        #expect(data?["rate_limited"]?.intValue == 3)
        #expect(data?["by_endpoint"]?["GET /v1/account"]?.intValue == 10)
    }

    @Test func percentMayExceedAHundredWithTwoDecimals() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["monthly_request_quota": 3]]).status == 200)
        for _ in 0..<4 { #expect(try a.call("GET", "/v1/account", key: tenant.key).status == 200) }
        let data = try pollUsage(tenant.key) { $0["by_endpoint"]?["GET /v1/account"]?.intValue == 4 }
        #expect(data?["requests"]?["quota"]?.intValue == 3)
        #expect(data?["requests"]?["remaining"]?.intValue == 0)
        let used = data?["requests"]?["used"]?.intValue ?? 0
        #expect(data?["requests"]?["percent"]?.numberValue?.text == UsageMath.percent(Int64(used), of: 3).text)
        #expect((data?["requests"]?["percent"]?.doubleValue ?? 0) > 100)
        // Alerts fire at 80% and 100% once (live only), within a few seconds.
        let withAlerts = try pollUsage(tenant.key, timeout: .seconds(6)) { $0["alerts"]?.arrayValue?.count == 2 }
        let alerts = try #require(withAlerts?["alerts"]?.arrayValue)
        #expect(Set(alerts.compactMap { $0["threshold_percent"]?.intValue }) == [80, 100])
        #expect(alerts.allSatisfy { $0["metric"]?.stringValue == "requests" })
        #expect(alerts.allSatisfy { UTCDate.parseTimestamp($0["reached_at"]?.stringValue ?? "") != nil })
    }
}
