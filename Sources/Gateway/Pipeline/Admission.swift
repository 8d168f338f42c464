import Auth
import Glibc
import PostgresStore
import Synchronization

/// Authenticates a key and applies the limiter: locally for a cached key (``KeyCache``: expiry,
/// suspension) with a live lease of rate-limit tokens (``Leases``), else in one round trip
/// (`gw_lease`, which also refills the lease and the cache). Remembers refused keys locally so a
/// client that hammers never reaches PostgreSQL: rate-limit and monthly quota refusals until their
/// retry time, storage quota refusals of writes while the tenant's storage figure stays at or over
/// its quota. A change to a tenant's keys, plan or limits (a notification) forgets its cached
/// keys, leases and refusals.
final class Admission: Sendable {
    enum Outcome: Sendable {
        /// Admitted; `fusedRow` holds the fused operation's columns beside the admission's (read by name).
        case admitted(Principal, fusedRow: PostgresRow?)
        case invalid
        case suspended
        case ipNotAllowed
        /// Refused by the limiter or the monthly quota; `principal` for counting and headers.
        case refused(APIError, Principal)
    }

    private let pool: PostgresPool
    /// A refusal to repeat locally until `until`; `at` is when PostgreSQL decided it, so the
    /// repeated `RateLimit-Reset` counts down from the decision instead of going stale.
    private struct Remembered {
        var until: ContinuousClock.Instant
        var at: ContinuousClock.Instant
        var error: APIError
        var principal: Principal
    }

    /// key hash (hex) → the refusal to repeat until `until`.
    private let throttled = Mutex<[String: Remembered]>([:])
    /// key hash (hex) → a write refused by the storage quota, repeated for writes of that key while
    /// `storage` still finds the tenant full.
    private let storageRefused = Mutex<[String: Remembered]>([:])
    private let storage: StorageAccounting?
    /// Remembered refusals past this many are pruned of expired ones.
    private static let rememberedPruneThreshold = 10_000
    /// The longest a refusal is repeated without asking PostgreSQL: a key that expires meanwhile
    /// (no notification tells of it) is answered 401 within this, as a rate-limit refusal allows.
    static let rememberedAtMost = 60

    /// false only to measure what the limiter costs (`GATEWAY_RATE_LIMITS=off`).
    private let isLimiting: Bool
    /// Admission statements sent to PostgreSQL (for `/metrics`, and for tests that check a
    /// refused key stops reaching the database).
    let databaseDecisions = Atomic<Int>(0)
    /// Requests decided without PostgreSQL from the key cache and a lease (for tests and benchmarks).
    let localDecisions = Atomic<Int>(0)
    /// Keys cached on this instance (on while the listener listens).
    let keys: KeyCache
    /// Rate-limit tokens leased by this instance.
    let leases = Leases()

    init(pool: PostgresPool, isLimiting: Bool = true, storage: StorageAccounting? = nil,
         keyCacheCapacity: Int = KeyCache.defaultCapacity) {
        self.pool = pool
        self.keys = KeyCache(capacity: keyCacheCapacity)
        self.isLimiting = isLimiting
        self.storage = storage
    }

    /// Decides one request, doing `fused` in the same statement when given (see `FusedOperation`).
    /// If the fused statement fails, admission is decided again alone and `fusedRow` is nil.
    /// `isStoring`: the request would store memory text (a write the storage quota may refuse).
    /// `isLimited: false` checks the key (validity, suspension, `allowed_ips`) without taking a
    /// token from its bucket: for protocol messages that do no work (MCP's `initialize`, `tools/list`).
    func admit(key: String, clientAddress: String,
               fused: (sql: String, parameters: [PostgresValue])? = nil, isStoring: Bool = false,
               isLimited: Bool = true) throws -> Outcome {
        guard APIKeyMaterial.parse(key) != nil else { return .invalid }
        return try admit(keyHash: APIKeyMaterial.hash(key), clientAddress: clientAddress, fused: fused,
                         isStoring: isStoring, isLimited: isLimited)
    }

    /// Decides one request of the key whose hash is `hash` (a console session acts as its key).
    func admit(keyHash hash: [UInt8], clientAddress: String,
               fused: (sql: String, parameters: [PostgresValue])? = nil, isStoring: Bool = false,
               isLimited: Bool = true) throws -> Outcome {
        let hashHex = hexString(hash)
        let now = ContinuousClock.now
        if let refused = rememberedRefusal(hashHex, isStoring: isStoring, isLimited: isLimited, now: now) {
            return refused
        }
        let ask: (want: Int, giveBack: LeaseState.GiveBack?, isLeaseFetch: Bool)
        switch localDecision(hash, isLimited: isLimited, now: now) {
        case .decided(let outcome):
            localDecisions.add(1, ordering: .relaxed)
            return outcome
        case .ask(let want, let giveBack, let isLeaseFetch):
            ask = (want, giveBack, isLeaseFetch)
        }
        do {
            let outcome = try decide(hash: hash, hashHex: hashHex, clientAddress: clientAddress, fused: fused,
                                     isLimited: isLimited, want: ask.want, giveBack: ask.giveBack, now: now)
            if ask.isLeaseFetch, case .admitted = outcome.outcome {
                leases.granted(hash, outcome.granted, keyTat: outcome.keyTat, tenantTat: outcome.tenantTat,
                               remaining: outcome.remaining, resetSeconds: outcome.resetSeconds, now: now)
            } else if ask.isLeaseFetch {
                leases.refused(hash)
            }
            return outcome.outcome
        } catch {
            if ask.isLeaseFetch { leases.refused(hash) }
            throw error
        }
    }

    /// A refusal remembered locally that still holds (a write while the tenant's storage is full, or
    /// a rate-limit or quota refusal before its retry time), its `Retry-After` counted down.
    private func rememberedRefusal(_ hashHex: String, isStoring: Bool, isLimited: Bool,
                                   now: ContinuousClock.Instant) -> Outcome? {
        if isStoring, let storage {
            let refused = storageRefused.withLock { table -> Remembered? in
                guard let entry = table[hashHex] else { return nil }
                if entry.until > now, storage.isFull(orgID: entry.principal.orgID) { return entry }
                table[hashHex] = nil
                return nil
            }
            if let refused { return .refused(refused.error, refused.principal) }
        }
        let remembered = !isLimited ? nil : throttled.withLock { table -> Remembered? in
            guard let entry = table[hashHex] else { return nil }
            if entry.until > now { return entry }
            table[hashHex] = nil
            return nil
        }
        guard let remembered else { return nil }
        // Counted down from the database's answer (the cache itself ends a second earlier).
        let decided = remembered.error.retryAfter ?? 1
        let seconds = max(1, secondsCeil(remembered.at + .seconds(decided) - now))
        var error = remembered.error
        error.retryAfter = seconds
        error.headers = [("Retry-After", String(seconds))]
        var principal = remembered.principal
        principal.rateLimit.remaining = 0
        let (elapsed, _) = (now - remembered.at).components
        principal.rateLimit.resetSeconds = max(seconds, principal.rateLimit.resetSeconds - Int(elapsed))
        return .refused(error, principal)
    }

    /// What the key cache and the lease decide without PostgreSQL.
    private enum LocalDecision {
        /// Decided here: a cached key that expired or whose tenant is suspended, a request that
        /// takes no token, or a token from a live lease.
        case decided(Outcome)
        /// PostgreSQL decides: `want` tokens (a lease fetch when `isLeaseFetch`), after giving `giveBack` back.
        case ask(want: Int, giveBack: LeaseState.GiveBack?, isLeaseFetch: Bool)
    }

    /// The key cache and the lease: with a cached key and a live lease nothing is asked.
    private func localDecision(_ hash: [UInt8], isLimited: Bool, now: ContinuousClock.Instant) -> LocalDecision {
        let single = LocalDecision.ask(want: 1, giveBack: nil, isLeaseFetch: false)
        switch keys.lookup(hash, nowMicros: Self.wallClockMicros()) {
        case (.expired, _):
            return .decided(.invalid)
        case (.hit, let cached?):
            if cached.isSuspended { return .decided(.suspended) }
            guard !cached.hasAllowedIPs else { return single }
            if !(isLimiting && isLimited) {
                var principal = cached.principal
                principal.rateLimit = RateLimitState(limit: principal.rateLimit.limit, remaining: principal.rateLimit.limit,
                                                     resetSeconds: 0)
                return .decided(.admitted(principal, fusedRow: nil))
            }
            guard !cached.isCounted, LeaseState.maximumLease(limit: cached.effectiveLimit) > 1 else { return single }
            switch leases.request(hash, orgID: cached.principal.orgID, limit: cached.effectiveLimit, now: now) {
            case .admit(let remaining, let resetSeconds):
                var principal = cached.principal
                principal.rateLimit.remaining = remaining
                principal.rateLimit.resetSeconds = resetSeconds
                return .decided(.admitted(principal, fusedRow: nil))
            case .fetch(let wanted, let back):
                return .ask(want: wanted, giveBack: back, isLeaseFetch: true)
            case .single:
                return single
            }
        default:
            return single
        }
    }

    /// A database decision and what it leased.
    private struct Decision {
        var outcome: Outcome
        var granted = 0
        var keyTat: Int64?
        var tenantTat: Int64?
        var remaining = 0
        var resetSeconds = 0
    }

    /// Asks PostgreSQL (`gw_lease`: `want` tokens, after giving `giveBack` back), fills the key
    /// cache from the answer.
    private func decide(hash: [UInt8], hashHex: String, clientAddress: String,
                        fused: (sql: String, parameters: [PostgresValue])?, isLimited: Bool, want: Int,
                        giveBack: LeaseState.GiveBack?, now: ContinuousClock.Instant) throws -> Decision {
        // Taken before the lookup: an invalidation while it runs keeps its answer out of the cache.
        let ticket = keys.ticket()
        let asked = ContinuousClock.now
        databaseDecisions.add(1, ordering: .relaxed)
        let admission: [PostgresValue] = [
            .bytea(hash), clientAddress.isEmpty ? .null : .text(clientAddress), .bool(isLimiting && isLimited),
        ]
        let lease: [PostgresValue] = [
            .int(Int64(want)), .int(Int64(giveBack?.tokens ?? 0)), giveBack?.keyTat.map { .int($0) } ?? .null,
            giveBack.map { .int($0.tenantTat) } ?? .null,
        ]
        var rows: PostgresRows?
        var isFused = false
        if let fused {
            let first = 4 + fused.parameters.count
            do {
                rows = try pool.query(
                    """
                    WITH a AS MATERIALIZED (SELECT * FROM gw_lease($1, $2::inet, $3, $\(first)::integer, $\(first + 1)::integer, $\(first + 2)::bigint, $\(first + 3)::bigint)),
                         f AS (\(fused.sql))
                    SELECT \(AdmissionRow.fusedSelectList), f.*
                      FROM a LEFT JOIN f ON true
                    """,
                    admission + fused.parameters + lease)
                isFused = true
            } catch StoreError.unavailable(let reason) {
                throw StoreError.unavailable(reason)
            } catch {
                rows = nil  // e.g. a constraint the fused part hit: decide alone, the handler reports it
            }
        }
        if rows == nil {
            rows = try pool.query("SELECT \(AdmissionRow.selectList) FROM gw_lease($1, $2::inet, $3, $4::integer, $5::integer, $6::bigint, $7::bigint)", admission + lease)
        }
        guard let row = rows?.first else { return Decision(outcome: .invalid) }
        let decided = AdmissionRow(row)
        guard let outcome = decided.outcome, outcome != "invalid" else { return Decision(outcome: .invalid) }
        var principal = decided.principal
        let granted = decided.granted
        // The tokens this request leaves in the lease are still this bucket's to admit.
        if granted > 1 { principal.rateLimit.remaining = min(Int(Int32.max), principal.rateLimit.remaining + (granted - 1)) }
        keys.fill(hash, CachedKey(
            principal: principal, expiresAtMicros: decided.expiresAtMicros,
            isSuspended: decided.isSuspended ?? (outcome == "suspended"), hasAllowedIPs: decided.hasAllowedIPs ?? true,
            effectiveLimit: decided.leaseLimit, isCounted: principal.hardQuota && principal.isLive),
            ticket: ticket, at: asked)
        switch outcome {
        case "suspended": return Decision(outcome: .suspended)
        case "ip_not_allowed": return Decision(outcome: .ipNotAllowed)
        default: break
        }
        let retryAfter = decided.retryAfter
        switch outcome {
        case "rate_limited":
            let error = APIError(
                status: 429, code: "rate_limit_exceeded",
                message: "rate limit of \(principal.rateLimit.limit) requests per minute exceeded",
                retryAfter: retryAfter, headers: [("Retry-After", String(retryAfter))])
            remember(hashHex, error: error, principal: principal, retryAfter: retryAfter, now: now)
            return Decision(outcome: .refused(error, principal))
        case "quota_exceeded":
            let error = APIError(
                status: 429, code: "quota_exceeded",
                message: "the monthly request quota of \(principal.monthlyQuota) is used up",
                retryAfter: retryAfter, headers: [("Retry-After", String(retryAfter))])
            // Until the next period (asking again each minute), or until an operator raises the
            // quota (a notification).
            remember(hashHex, error: error, principal: principal, retryAfter: retryAfter, now: now)
            return Decision(outcome: .refused(error, principal))
        default:
            return Decision(outcome: .admitted(principal, fusedRow: isFused ? row : nil), granted: granted,
                            keyTat: decided.keyTat, tenantTat: decided.tenantTat,
                            remaining: decided.principal.rateLimit.remaining,
                            resetSeconds: decided.principal.rateLimit.resetSeconds)
        }
    }

    /// The wall clock in Unix microseconds (what cached `expires_at` values are compared with).
    static func wallClockMicros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    /// Remembers a refusal whose wait is `retryAfter` seconds (rounded up).
    private func remember(_ hashHex: String, error: APIError, principal: Principal, retryAfter: Int,
                          now: ContinuousClock.Instant) {
        // Retry-After is rounded up to whole seconds; the exact moment is up to a second
        // earlier. Remember the refusal only until the earliest it may be, so no request the
        // bucket would admit is refused here (in the last second the database decides).
        guard retryAfter > 1 else { return }
        throttled.withLock { table in
            if table.count >= Self.rememberedPruneThreshold { table = table.filter { $0.value.until > now } }
            table[hashHex] = Remembered(until: now + .seconds(min(retryAfter - 1, Self.rememberedAtMost)), at: now,
                                        error: error, principal: principal)
        }
    }

    /// Remembers that a write of `key` was refused by the storage quota, when the tenant's storage
    /// figure leaves room for no write at all (then every write of the key is refused until the
    /// figure drops, which the next refresh shows).
    func rememberStorageRefusal(key: String, error: APIError, principal: Principal) {
        guard let storage, storage.isFull(orgID: principal.orgID) else { return }
        let hashHex = hexString(APIKeyMaterial.hash(key))
        let now = ContinuousClock.now
        storageRefused.withLock { table in
            if table.count >= Self.rememberedPruneThreshold {
                table = table.filter { storage.isFull(orgID: $0.value.principal.orgID) }
            }
            table[hashHex] = Remembered(until: now + .seconds(Self.rememberedAtMost), at: now, error: error,
                                        principal: principal)
        }
    }

    /// Forgets remembered refusals (a key revoked or a limit changed elsewhere).
    func forgetThrottled() {
        throttled.withLock { $0.removeAll() }
        storageRefused.withLock { $0.removeAll() }
    }

    /// `orgID`'s keys, plan or limits changed (a notification): its cached keys, leases and
    /// remembered refusals are forgotten.
    func changed(orgID: String) {
        keys.invalidate(orgID: orgID)
        leases.drop(orgID: orgID)
        forgetThrottled(orgID: orgID)
    }

    /// Something that may touch every tenant changed (a plan's limits).
    func changedAll() {
        keys.invalidateAll()
        leases.dropAll()
        forgetThrottled()
    }

    /// The listener listens: the key cache may be used.
    func listening() {
        keys.listening()
    }

    /// The listener lost its connection: notifications may be missed, so the key cache is
    /// cleared and off (every request is decided in PostgreSQL) until it listens again.
    func lostListener() {
        keys.lost()
    }

    /// Forgets the remembered refusals of `orgID`'s keys (its keys, plan or limits changed).
    func forgetThrottled(orgID: String) {
        throttled.withLock { table in table = table.filter { $0.value.principal.orgID != orgID } }
        storageRefused.withLock { table in table = table.filter { $0.value.principal.orgID != orgID } }
    }

    private func secondsCeil(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}

/// Lowercase hex of bytes.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
