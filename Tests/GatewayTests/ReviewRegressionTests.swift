import Foundation
import Testing
@testable import Gateway

/// Bugs found by the black-box review, each with the test that would have caught it.
@Suite struct ReviewRegressionTests {
    let gateway = TestGateway.shared

    /// jsonb writes `1e300` out as 301 digits: the 16 KiB metadata limit counts that.
    @Test func metadataNumbersAreSizedAsStored() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let members = (0..<64).map { "\"k\($0)\":1e300" }.joined(separator: ",")
        let body = Array("{\"text\":\"x\",\"metadata\":{\(members)}}".utf8)
        let response = try client.request("POST", "/v1/memories",
                                          headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                                          body: body)
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == "metadata")
        let huge = try client.request("POST", "/v1/memories",
                                      headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                                      body: Array(#"{"text":"x","metadata":{"a":1e1000000}}"#.utf8))
        #expect(huge.status == 400)
        #expect(huge.json?["error"]?["details"]?[0]?["field"]?.stringValue == "metadata")
        let small = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "x", "metadata": ["a": 1.5e3]])
        #expect(small.status == 201)
    }

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

    /// PostgreSQL text cannot hold U+0000: every string field says so, with details.
    @Test(arguments: [
        ("/v1/query", #"{"context":"python\u0000java"}"#, "context"),
        ("/v1/query/extract", #"{"content":"hello\u0000world"}"#, "content"),
        ("/v1/account/api-keys", #"{"name":"a\u0000","scopes":["read"]}"#, "name"),
    ])
    func nulCharactersAreFieldErrors(path: String, body: String, field: String) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().request(
            "POST", path, headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == field)
    }

    /// RFC 3339 allows offsets PostgreSQL does not (beyond ±15:59); far-future `as_of` must not
    /// overflow the recency arithmetic.
    @Test func timestampsAreConvertedToUTCAndFarFutureWorks() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "python rocks"]).status == 201)
        let list = try client.call("GET", "/v1/memories?updated_since=2000-01-01T00:00:00-23:59", key: tenant.key)
        #expect(list.status == 200)
        #expect(list.data?["memories"]?.arrayValue?.count == 1)
        let future = try client.call("POST", "/v1/query", key: tenant.key,
                                     json: ["context": "python", "as_of": "9999-12-31T23:59:59Z", "temporal_boost": 0.5])
        #expect(future.status == 200)
        #expect(future.data?["memories"]?.arrayValue?.count == 1)
        #expect(UTCDate.canonicalTimestamp("2026-11-25T14:00:00.1234567-23:59") == "2026-11-26T13:59:00.123456Z")
        #expect(UTCDate.canonicalTimestamp("0001-01-01T00:00:00+01:00") == nil)
    }

    /// `count`, `batch` and `export` are routes, never memory ids: other methods are 405 with
    /// the route's own Allow.
    @Test func reservedMemoryRoutesAre405() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let delete = try client.call("DELETE", "/v1/memories/count", key: tenant.key)
        #expect(delete.status == 405)
        #expect(delete.header("Allow") == "GET, HEAD")
        let get = try client.call("GET", "/v1/memories/batch", key: tenant.key)
        #expect(get.status == 405)
        #expect(get.header("Allow") == "POST")
        #expect(try client.call("POST", "/v1/memories/export", key: tenant.key, json: [:]).header("Allow") == "GET, HEAD")
    }
}

/// Smaller contract details found in review.
@Suite struct ReviewDetailsTests {
    let gateway = TestGateway.shared

    @Test func queryAnswersCompactJSON() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        _ = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "python rocks", "metadata": ["a": 1]])
        let response = try client.call("POST", "/v1/query", key: tenant.key, json: ["context": "python"])
        #expect(response.status == 200)
        #expect(!response.text.contains("\" : "))
        #expect(!response.text.contains(", \""))
        #expect(response.data?["memories"]?[0]?["metadata"]?["a"]?.intValue == 1)
    }

    @Test func bearerWithoutCredentialsIsAMissingKey() throws {
        let response = try gateway.client().request("GET", "/v1/account", headers: [("Authorization", "Bearer ")])
        #expect(response.status == 401)
        #expect(response.errorCode == "missing_api_key")
    }
}

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

/// A new memory's created_at, sent back as as_of, finds its first version: created_at and
/// updated_at are one instant (they were two calls of the clock, sometimes a millisecond apart).
@Suite struct InsertTimesTests {
    @Test func createdAndUpdatedAtAreOneInstantOnInsert() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant()
        let items: [JSONValue] = (0..<1000).map { .object(JSONObject([("text", .string("fact \($0)"))])) }
        let batch = try gateway.client().call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(items)])
        #expect(batch.status == 201)
        let rows = try gateway.running.services.pool.query(
            "SELECT count(*) FROM memories WHERE org_id = $1 AND created_at <> updated_at", [.text(tenant.orgID)])
        #expect(rows.first?.int(0) == 0)
        let created = try gateway.client().call("POST", "/v1/memories", key: tenant.key, json: ["text": "v1", "memory_id": "p"])
        let createdAt = try #require(created.data?["created_at"]?.stringValue)
        #expect(created.data?["updated_at"]?.stringValue == createdAt)
        _ = try gateway.client().call("PUT", "/v1/memories/p", key: tenant.key, json: ["text": "v2"])
        let then = try gateway.client().call("GET", "/v1/memories/p?as_of=\(createdAt)", key: tenant.key)
        #expect(then.data?["text"]?.stringValue == "v1")
    }
}

/// Found by the second review: concurrency on the import path, spaces deleted while written to,
/// and NUL characters in nested JSON.
@Suite struct SecondReviewRegressionTests {
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

    @Test(arguments: [
        ("/v1/query", #"{"context":"x","filters":{"a\u0000":1}}"#, "filters"),
        ("/v1/query", #"{"context":"x","filters":{"a":"\u0000"}}"#, "filters"),
        ("/v1/query/extract", #"{"content":"hello","metadata":{"k\u0000":"v"}}"#, "metadata"),
        ("/v1/memories", #"{"text":"x","metadata":{"k":["\u0000"]}}"#, "metadata"),
    ])
    func nulInNestedJSONIsAFieldError(path: String, body: String, field: String) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().request(
            "POST", path, headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == field)
    }

    @Test func historyKeyIDIsValidated() throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().call("GET", "/v1/usage/history?key_id=%00", key: tenant.key)
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == "key_id")
    }
}

/// Found by the third review.
@Suite struct ThirdReviewRegressionTests {
    let gateway = TestGateway.shared

    @Test(arguments: [
        ("text/csv", true), ("application/json, text/csv;q=0.5", false), ("text/csv;q=0", false),
        ("text/csv;q=0.9, application/json;q=0.5", true), ("*/*", false), ("text/csv, application/json", true),
    ])
    func acceptQualitiesChooseCSV(accept: String, isCSV: Bool) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().call("GET", "/v1/usage/history", key: tenant.key, headers: [("Accept", accept)])
        #expect(response.status == 200)
        #expect((response.header("Content-Type")?.hasPrefix("text/csv") ?? false) == isCSV)
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

    @Test func aRemembered429NeverOutlastsTheBucket() throws {
        let tenant = try gateway.createTenant()
        let key = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("rate_limit_per_minute", 60)])
        let client = gateway.client()
        var refused: TestResponse?
        for _ in 0..<70 {
            let response = try client.call("GET", "/v1/account", key: key.key)
            if response.status == 429 { refused = response; break }
        }
        let first = try #require(refused)
        #expect(first.header("Retry-After") == "1")
        // One request per second refills: within 1.1 s one is admitted again, never refused locally.
        Thread.sleep(forTimeInterval: 1.05)
        #expect(try client.call("GET", "/v1/account", key: key.key).status == 200)
    }
}
