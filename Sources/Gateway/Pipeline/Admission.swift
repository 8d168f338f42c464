import Auth
import PostgresStore
import Synchronization

/// Authenticates a key and applies the limiter in one round trip (`gw_admit`), and remembers
/// throttled keys locally until their retry time so a client that hammers never reaches
/// PostgreSQL.
final class Admission: Sendable {
    enum Outcome: Sendable {
        case admitted(Principal)
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

    init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Decides one request. `consume` is false for requests that must not count (none today).
    func admit(key: String, clientAddress: String) throws -> Outcome {
        guard APIKeyMaterial.parse(key) != nil else { return .invalid }
        let hash = APIKeyMaterial.hash(key)
        let hashHex = hexString(hash)
        let now = ContinuousClock.now
        let remembered = throttled.withLock { table -> Remembered? in
            guard let entry = table[hashHex] else { return nil }
            if entry.until > now { return entry }
            table[hashHex] = nil
            return nil
        }
        if let remembered {
            let seconds = max(1, secondsCeil(remembered.until - now))
            var error = remembered.error
            error.retryAfter = seconds
            error.headers = [("Retry-After", String(seconds))]
            var principal = remembered.principal
            principal.rateLimit.remaining = 0
            let (elapsed, _) = (now - remembered.at).components
            principal.rateLimit.resetSeconds = max(seconds, principal.rateLimit.resetSeconds - Int(elapsed))
            return .refused(error, principal)
        }

        let rows = try pool.query(
            "SELECT outcome, org_id, key_id, key_prefix, environment, scopes, rate_limit, remaining, reset_seconds, retry_after, plan, monthly_quota, max_memories, hard_quota FROM gw_admit($1, $2::inet, true)",
            [.bytea(hash), clientAddress.isEmpty ? .null : .text(clientAddress)])
        guard let row = rows.first, let outcome = row.string(0) else { return .invalid }
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
            throttled.withLock {
                $0[hashHex] = Remembered(until: now + .seconds(retryAfter) - .milliseconds(5), at: now, error: error,
                                         principal: principal)
            }
            return .refused(error, principal)
        case "quota_exceeded":
            let error = APIError(
                status: 429, code: "quota_exceeded",
                message: "the monthly request quota of \(principal.monthlyQuota) is used up",
                retryAfter: retryAfter, headers: [("Retry-After", String(retryAfter))])
            return .refused(error, principal)
        default:
            return .admitted(principal)
        }
    }

    /// Forgets remembered refusals (a key revoked or a limit changed elsewhere).
    func forgetThrottled() {
        throttled.withLock { $0.removeAll() }
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
