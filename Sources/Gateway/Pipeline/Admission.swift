import Auth
import PostgresStore
import Synchronization

/// Authenticates a key and applies the limiter in one round trip (`gw_admit`), and remembers
/// refused keys locally so a client that hammers never reaches PostgreSQL: rate-limit and monthly
/// quota refusals until their retry time, storage quota refusals of writes while the tenant's
/// storage figure stays at or over its quota. Any change to keys, tenants or limits (a
/// notification) forgets them all.
final class Admission: Sendable {
    enum Outcome: Sendable {
        /// Admitted; `fusedRow` holds the fused operation's columns from `Admission.fusedOffset` on.
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

    init(pool: PostgresPool, isLimiting: Bool = true, storage: StorageAccounting? = nil) {
        self.pool = pool
        self.isLimiting = isLimiting
        self.storage = storage
    }

    /// The admission columns, in the order `admit` reads them.
    private static let columns = "outcome, org_id, key_id, key_prefix, environment, scopes, rate_limit, remaining, "
        + "reset_seconds, retry_after, plan, monthly_quota, max_memories, hard_quota"
    /// The same columns of the fused statement's admission CTE `a`.
    private static let fusedColumns = "a.outcome, a.org_id, a.key_id, a.key_prefix, a.environment, a.scopes, "
        + "a.rate_limit, a.remaining, a.reset_seconds, a.retry_after, a.plan, a.monthly_quota, a.max_memories, a.hard_quota"
    /// Where a fused operation's columns start in the row.
    static let fusedOffset = 14

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
        if let remembered {
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

        databaseDecisions.add(1, ordering: .relaxed)
        let admission: [PostgresValue] = [
            .bytea(hash), clientAddress.isEmpty ? .null : .text(clientAddress), .bool(isLimiting && isLimited),
        ]
        var rows: PostgresRows?
        var isFused = false
        if let fused {
            do {
                rows = try pool.query(
                    """
                    WITH a AS MATERIALIZED (SELECT * FROM gw_admit($1, $2::inet, true, $3)), f AS (\(fused.sql))
                    SELECT \(Self.fusedColumns), f.*
                      FROM a LEFT JOIN f ON true
                    """,
                    admission + fused.parameters)
                isFused = true
            } catch StoreError.unavailable(let reason) {
                throw StoreError.unavailable(reason)
            } catch {
                rows = nil  // e.g. a constraint the fused part hit: decide alone, the handler reports it
            }
        }
        if rows == nil {
            rows = try pool.query("SELECT \(Self.columns) FROM gw_admit($1, $2::inet, true, $3)", admission)
        }
        guard let row = rows?.first, let outcome = row.string(0) else { return .invalid }
        switch outcome {
        case "invalid": return .invalid
        case "suspended": return .suspended
        case "ip_not_allowed": return .ipNotAllowed
        default: break
        }
        let principal = Principal(
            orgID: row.string(1) ?? "",
            keyID: row.string(2) ?? "",
            keyPrefix: row.string(3) ?? "",
            environment: KeyEnvironment(rawValue: row.string(4) ?? "live") ?? .live,
            scopes: ScopeSet.parse(row.stringArray(5) ?? []) ?? [],
            plan: row.string(10) ?? "free",
            monthlyQuota: row.int(11) ?? 0,
            maxMemories: row.int(12) ?? 0,
            hardQuota: row.bool(13) ?? false,
            rateLimit: RateLimitState(
                limit: Int(row.int(6) ?? 0), remaining: Int(row.int(7) ?? 0), resetSeconds: Int(row.int(8) ?? 0)))
        let retryAfter = Int(row.int(9) ?? 1)
        switch outcome {
        case "rate_limited":
            let error = APIError(
                status: 429, code: "rate_limit_exceeded",
                message: "rate limit of \(principal.rateLimit.limit) requests per minute exceeded",
                retryAfter: retryAfter, headers: [("Retry-After", String(retryAfter))])
            remember(hashHex, error: error, principal: principal, retryAfter: retryAfter, now: now)
            return .refused(error, principal)
        case "quota_exceeded":
            let error = APIError(
                status: 429, code: "quota_exceeded",
                message: "the monthly request quota of \(principal.monthlyQuota) is used up",
                retryAfter: retryAfter, headers: [("Retry-After", String(retryAfter))])
            // Until the next period (asking again each minute), or until an operator raises the
            // quota (a notification).
            remember(hashHex, error: error, principal: principal, retryAfter: retryAfter, now: now)
            return .refused(error, principal)
        default:
            return .admitted(principal, fusedRow: isFused ? row : nil)
        }
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
