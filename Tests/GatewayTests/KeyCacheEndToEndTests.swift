import Auth
import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// Two instances of their own with the key cache on (serialized: one test kills their listeners).
enum CacheGateways {
    static let first: TestGateway = {
        do { return try TestGateway() } catch { fatalError("gateway did not start: \(error)") }
    }()
    static let second: TestGateway = {
        do { return try TestGateway() } catch { fatalError("gateway did not start: \(error)") }
    }()
    static var both: [TestGateway] { [first, second] }

    /// Waits until both instances listen (the cache is on only then).
    static func listening() -> Bool {
        eventually(timeout: .seconds(10)) { both.allSatisfy { $0.running.services.admission.keys.isListening } }
    }

    /// Whether every instance answers `status` for `key` within `bound`, polling each.
    static func allAnswer(_ status: Int, key: String, within bound: Duration, path: String = "/v1/account") -> Bool {
        let deadline = ContinuousClock.now + bound
        var pending = both
        while !pending.isEmpty {
            pending = pending.filter { gateway in
                (try? gateway.client().call("GET", path, key: key).status) != status
            }
            if pending.isEmpty { return true }
            if ContinuousClock.now > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    static func operatorPatch(_ orgID: String, _ body: JSONValue) throws -> TestResponse {
        try first.client().call("PATCH", "/v1/admin/tenants/\(orgID)", key: TestGateway.operatorToken, json: body)
    }
}

/// Keys cached per instance: a revoked key, a suspended tenant, a changed limit and an expired key
/// are refused by every instance within 1 s, including after the listener's backend was killed.
@Suite(.serialized) struct KeyCacheEndToEndTests {
    /// A key used once on each instance, so each has it cached.
    func cachedKey() throws -> (orgID: String, admin: String, key: (id: String, key: String)) {
        #expect(CacheGateways.listening())
        let tenant = try CacheGateways.first.createTenant(plan: "professional")
        let key = try CacheGateways.first.createKey(admin: tenant.key, scopes: ["read"])
        for gateway in CacheGateways.both {
            #expect(try gateway.client().call("GET", "/v1/account", key: key.key).status == 200)
        }
        return (tenant.orgID, tenant.key, key)
    }

    @Test func aCachedKeyIsAnsweredWithoutTheDatabase() throws {
        let (_, _, key) = try cachedKey()
        let admission = CacheGateways.first.running.services.admission
        let client = CacheGateways.first.client()
        let before = admission.localDecisions.load(ordering: .relaxed)
        let decisions = admission.databaseDecisions.load(ordering: .relaxed)
        // Identification without a token (MCP's protocol messages) comes from the cache alone.
        for _ in 0..<5 {
            guard case .admitted(let principal, _) = try admission.admit(key: key.key, clientAddress: "127.0.0.1",
                                                                         isLimited: false)
            else { Issue.record("not admitted"); continue }
            #expect(!principal.orgID.isEmpty)
        }
        #expect(admission.databaseDecisions.load(ordering: .relaxed) == decisions)
        #expect(admission.localDecisions.load(ordering: .relaxed) >= before + 5)
        #expect(try client.call("GET", "/v1/account", key: key.key).status == 200)
    }

    @Test func aRevokedKeyIsRefusedByEveryInstanceWithinOneSecond() throws {
        let (_, admin, key) = try cachedKey()
        #expect(try CacheGateways.second.client().call("DELETE", "/v1/account/api-keys/\(key.id)", key: admin).status == 200)
        #expect(CacheGateways.allAnswer(401, key: key.key, within: .seconds(1)))
    }

    @Test func aRevokedKeyIsRefusedWithinOneSecondAfterTheListenersBackendIsKilled() throws {
        let (_, admin, key) = try cachedKey()
        let pool = CacheGateways.first.running.services.pool
        let listeners = CacheGateways.both.map { $0.running.listener }
        let pids = listeners.compactMap { $0.backendProcessID }
        #expect(pids.count == 2)
        // Kill both listeners' backends and revoke at once: the revocation's NOTIFY may reach
        // neither, yet each instance must refuse the key within the bound.
        for pid in pids { _ = try pool.query("SELECT pg_terminate_backend($1::integer)", [.int(Int64(pid))]) }
        #expect(try CacheGateways.first.client().call("DELETE", "/v1/account/api-keys/\(key.id)", key: admin).status == 200)
        #expect(CacheGateways.allAnswer(401, key: key.key, within: .seconds(1)))
        // They listen again (new backends) and cache again.
        #expect(eventually(timeout: .seconds(10)) {
            listeners.allSatisfy { listener in listener.backendProcessID.map { !pids.contains($0) } ?? false }
        })
        #expect(CacheGateways.listening())
    }

    @Test func whileTheListenerIsLostTheCacheIsOff() throws {
        let (_, _, key) = try cachedKey()
        let running = CacheGateways.first.running
        let pid = try #require(running.listener.backendProcessID)
        #expect(running.services.admission.keys.count > 0)
        _ = try running.services.pool.query("SELECT pg_terminate_backend($1::integer)", [.int(Int64(pid))])
        // Noticed well under a second later: the cache was emptied (and refilled only once it listens).
        #expect(eventually(timeout: .milliseconds(500)) { running.listener.backendProcessID != pid })
        #expect(running.services.admission.keys.count == 0)
        #expect(CacheGateways.listening())
        #expect(try CacheGateways.first.client().call("GET", "/v1/account", key: key.key).status == 200)
    }

    @Test func aSuspensionIsVisibleOnEveryInstanceWithinOneSecond() throws {
        let (orgID, _, key) = try cachedKey()
        #expect(try CacheGateways.operatorPatch(orgID, ["suspended": true]).status == 200)
        #expect(CacheGateways.allAnswer(403, key: key.key, within: .seconds(1)))
        #expect(try CacheGateways.operatorPatch(orgID, ["suspended": false]).status == 200)
        #expect(CacheGateways.allAnswer(200, key: key.key, within: .seconds(1)))
    }

    @Test func aLimitChangeIsVisibleOnEveryInstanceWithinOneSecond() throws {
        let (orgID, _, key) = try cachedKey()
        #expect(try CacheGateways.operatorPatch(orgID, ["limits": ["rate_limit_per_minute": 1234]]).status == 200)
        let deadline = ContinuousClock.now + .seconds(1)
        var pending = CacheGateways.both
        while !pending.isEmpty, ContinuousClock.now < deadline {
            pending = pending.filter { (try? $0.client().call("GET", "/v1/account", key: key.key).header("RateLimit-Limit")) != "1234" }
        }
        #expect(pending.isEmpty)
    }

    @Test func aCachedKeyExpiresOnEveryInstanceWithoutAskingTheDatabase() throws {
        #expect(CacheGateways.listening())
        let tenant = try CacheGateways.first.createTenant(plan: "professional")
        let soon = UTCDate.timestamp(Date().addingTimeInterval(2))
        let key = try CacheGateways.first.createKey(admin: tenant.key, scopes: ["read"], extra: [("expires_at", .string(soon))])
        for gateway in CacheGateways.both {
            #expect(try gateway.client().call("GET", "/v1/account", key: key.key).status == 200)
        }
        #expect(CacheGateways.allAnswer(401, key: key.key, within: .seconds(4)))
        // Refused from the cached expires_at: further refusals do not reach PostgreSQL.
        let admission = CacheGateways.second.running.services.admission
        #expect(admission.keys.isListening)
        let before = admission.databaseDecisions.load(ordering: .relaxed)
        let local = admission.localDecisions.load(ordering: .relaxed)
        for _ in 0..<3 {
            #expect(try CacheGateways.second.client().call("GET", "/v1/account", key: key.key).status == 401)
        }
        #expect(admission.localDecisions.load(ordering: .relaxed) == local + 3)
        #expect(admission.databaseDecisions.load(ordering: .relaxed) == before)
    }

    /// The triggers of m0009: a change made in SQL by hand, past every handler, still reaches the caches.
    @Test func aKeyOrTenantChangedDirectlyInSQLIsSeenByEveryInstanceWithinOneSecond() throws {
        let (orgID, _, key) = try cachedKey()
        let pool = CacheGateways.first.running.services.pool
        _ = try pool.query("UPDATE tenants SET suspended = true WHERE org_id = $1", [.text(orgID)])
        #expect(CacheGateways.allAnswer(403, key: key.key, within: .seconds(1)))
        _ = try pool.query("UPDATE tenants SET suspended = false WHERE org_id = $1", [.text(orgID)])
        #expect(CacheGateways.allAnswer(200, key: key.key, within: .seconds(1)))
        _ = try pool.query("UPDATE api_keys SET expires_at = clock_timestamp() WHERE org_id = $1 AND key_id = $2",
                           [.text(orgID), .text(key.id)])
        #expect(CacheGateways.allAnswer(401, key: key.key, within: .seconds(1)))
    }

    @Test func usageWritingLastUsedAtDoesNotEmptyTheCache() throws {
        let (orgID, _, key) = try cachedKey()
        let (sentinelOrg, _, sentinel) = try cachedKey()
        let keys = CacheGateways.first.running.services.admission.keys
        let pool = CacheGateways.first.running.services.pool
        let hash = APIKeyMaterial.hash(key.key), sentinelHash = APIKeyMaterial.hash(sentinel.key)
        #expect(keys.lookup(hash, nowMicros: Admission.wallClockMicros()).0 == .hit)
        _ = try pool.query("UPDATE api_keys SET last_used_at = clock_timestamp() WHERE org_id = $1", [.text(orgID)])
        _ = try pool.query("UPDATE tenants SET name = name || '.' WHERE org_id = $1", [.text(orgID)])
        // Notifications arrive in commit order: once this later one has, any the updates sent has too.
        _ = try pool.query("SELECT pg_notify('gateway_events', 'key:' || $1)", [.text(sentinelOrg)])
        #expect(eventually { keys.lookup(sentinelHash, nowMicros: Admission.wallClockMicros()).0 == .miss })
        #expect(keys.lookup(hash, nowMicros: Admission.wallClockMicros()).0 == .hit)
    }

    @Test func aRotatedKeyEndsWithItsGraceOnEveryInstance() throws {
        let (_, admin, key) = try cachedKey()
        let rotated = try CacheGateways.first.client().call(
            "POST", "/v1/account/api-keys/\(key.id)/rotate", key: admin, json: ["grace_seconds": 1])
        #expect(rotated.status == 201)
        #expect(CacheGateways.allAnswer(200, key: key.key, within: .seconds(1)))  // within its grace
        #expect(CacheGateways.allAnswer(401, key: key.key, within: .seconds(3)))
    }
}
