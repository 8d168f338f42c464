import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// `GET /v1/admin/billing` end to end: access, validation, numbers, JSON and CSV agreeing.
@Suite struct BillingEndToEndTests {
    let client = UsageGateways.first.client()
    var pool: PostgresPool { UsageGateways.first.running.services.pool }
    let period: String = {
        let today = UTCDate.civil(Date())
        return String(UTCDate.format(today).prefix(7))
    }()

    func seed(_ orgID: String, requests: Int64, rateLimited: Int64 = 0, env: String = "live") throws {
        let keyID = try #require(pool.query("SELECT key_id FROM api_keys WHERE org_id = $1", [.text(orgID)]).first?.string(0))
        _ = try pool.query(
            """
            INSERT INTO usage_counters (org_id, env, day, key_id, endpoint, requests, rate_limited)
            VALUES ($1, $3, $4::date, $2, 'POST /v1/query', $5, $6)
            ON CONFLICT (org_id, env, day, key_id, endpoint) DO UPDATE
               SET requests = usage_counters.requests + excluded.requests,
                   rate_limited = usage_counters.rate_limited + excluded.rate_limited
            """,
            [.text(orgID), .text(keyID), .text(env), .text(UTCDate.day(Date())), .int(requests), .int(rateLimited)])
    }

    func report(_ query: String, headers: [(String, String)] = []) throws -> TestResponse {
        try client.call("GET", "/v1/admin/billing?\(query)", key: TestGateway.operatorToken, headers: headers)
    }

    func row(_ response: TestResponse, _ orgID: String) -> JSONValue? {
        response.data?["tenants"]?.arrayValue?.first { $0["tenant_id"]?.stringValue == orgID }
    }

    @Test func pricesStarterOverageHalfUp() throws {
        let ten = try UsageGateways.first.createTenant(plan: "starter", name: "ten over")
        try seed(ten.orgID, requests: 100_010, rateLimited: 3)
        try seed(ten.orgID, requests: 555, env: "test")  // never billed
        let one = try UsageGateways.first.createTenant(plan: "starter", name: "one over")
        try seed(one.orgID, requests: 100_001)
        let at = try UsageGateways.first.createTenant(plan: "starter", name: "at quota")
        try seed(at.orgID, requests: 100_000)
        let response = try report("period=\(period)")
        #expect(response.status == 200)
        #expect(response.data?["period"]?.stringValue == period)
        let tenRow = try #require(row(response, ten.orgID))
        #expect(tenRow == .object(JSONObject([
            ("tenant_id", .string(ten.orgID)), ("name", "ten over"), ("plan", "starter"), ("requests", 100_010),
            ("rate_limited", 3), ("quota", 100_000), ("overage_requests", 10), ("memories_stored", 0),
            ("base", "19.00"), ("overage", "0.01"), ("total", "19.01"), ("currency", "USD"),
        ])))
        #expect(row(response, one.orgID)?["overage"]?.stringValue == "0.00")
        #expect(row(response, one.orgID)?["overage_requests"]?.intValue == 1)
        #expect(row(response, at.orgID)?["overage_requests"]?.intValue == 0)
        #expect(row(response, at.orgID)?["total"]?.stringValue == "19.00")
    }

    @Test func pricesProfessionalAndFree() throws {
        let pro = try UsageGateways.first.createTenant(plan: "professional", name: "pro")
        try seed(pro.orgID, requests: 1_001_017)
        let free = try UsageGateways.first.createTenant(plan: "free", name: "free")
        try seed(free.orgID, requests: 12_000)
        let response = try report("period=\(period)")
        let proRow = row(response, pro.orgID)
        #expect(proRow?["overage_requests"]?.intValue == 1017)
        // 1017 × 30 / 1000 = 30.51 cents → 31.
        #expect(proRow?["overage"]?.stringValue == "0.31")
        #expect(proRow?["total"]?.stringValue == "99.31")
        let freeRow = row(response, free.orgID)
        #expect(freeRow?["quota"]?.intValue == 10_000)
        #expect(freeRow?["overage_requests"]?.intValue == 0)
        #expect(freeRow?["total"]?.stringValue == "0.00")
    }

    @Test func quotaOverrideChangesOverageNotPrices() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter", name: "negotiated")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["monthly_request_quota": 200_000]]).status == 200)
        try seed(tenant.orgID, requests: 201_000)
        let tenantRow = row(try report("period=\(period)"), tenant.orgID)
        #expect(tenantRow?["quota"]?.intValue == 200_000)
        #expect(tenantRow?["overage_requests"]?.intValue == 1000)
        #expect(tenantRow?["overage"]?.stringValue == "0.50")
        #expect(tenantRow?["base"]?.stringValue == "19.00")
    }

    @Test func csvAgreesWithJSONAndQuotesNames() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter", name: "Acme, \"the\" company")
        try seed(tenant.orgID, requests: 100_010)
        let json = try report("period=\(period)")
        for csv in [try report("period=\(period)&format=csv"), try report("period=\(period)", headers: [("Accept", "text/csv")])] {
            #expect(csv.status == 200)
            #expect(csv.header("Content-Type") == "text/csv; charset=utf-8")
            #expect(csv.text.contains("\"Acme, \"\"the\"\" company\""))
            let rows = parseCSV(csv.text)
            #expect(rows.first == Billing.csvHeader)
            // Other suites create tenants in parallel: compare the rows both forms have.
            let byID = Dictionary(rows.dropFirst().map { ($0[0], $0) }, uniquingKeysWith: { first, _ in first })
            let ours = try #require(byID[tenant.orgID])
            #expect(ours == csvRow(from: try #require(row(json, tenant.orgID))))
        }
    }

    @Test func periodIsRequiredAndValidated() throws {
        for query in ["", "period=2026", "period=2026-13", "period=2026-1", "period=2026-01-01", "period=abc",
                      "period=\(period)&format=pdf"] {
            let response = try report(query)
            #expect(response.status == 400, "\(query)")
            #expect(response.errorCode == "invalid_request")
        }
    }

    @Test func pastPeriodsOmitTenantsCreatedLater() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let response = try report("period=2001-01")
        #expect(response.status == 200)
        #expect(response.data?["period"]?.stringValue == "2001-01")
        #expect(row(response, tenant.orgID) == nil)
    }

    @Test func onlyTheOperatorMayPullBilling() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "starter")
        let asTenant = try client.call("GET", "/v1/admin/billing?period=\(period)", key: tenant.key)
        #expect(asTenant.status == 401)
        #expect(asTenant.errorCode == "invalid_api_key")
        let none = try client.call("GET", "/v1/admin/billing?period=\(period)")
        #expect(none.status == 401)
        #expect(none.errorCode == "missing_api_key")
    }

    @Test func cliFormsAreBareAndAgree() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "professional", name: "cli")
        try seed(tenant.orgID, requests: 42)
        let report = try Billing.build(pool: pool, period: period)
        let json = Billing.json(report)
        #expect(json["period"]?.stringValue == period)
        #expect(json["success"] == nil)
        let tenants = try #require(json["tenants"]?.arrayValue)
        let rows = parseCSV(Billing.csv(report))
        #expect(rows.count == tenants.count + 1)
        for (index, tenantJSON) in tenants.enumerated() {
            #expect(csvRow(from: tenantJSON) == rows[index + 1])
        }
        #expect(throws: APIError.self) { try Billing.build(pool: pool, period: "2026-00") }
    }
}

/// A period is priced by the plan the tenant had when it closed, not by today's plan.
@Suite struct BillingPlanHistoryTests {
    @Test func aClosedPeriodKeepsItsPlan() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant(plan: "starter")
        let pool = gateway.running.services.pool
        // Last month: the tenant existed, on starter, and used 100,020 requests (20 over).
        let lastMonth = UTCDate.monthBounds(Date(timeIntervalSinceNow: -Double(UTCDate.civil(Date()).day + 2) * 86_400))
        let day = UTCDate.format(lastMonth.start)
        _ = try pool.query("UPDATE tenants SET created_at = $2::date WHERE org_id = $1", [.text(tenant.orgID), .text(day)])
        _ = try pool.query("UPDATE tenant_plans SET since = $2::date WHERE org_id = $1", [.text(tenant.orgID), .text(day)])
        _ = try pool.query(
            "INSERT INTO usage_counters (org_id, env, day, key_id, endpoint, requests) VALUES ($1, 'live', $2::date, 'k', 'GET /v1/account', 100020)",
            [.text(tenant.orgID), .text(day)])
        // This month the operator moves it to professional.
        #expect(try gateway.client().call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                          json: ["plan": "professional"]).status == 200)
        let period = String(day.prefix(7))
        let report = try gateway.client().call("GET", "/v1/admin/billing?period=\(period)", key: TestGateway.operatorToken)
        let row = try #require(report.data?["tenants"]?.arrayValue?.first { $0["tenant_id"]?.stringValue == tenant.orgID })
        #expect(row["plan"]?.stringValue == "starter")
        #expect(row["base"]?.stringValue == "19.00")
        #expect(row["overage_requests"]?.intValue == 20)
        #expect(row["overage"]?.stringValue == "0.01")
        let current = try gateway.client().call("GET", "/v1/admin/billing?period=\(UTCDate.format(UTCDate.monthBounds(Date()).start).prefix(7))",
                                                key: TestGateway.operatorToken)
        let now = try #require(current.data?["tenants"]?.arrayValue?.first { $0["tenant_id"]?.stringValue == tenant.orgID })
        #expect(now["plan"]?.stringValue == "professional")
    }
}
