import Auth
import Foundation
import PostgresStore
import Synchronization
import Testing
@testable import Gateway

/// Leased rate-limit tokens across two instances: never more admitted than the bucket allows
/// (overshoot 0), and what a lease strands is bounded.
@Suite struct LeaseEndToEndTests {
    /// A key whose tighter limit is `limit` per minute, on a tenant allowed 100,000 per minute.
    func key(limit: Int) throws -> (orgID: String, id: String, key: String) {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "professional")
        #expect(try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 100_000]]).status == 200)
        let extra: [(String, JSONValue)] = limit < 100_000 ? [("rate_limit_per_minute", .number(JSONNumber(limit)))] : []
        let key = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: extra)
        return (tenant.orgID, key.id, key.key)
    }

    /// Sets the bucket `bucket` of `orgID` so that it holds `tokens` tokens now (0: empty).
    func fill(_ orgID: String, bucket: String, limit: Int, tokens: Int) throws {
        let pool = UsageGateways.first.running.services.pool
        _ = try pool.query(
            """
            INSERT INTO rate_limits AS r (org_id, key_id, tat_us)
            VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
                            + (60000000.0 - 60000000.0 / $3::integer)::bigint - ($4::bigint - 1) * (60000000.0 / $3::integer)::bigint)
            ON CONFLICT (org_id, key_id) DO UPDATE SET tat_us = EXCLUDED.tat_us
            """,
            [.text(orgID), .text(bucket), .int(Int64(limit)), .int(Int64(tokens))])
    }

    func tat(_ orgID: String, bucket: String) throws -> Int64 {
        let rows = try UsageGateways.first.running.services.pool.query(
            "SELECT tat_us FROM rate_limits WHERE org_id = $1 AND key_id = $2", [.text(orgID), .text(bucket)])
        return rows.first?.int(0) ?? 0
    }

    /// 16 threads over two instances, `perThread` requests each; returns (admitted, seconds).
    /// `passedLimiter` counts every request not refused by the limiter (a 200, or anything the
    /// machine's load made of an admitted request: a 503, a tenant-slot 429, a lost connection).
    func hammer(_ key: String, perThread: Int) -> (Int, Double, passedLimiter: Int) {
        let admitted = Atomic<Int>(0)
        let passedLimiter = Atomic<Int>(0)
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: 16) { thread in
            let client = UsageGateways.client(thread)
            for _ in 0..<perThread {
                let response = try? client.call("GET", "/v1/account", key: key)
                if response?.status == 200 { admitted.add(1, ordering: .relaxed) }
                if response?.errorCode != "rate_limit_exceeded" { passedLimiter.add(1, ordering: .relaxed) }
            }
        }
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return (admitted.load(ordering: .relaxed), Double(seconds) + Double(attoseconds) / 1e18,
                passedLimiter.load(ordering: .relaxed))
    }

    func localDecisions() -> Int {
        UsageGateways.first.running.services.admission.localDecisions.load(ordering: .relaxed)
            + UsageGateways.second.running.services.admission.localDecisions.load(ordering: .relaxed)
    }

    @Test(arguments: [10, 600])
    func leasesNeverAdmitMoreThanTheBucketAllowsFromIdle(limit: Int) throws {
        let key = try key(limit: limit)
        let local = localDecisions()
        let (admitted, elapsed, passed) = hammer(key.key, perThread: limit / 16 + 20)
        // The burst from idle plus what refilled meanwhile (one more for the refill's rounding).
        let allowed = limit + Int(elapsed * Double(limit) / 60) + 1
        #expect(passed <= allowed)
        #expect(admitted >= limit - 2 * LeaseState.maximumLease(limit: limit))
        if limit == 10 { #expect(LeaseState.maximumLease(limit: limit) == 1) } else { #expect(localDecisions() > local) }
    }

    @Test func leasesNeverAdmitMoreThanAnEmptiedFastBucketRefills() throws {
        let key = try key(limit: 100_000)
        // Empty the tenant's bucket (the only one: the key has no limit of its own), so the
        // allowance is what refills while the threads run (1,667 per second).
        let start = ContinuousClock.now
        try fill(key.orgID, bucket: "*live", limit: 100_000, tokens: 0)
        let local = localDecisions()
        let (_, _, passed) = hammer(key.key, perThread: 150)
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        #expect(passed <= 1 + Int(elapsed * 100_000 / 60) + 1)
        #expect(localDecisions() > local)
    }

    /// Measured from the bucket itself: tokens taken (its time advanced by T each) minus requests
    /// admitted is what leases hold unused. Bounded by (maximum lease − 1) per instance.
    /// `tokens`: 0 (every lease as small as the refill), 5,000 (more than the threads ask: the
    /// leases grow to the maximum and are held at the end).
    @Test(arguments: [0, 5_000])
    func tokensStrandedInLeasesStayWithinOneLeasePerInstance(tokens: Int) throws {
        let limit = 24_000  // T = 2.5 ms, leases of up to 100
        let key = try key(limit: limit)
        try fill(key.orgID, bucket: key.id, limit: limit, tokens: tokens)
        let before = try tat(key.orgID, bucket: key.id)
        let admitted = hammer(key.key, perThread: 60).passedLimiter
        let after = try tat(key.orgID, bucket: key.id)
        let taken = Int((after - before) / Int64(60_000_000 / limit))
        let stranded = taken - admitted
        #expect(stranded >= 0)  // never admitted without a token
        // Every stranded token is accounted for: held in a live lease (at most maximum − 1 per
        // instance), or left in one that expired (offered back, lost if the bucket moved).
        let unused = UsageGateways.both.map { $0.running.services.admission.leases.unusedTokens(orgID: key.orgID) }
        let held = unused.map(\.held).reduce(0, +)
        let expired = unused.map(\.expired).reduce(0, +)
        #expect(held <= 2 * (LeaseState.maximumLease(limit: limit) - 1))
        #expect(stranded <= held + expired)
        print("lease stranding at \(limit)/min, \(tokens) in the bucket: taken \(taken), admitted \(admitted), "
              + "stranded \(stranded), held \(held), left in expired leases \(expired)")
    }

    /// gw_lease's give-back: exact while the bucket's time is still the one the lease left,
    /// nothing once anybody took a token since (then it could hand out credit twice).
    @Test func unusedTokensAreGivenBackOnlyWhileNobodyTookFromTheBucketSince() throws {
        let gateway = UsageGateways.first
        let tenant = try gateway.createTenant(plan: "professional")  // 300/min: T = 200 ms
        let key = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let pool = gateway.running.services.pool
        let hash = APIKeyMaterial.hash(key.key)
        let period: Int64 = 200_000
        func lease(want: Int, back: Int, tat: Int64?) throws -> (granted: Int64, tat: Int64?) {
            let rows = try pool.query(
                "SELECT granted, tenant_tat FROM gw_lease($1, NULL, true, $2::integer, $3::integer, NULL, $4::bigint)",
                [.bytea(hash), .int(Int64(want)), .int(Int64(back)), tat.map { .int($0) } ?? .null])
            return (rows.first?.int(0) ?? -1, rows.first?.int(1))
        }
        let first = try lease(want: 10, back: 0, tat: nil)
        #expect(first.granted == 10)
        let leased = try #require(first.tat)
        #expect(try tat(tenant.orgID, bucket: "*live") == leased)
        // Someone took a token since: the give-back against the lease's time does nothing.
        #expect(try lease(want: 1, back: 0, tat: nil).granted == 1)
        #expect(try tat(tenant.orgID, bucket: "*live") == leased + period)
        #expect(try lease(want: 1, back: 4, tat: leased).granted == 1)
        #expect(try tat(tenant.orgID, bucket: "*live") == leased + 2 * period)
        // Against the bucket's current time: exactly four tokens come back (then one is taken).
        #expect(try lease(want: 1, back: 4, tat: leased + 2 * period).granted == 1)
        #expect(try tat(tenant.orgID, bucket: "*live") == leased + 2 * period - 4 * period + period)
    }
}
