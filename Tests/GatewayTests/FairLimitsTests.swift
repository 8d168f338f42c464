import Auth
import Foundation
import PostgresStore
import Synchronization
import Testing
@testable import Gateway

/// Fair use between tenants, the limits half: tenant-wide buckets, the key cap, quota refusals
/// remembered locally, the storage quota and the expiry of stored retries.
@Suite struct FairLimitsTests {
    /// Inserts `count` live read keys for `orgID` straight into the database (test setup: the API
    /// would spend the tenant's own rate limit on making them); returns the full keys.
    static func insertKeys(_ pool: PostgresPool, orgID: String, count: Int, environment: KeyEnvironment = .live) throws -> [String] {
        try pool.transaction { connection in
            try (0..<count).map { _ in
                try APIKeys.insert(connection, orgID: orgID, APIKeys.NewKey(
                    name: "bulk", scopes: ["read"], environment: environment)).key
            }
        }
    }

    // MARK: - Tenant-wide buckets

    @Test func hundredKeysOfAFreeTenantAdmitAtMostTenInAMinuteTogether() throws {
        let tenant = try UsageGateways.first.createTenant(plan: "free")
        let keys = try Self.insertKeys(UsageGateways.first.running.services.pool, orgID: tenant.orgID, count: 100)
        let admitted = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
        let start = ContinuousClock.now
        // 8 threads over two instances, each request with another of the 100 keys.
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let client = UsageGateways.client(thread)
            for round in 0..<10 {
                let key = keys[(thread * 10 + round) % keys.count]
                switch try? client.call("GET", "/v1/account", key: key).status {
                case 200?: admitted.add(1, ordering: .relaxed)
                case 429?: refused.add(1, ordering: .relaxed)
                default: break
                }
            }
        }
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        // 10 from idle, plus what refilled (10/60 per second) while the 80 requests ran.
        let allowed = 10 + Int(elapsed * 10 / 60)
        #expect(admitted.load(ordering: .relaxed) >= 10)
        #expect(admitted.load(ordering: .relaxed) <= allowed)
        #expect(admitted.load(ordering: .relaxed) + refused.load(ordering: .relaxed) == 80)
    }

    @Test func headersShowTheTighterOfKeyAndTenantBuckets() throws {
        let gateway = UsageGateways.first
        let client = gateway.client()
        let tenant = try gateway.createTenant(plan: "professional")
        let slow = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("rate_limit_per_minute", 3)])
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 6]]).status == 200)
        // Both key creation and the PATCH ran under the plan's 300 in the tenant's bucket; start
        // from a full bucket at the new limit.
        _ = try gateway.running.services.pool.query("DELETE FROM rate_limits WHERE org_id = $1", [.text(tenant.orgID)])

        var response = try client.call("GET", "/v1/account", key: slow.key)
        #expect(response.status == 200)
        #expect(response.header("RateLimit-Limit") == "3")  // key: 2 left, tenant: 5 left
        #expect(response.header("RateLimit-Remaining") == "2")
        #expect(response.header("RateLimit-Policy") == "\"minute\";q=3;w=60")
        for expected in ["4", "3", "2"] {
            response = try client.call("GET", "/v1/account", key: tenant.key)
            #expect(response.header("RateLimit-Limit") == "6")
            #expect(response.header("RateLimit-Remaining") == expected)
        }
        response = try client.call("GET", "/v1/account", key: slow.key)
        #expect(response.status == 200)
        #expect(response.header("RateLimit-Remaining") == "1")  // a tie: the key's
        #expect(response.header("RateLimit-Limit") == "3")
        response = try client.call("GET", "/v1/account", key: tenant.key)
        #expect(response.status == 200)
        #expect(response.header("RateLimit-Remaining") == "0")
        // The key's bucket would admit, the tenant's refuses: the tenant's facts, its exact wait
        // (one emission of 10 s after a burst of 6 from idle, less the time the burst took).
        let refused = try client.call("GET", "/v1/account", key: slow.key)
        #expect(refused.status == 429)
        #expect(refused.errorCode == "rate_limit_exceeded")
        #expect(refused.header("RateLimit-Limit") == "6")
        #expect(refused.header("RateLimit-Remaining") == "0")
        let wait = try #require(refused.header("Retry-After").flatMap { Int($0) })
        #expect(wait >= 8 && wait <= 10)
        #expect(refused.json?["error"]?["retry_after"]?.intValue == wait)
        #expect(refused.header("RateLimit") == "\"minute\";r=0;t=\(refused.header("RateLimit-Reset") ?? "")")
    }

    @Test func testAndLiveKeysHaveSeparateTenantBuckets() throws {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "free")
        let pool = gateway.running.services.pool
        let testKeys = try Self.insertKeys(pool, orgID: tenant.orgID, count: 2, environment: .test)
        let client = gateway.client()
        for index in 0..<10 {
            #expect(try client.call("GET", "/v1/account", key: testKeys[index % 2]).status == 200)
        }
        #expect(try client.call("GET", "/v1/account", key: testKeys[0]).status == 429)
        #expect(try client.call("GET", "/v1/account", key: tenant.key).header("RateLimit-Remaining") == "9")
    }

    // MARK: - Key cap

    @Test func theThousandAndFirstActiveKeyOfAnEnvironmentIsAConflict() throws {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "professional")
        let client = gateway.client()
        let pool = gateway.running.services.pool
        _ = try Self.insertKeys(pool, orgID: tenant.orgID, count: 999)  // 1,000 with the admin key
        let body: JSONValue = ["name": "one more", "scopes": ["read"]]
        let refused = try client.call("POST", "/v1/account/api-keys", key: tenant.key, json: body)
        #expect(refused.status == 409)
        #expect(refused.errorCode == "conflict")
        // A rotation with a grace keeps both keys for a while: refused; without one it is not.
        let adminKeyID = try #require(try client.call("GET", "/v1/account/api-keys", key: tenant.key)
            .data?["api_keys"]?.arrayValue?.first { $0["name"]?.stringValue == "default admin key" }?["id"]?.stringValue)
        let rotateRefused = try client.call("POST", "/v1/account/api-keys/\(adminKeyID)/rotate", key: tenant.key,
                                            json: ["grace_seconds": 60])
        #expect(rotateRefused.status == 409)
        let rotated = try client.call("POST", "/v1/account/api-keys/\(adminKeyID)/rotate", key: tenant.key,
                                      json: ["grace_seconds": 0])
        #expect(rotated.status == 201)
        let newAdmin = try #require(rotated.data?["key"]?.stringValue)
        // The other environment has its own 1,000.
        var testBody = body
        if case .object(var object) = testBody { object["environment"] = "test"; testBody = .object(object) }
        #expect(try client.call("POST", "/v1/account/api-keys", key: newAdmin, json: testBody).status == 201)
        // Revoking one frees a slot; expired keys do not count either.
        let someKey = try #require(try pool.query(
            "SELECT key_id FROM api_keys WHERE org_id = $1 AND name = 'bulk' LIMIT 1", [.text(tenant.orgID)]).first?.string(0))
        #expect(try client.call("DELETE", "/v1/account/api-keys/\(someKey)", key: newAdmin).status == 200)
        #expect(try client.call("POST", "/v1/account/api-keys", key: newAdmin, json: body).status == 201)
        #expect(try client.call("POST", "/v1/account/api-keys", key: newAdmin, json: body).status == 409)
        _ = try pool.query(
            """
            UPDATE api_keys SET expires_at = clock_timestamp() - interval '1 second'
             WHERE org_id = $1 AND key_id = (SELECT key_id FROM api_keys WHERE org_id = $1 AND name = 'bulk'
                                              AND revoked_at IS NULL LIMIT 1)
            """, [.text(tenant.orgID)])
        #expect(try client.call("POST", "/v1/account/api-keys", key: newAdmin, json: body).status == 201)
    }

    // MARK: - Remembered quota refusals

    @Test func aMonthlyQuotaRefusalIsRememberedWithoutDatabaseRoundTrips() throws {
        let gateway = try TestGateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "free")
        let patch = { (body: JSONValue) throws -> Int in
            try gateway.client().call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                      json: body).status
        }
        #expect(try patch(["limits": ["monthly_request_quota": 3, "rate_limit_per_minute": 10_000]]) == 200)
        let client = gateway.client()
        for _ in 0..<3 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        let first = try client.call("GET", "/v1/account", key: tenant.key)
        #expect(first.errorCode == "quota_exceeded")
        let admission = gateway.running.services.admission
        let before = admission.databaseDecisions.load(ordering: .relaxed)
        for _ in 0..<20 {
            let response = try client.call("GET", "/v1/account", key: tenant.key)
            #expect(response.status == 429)
            #expect(response.errorCode == "quota_exceeded")
            let wait = response.header("Retry-After").flatMap { Int($0) } ?? 0
            #expect(wait > 1 && abs(wait - (first.header("Retry-After").flatMap { Int($0) } ?? 0)) <= 2)
        }
        #expect(admission.databaseDecisions.load(ordering: .relaxed) == before)
        #expect(try client.request("GET", "/metrics").text.contains("gateway_admission_queries_total \(before)\n"))
        // An operator raising the quota ends the remembered refusal on every instance.
        #expect(try patch(["limits": ["monthly_request_quota": 100]]) == 200)
        #expect(try eventually(timeout: .seconds(1)) {
            try client.call("GET", "/v1/account", key: tenant.key).status == 200
        })
    }

    // MARK: - Storage quota

    @Test func storageUsageCountsEveryVersionOfBothEnvironmentsExactly() throws {
        let gateway = UsageGateways.first
        let client = gateway.client()
        let tenant = try gateway.createTenant(plan: "professional")
        let testKey = try gateway.createKey(admin: tenant.key, scopes: ["read", "write"], environment: "test")
        let text = String(repeating: "a", count: 1000)
        var ids: [String] = []
        for _ in 0..<3 {
            let created = try client.call("POST", "/v1/memories", key: tenant.key,
                                          json: ["text": .string(text), "metadata": ["k": "v"]])
            #expect(created.status == 201)
            ids.append(created.data?["id"]?.stringValue ?? "")
        }
        // jsonb prints {"k": "v"}: 10 bytes; "é" is 2 bytes in UTF-8, {} 2 more.
        #expect(try client.call("POST", "/v1/memories", key: testKey.key,
                                json: ["text": .string(String(repeating: "é", count: 10))]).status == 201)
        // A new version keeps the old one: 1010 stay, 510 more.
        #expect(try client.call("PUT", "/v1/memories/\(ids[0])", key: tenant.key,
                                json: ["text": .string(String(repeating: "b", count: 500))]).status == 200)
        // Deletion removes the memory with its history.
        #expect(try client.call("DELETE", "/v1/memories/\(ids[1])", key: tenant.key).status == 200)
        let expected: Int64 = 3 * 1010 + 22 + 510 - 1010

        let storage = { (key: String) throws -> JSONValue? in
            try client.call("GET", "/v1/usage", key: key).data?["storage"]
        }
        #expect(try storage(tenant.key)?["bytes"]?.intValue == Int(expected))
        #expect(try storage(tenant.key)?["quota_bytes"]?.intValue == 100_000 * 1_000_000)
        #expect(try storage(testKey.key)?["bytes"]?.intValue == Int(expected))  // the tenant's, both worlds
        // After the fold the deltas are gone into the tenant's row, and the figure is the same.
        try gateway.running.services.storage.fold()
        let pool = gateway.running.services.pool
        let folded = try pool.query("SELECT bytes FROM storage_usage WHERE org_id = $1", [.text(tenant.orgID)])
        let pending = try pool.query("SELECT count(*) FROM storage_deltas WHERE org_id = $1", [.text(tenant.orgID)])
        #expect(folded.first?.int(0) == expected || pending.first?.int(0) != 0)  // another instance may fold too
        #expect(try storage(tenant.key)?["bytes"]?.intValue == Int(expected))
        // Erasure by filters takes it back to the test memory alone.
        #expect(try client.call("DELETE", "/v1/memories?confirm=true", key: tenant.key).status == 200)
        #expect(try storage(tenant.key)?["bytes"]?.intValue == 22)
        let recount = try pool.query(
            """
            SELECT (SELECT coalesce(sum(gw_stored_bytes(text, metadata)), 0) FROM memories WHERE org_id = $1)
                 + (SELECT coalesce(sum(gw_stored_bytes(text, metadata)), 0) FROM memory_versions WHERE org_id = $1)
            """, [.text(tenant.orgID)])
        #expect(recount.first?.int(0) == 22)
    }

    @Test func maxStorageMBIsInThePlanAndOverridableByOperators() throws {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "starter")
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/account", key: tenant.key).data?["plan"]?["max_storage_mb"]?.intValue == 5000)
        let patched = try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["max_storage_mb": 7]])
        #expect(patched.data?["limits"]?["max_storage_mb"]?.intValue == 7)
        #expect(try client.call("GET", "/v1/account", key: tenant.key).data?["plan"]?["max_storage_mb"]?.intValue == 7)
        #expect(try client.call("GET", "/v1/usage", key: tenant.key).data?["storage"]?["quota_bytes"]?.intValue == 7_000_000)
        let reset = try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["max_storage_mb": nil]])
        #expect(reset.data?["limits"]?["max_storage_mb"]?.intValue == 5000)
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["max_storage_mb": -1]]).status == 400)
        let free = try gateway.createTenant(plan: "free")
        #expect(try client.call("GET", "/v1/account", key: free.key).data?["plan"]?["max_storage_mb"]?.intValue == 50)
    }

    @Test func aWritePastTheStorageQuotaIsRefusedAndRememberedUntilSpaceIsFreed() throws {
        let gateway = try TestGateway { $0.storageRefreshInterval = .milliseconds(100) }
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "professional")
        #expect(try gateway.client().call(
            "PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
            json: ["limits": ["max_storage_mb": 1, "rate_limit_per_minute": 100_000]]).status == 200)
        let client = gateway.client()
        // 20 memories of 49,998 bytes of text and {}: exactly the 1,000,000 bytes of 1 MB.
        let text = String(repeating: "x", count: 49_998)
        var ids: [String] = []
        for _ in 0..<20 {
            let created = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": .string(text)])
            #expect(created.status == 201)
            ids.append(created.data?["id"]?.stringValue ?? "")
        }
        let storage = gateway.running.services.storage
        #expect(try eventually(timeout: .seconds(3)) { try storage.figure(orgID: tenant.orgID).bytes == 1_000_000 })
        let usage = try client.call("GET", "/v1/usage", key: tenant.key).data?["storage"]
        #expect(usage?["bytes"]?.intValue == 1_000_000)
        #expect(usage?["quota_bytes"]?.intValue == 1_000_000)
        #expect(usage?["percent"] == .number(JSONNumber(100)))

        let refused = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "one byte more"])
        #expect(refused.status == 429)
        #expect(refused.errorCode == "quota_exceeded")
        #expect(refused.json?["error"]?["retry_after"] == .null)
        #expect(refused.header("Retry-After") == nil)
        #expect(try client.call("POST", "/v1/memories/batch", key: tenant.key,
                                json: ["memories": [["text": "more"]]]).errorCode == "quota_exceeded")
        // Refused again without reaching PostgreSQL, while reads still work.
        let admission = gateway.running.services.admission
        let before = admission.databaseDecisions.load(ordering: .relaxed)
        for _ in 0..<10 {
            let again = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "still full"])
            #expect(again.errorCode == "quota_exceeded")
            #expect(again.json?["error"]?["retry_after"] == .null)
        }
        #expect(admission.databaseDecisions.load(ordering: .relaxed) == before)
        #expect(try client.call("GET", "/v1/memories/count", key: tenant.key).data?["count"]?.intValue == 20)
        // Deleting frees space: within a refresh writes are admitted again.
        #expect(try client.call("DELETE", "/v1/memories/\(ids[0])", key: tenant.key).status == 200)
        #expect(try eventually(timeout: .seconds(3)) {
            try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "fits now"]).status == 201
        })
        #expect(try client.call("GET", "/v1/usage", key: tenant.key).data?["storage"]?["bytes"]?.intValue
                    == 950_000 + 8 + 2)
    }

    // MARK: - Stored retries expire

    @Test func idempotencyRecordsPastTheWindowArePurgedByOneSweeperAtATime() throws {
        let gateway = try TestGateway { $0.idempotencySweepInterval = .milliseconds(100) }
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "professional")
        let client = gateway.client()
        let pool = gateway.running.services.pool
        for name in ["old", "young"] {
            let response = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": .string(name)],
                                           headers: [("Idempotency-Key", "sweep-\(name)")])
            #expect(response.status == 201)
        }
        let records = {
            try pool.query("SELECT idem_key FROM idempotency_keys WHERE org_id = $1 ORDER BY idem_key",
                           [.text(tenant.orgID)]).compactMap { $0.string(0) }
        }
        #expect(try records() == ["sweep-old", "sweep-young"])
        // While another instance holds the sweeper's lock, a sweep does nothing.
        let holder = PostgresPool(configuration: PostgresConfiguration(connectionString: TestGateway.databaseURL))
        defer { holder.close() }
        let sweeper = IdempotencySweeper(pool: pool, retention: .seconds(3600), interval: .seconds(3600))
        try holder.withConnection { connection in
            _ = try connection.query("SELECT pg_advisory_lock($1)", [.int(IdempotencySweeper.lockKey)])
            _ = try pool.query("UPDATE idempotency_keys SET started_at = started_at - interval '25 hours' "
                               + "WHERE org_id = $1 AND idem_key = 'sweep-old'", [.text(tenant.orgID)])
            #expect(try sweeper.sweep() == nil)
            Thread.sleep(forTimeInterval: 0.3)  // three rounds of the gateway's own sweeper, all skipped
            #expect(try records() == ["sweep-old", "sweep-young"])
            _ = try connection.query("SELECT pg_advisory_unlock($1)", [.int(IdempotencySweeper.lockKey)])
        }
        // Released: the gateway's sweeper deletes the record past 24 h and keeps the young one.
        #expect(try eventually(timeout: .seconds(5)) { try records() == ["sweep-young"] })
        // A retry with the purged key is processed afresh.
        let retried = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "old"],
                                      headers: [("Idempotency-Key", "sweep-old")])
        #expect(retried.status == 201)
        #expect(retried.header("Idempotent-Replayed") == nil)
    }
}
