import Foundation
import PostgresStore
import Synchronization
import Testing
@testable import Gateway

/// `GET /v1/usage/history` and `/v1/usage/projection` end to end, and day bucketing at a month's
/// end with a controlled clock.
@Suite struct UsageHistoryTests {
    let a = UsageGateways.first.client()
    var pool: PostgresPool { UsageGateways.first.running.services.pool }

    func adminKeyID(_ orgID: String) throws -> String {
        try #require(pool.query("SELECT key_id FROM api_keys WHERE org_id = $1", [.text(orgID)]).first?.string(0))
    }

    func principal(orgID: String, keyID: String, environment: String = "live") -> Principal {
        Principal(orgID: orgID, keyID: keyID, keyPrefix: "mem_live_xxx", environment: environment == "live" ? .live : .test,
                  scopes: [], plan: "starter", monthlyQuota: 100_000, maxMemories: 50_000, hardQuota: false,
                  rateLimit: RateLimitState(limit: 60, remaining: 59, resetSeconds: 1))
    }

    @Test func defaultIsThirtyRowsEndingTodayWithZeros() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let response = try a.call("GET", "/v1/usage/history", key: tenant.key)
        #expect(response.status == 200)
        let days = try #require(response.data?["days"]?.arrayValue)
        #expect(days.count == 30)
        #expect(days.last?["date"]?.stringValue == UTCDate.day(Date()))
        let first = UTCDate.civil(daysSinceEpoch: UTCDate.daysSinceEpoch(UTCDate.civil(Date())) - 29)
        #expect(days.first?["date"]?.stringValue == UTCDate.format(first))
        #expect(days.allSatisfy { $0["requests"]?.intValue == 0 && $0["rate_limited"]?.intValue == 0 && $0["errors"]?.intValue == 0 })
        // Dates are consecutive.
        let dates = days.compactMap { $0["date"]?.stringValue.flatMap(UTCDate.parseDay) }.map(UTCDate.daysSinceEpoch)
        #expect(zip(dates, dates.dropFirst()).allSatisfy { $1 == $0 + 1 })
    }

    @Test func rangeLimits() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let full = try a.call("GET", "/v1/usage/history?from=2023-01-01&to=2024-01-01", key: tenant.key)
        #expect(full.status == 200)
        #expect(full.data?["days"]?.arrayValue?.count == 366)
        for query in ["from=2022-12-31&to=2024-01-01", "from=2024-02-02&to=2024-02-01", "from=2024-02-30",
                      "to=tomorrow", "from=2024-1-01", "format=xml"] {
            let response = try a.call("GET", "/v1/usage/history?\(query)", key: tenant.key)
            #expect(response.status == 400, "\(query)")
            #expect(response.errorCode == "invalid_request")
        }
        let one = try a.call("GET", "/v1/usage/history?from=2024-02-29&to=2024-02-29", key: tenant.key)
        #expect(one.data?["days"] == [["date": "2024-02-29", "requests": 0, "rate_limited": 0, "errors": 0]])
    }

    @Test func unknownKeyIs404AndOtherTenantsKeysAreUnknown() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let other = try UsageGateways.first.createTenant(plan: "starter")
        #expect(try a.call("GET", "/v1/usage/history?key_id=key_nope", key: tenant.key).status == 404)
        let othersKey = try adminKeyID(other.orgID)
        #expect(try a.call("GET", "/v1/usage/history?key_id=\(othersKey)", key: tenant.key).status == 404)
        #expect(try a.call("GET", "/v1/usage/history?key_id=\(try adminKeyID(tenant.orgID))", key: tenant.key).status == 200)
    }

    @Test func countsErrorsAndRateLimitedPerDayAndPerKey() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        let reader = try UsageGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        #expect(try a.call("GET", "/v1/account", key: reader.key).status == 200)
        #expect(try a.call("GET", "/v1/account/api-keys", key: reader.key).status == 403)
        #expect(try a.call("GET", "/v1/usage/history?from=x", key: reader.key).status == 400)
        let today = UTCDate.day(Date())
        var row: JSONValue?
        _ = try eventually(timeout: .seconds(3)) {
            let data = try a.call("GET", "/v1/usage/history?key_id=\(reader.id)", key: tenant.key).data
            row = data?["days"]?.arrayValue?.last
            return row?["requests"]?.intValue == 3
        }
        #expect(row?["date"]?.stringValue == today)
        #expect(row?["requests"]?.intValue == 3)
        #expect(row?["errors"]?.intValue == 2)
        #expect(row?["rate_limited"]?.intValue == 0)
        // The whole tenant: also the admin key's key creation (and these history calls).
        let all = try a.call("GET", "/v1/usage/history", key: tenant.key).data?["days"]?.arrayValue?.last
        #expect((all?["requests"]?.intValue ?? 0) >= 4)
    }

    @Test func csvMatchesJSON() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let keyID = try adminKeyID(tenant.orgID)
        _ = try pool.query(
            """
            INSERT INTO usage_counters (org_id, env, day, key_id, endpoint, requests, rate_limited, errors)
            VALUES ($1, 'live', '2025-03-02', $2, 'GET /v1/account', 7, 2, 1),
                   ($1, 'live', '2025-03-02', $2, 'POST /v1/query', 5, 0, 0),
                   ($1, 'live', '2025-03-04', $2, 'GET /v1/account', 1, 0, 1),
                   ($1, 'test', '2025-03-04', $2, 'GET /v1/account', 100, 0, 0)
            """, [.text(tenant.orgID), .text(keyID)])
        let query = "from=2025-03-01&to=2025-03-05"
        let json = try a.call("GET", "/v1/usage/history?\(query)", key: tenant.key)
        let days = try #require(json.data?["days"]?.arrayValue)
        #expect(days.map { $0["requests"]?.intValue } == [0, 12, 0, 1, 0])
        #expect(days.map { $0["rate_limited"]?.intValue } == [0, 2, 0, 0, 0])
        #expect(days.map { $0["errors"]?.intValue } == [0, 1, 0, 1, 0])
        for response in [try a.call("GET", "/v1/usage/history?\(query)&format=csv", key: tenant.key),
                         try a.call("GET", "/v1/usage/history?\(query)", key: tenant.key, headers: [("Accept", "text/csv")])] {
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "text/csv; charset=utf-8")
            #expect(response.header("RateLimit-Limit") == "60")
            let rows = parseCSV(response.text)
            #expect(rows.first == ["date", "requests", "rate_limited", "errors"])
            #expect(Array(rows.dropFirst()) == days.map { day in
                ["date", "requests", "rate_limited", "errors"].map { day[$0]?.stringValue ?? day[$0]?.numberValue?.text ?? "" }
            })
            #expect(response.text.hasSuffix("\r\n"))
        }
        // format=json wins over Accept.
        let explicit = try a.call("GET", "/v1/usage/history?\(query)&format=json", key: tenant.key,
                                  headers: [("Accept", "text/csv")])
        #expect(explicit.data?["days"]?.arrayValue?.count == 5)
        // Test data shows with environment=test only.
        let test = try a.call("GET", "/v1/usage/history?\(query)&environment=test", key: tenant.key)
        #expect(test.data?["days"]?.arrayValue?.map { $0["requests"]?.intValue } == [0, 0, 0, 100, 0])
    }

    @Test func aRequestAtTheLastMomentOfAMonthCountsInThatMonth() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let keyID = try adminKeyID(tenant.orgID)
        // 2025-01-31T23:59:59.9Z, then 2025-02-01T00:00:00.0Z.
        let times = Mutex(Date(timeIntervalSince1970: 1_738_367_999.9))
        let recorder = UsageRecorder(pool: pool, metrics: Metrics(), interval: .seconds(60),
                                     clock: { times.withLock { $0 } })
        let caller = principal(orgID: tenant.orgID, keyID: keyID)
        recorder.recordRequest(principal: caller, endpoint: "GET /v1/account", status: 200)
        recorder.recordRequest(principal: caller, endpoint: "GET /v1/account", status: 404)
        times.withLock { $0 = Date(timeIntervalSince1970: 1_738_368_000.0) }
        recorder.recordRequest(principal: caller, endpoint: "GET /v1/account", status: 200)
        recorder.recordRateLimited(principal: caller, endpoint: "GET /v1/account")
        recorder.flush()
        let days = try #require(
            a.call("GET", "/v1/usage/history?from=2025-01-30&to=2025-02-02", key: tenant.key).data?["days"]?.arrayValue)
        #expect(days.map { $0["date"]?.stringValue } == ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"])
        #expect(days.map { $0["requests"]?.intValue } == [0, 2, 1, 0])
        #expect(days.map { $0["errors"]?.intValue } == [0, 1, 0, 0])
        #expect(days.map { $0["rate_limited"]?.intValue } == [0, 0, 1, 0])
        // A failed flush keeps its counts; a second flush adds, never doubles.
        recorder.flush()
        let again = try a.call("GET", "/v1/usage/history?from=2025-01-31&to=2025-01-31", key: tenant.key)
        #expect(again.data?["days"]?[0]?["requests"]?.intValue == 2)
    }

    @Test func projectionShape() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional")
        for _ in 0..<3 { #expect(try a.call("GET", "/v1/account", key: tenant.key).status == 200) }
        var data: JSONValue?
        _ = try eventually(timeout: .seconds(3)) {
            data = try a.call("GET", "/v1/usage/projection", key: tenant.key).data
            return (data?["requests_to_date"]?.intValue ?? 0) >= 3
        }
        let bounds = UTCDate.monthBounds(Date())
        #expect(data?["period"]?["start"]?.stringValue == UTCDate.format(bounds.start))
        #expect(data?["period"]?["end"]?.stringValue == UTCDate.format(bounds.end))
        let toDate = Int64(data?["requests_to_date"]?.intValue ?? 0)
        let projected = Int64(data?["projected_requests"]?.intValue ?? -1)
        #expect(projected >= toDate)
        #expect(data?["projected_percent"]?.numberValue?.text == UsageMath.percent(projected, of: 1_000_000).text)
        #expect(data?["projected_cost"]?["base"]?.stringValue == "99.00")
        #expect(data?["projected_cost"]?["overage"]?.stringValue == "0.00")
        #expect(data?["projected_cost"]?["total"]?.stringValue == "99.00")
        #expect(data?["projected_cost"]?["currency"]?.stringValue == "USD")
        #expect(data?["method"]?.stringValue?.isEmpty == false)
    }

    @Test func projectionPricesOverage() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let keyID = try adminKeyID(tenant.orgID)
        // 100,000 live requests already today: the projection passes the quota.
        _ = try pool.query(
            """
            INSERT INTO usage_counters (org_id, env, day, key_id, endpoint, requests)
            VALUES ($1, 'live', $3::date, $2, 'GET /v1/account', 100000)
            """, [.text(tenant.orgID), .text(keyID), .text(UTCDate.day(Date()))])
        let data = try a.call("GET", "/v1/usage/projection", key: tenant.key).data
        let projected = Int64(data?["projected_requests"]?.intValue ?? 0)
        #expect(projected >= 100_000)
        let expected = Charge.of(requests: projected, price: BillingPricingTests.starter)
        #expect(data?["projected_cost"]?["overage"]?.stringValue == expected.overage.decimalString)
        #expect(data?["projected_cost"]?["total"]?.stringValue == expected.total.decimalString)
    }
}
