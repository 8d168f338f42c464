import Auth
import PostgresStore

/// One admission decision as `gw_lease` (m0009) returns it, read by ``selectList``'s names. The
/// fused statement selects the same names from its CTE `a` (``fusedSelectList``), so a fused
/// operation's own columns may follow in any order without shifting these.
struct AdmissionRow: Sendable {
    /// The admission columns, as `gw_lease` names them.
    static let names = [
        "outcome", "org_id", "key_id", "key_prefix", "environment", "scopes", "rate_limit", "remaining",
        "reset_seconds", "retry_after", "plan", "monthly_quota", "max_memories", "hard_quota",
        "granted", "expires_us", "suspended", "has_ips", "key_tat", "tenant_tat", "lease_limit",
    ]
    /// The select list over `gw_lease(...)`.
    static let selectList = names.joined(separator: ", ")
    /// The same columns of the fused statement's admission CTE `a`.
    static let fusedSelectList = names.map { "a." + $0 }.joined(separator: ", ")

    /// `ok`, `invalid`, `suspended`, `ip_not_allowed`, `rate_limited` or `quota_exceeded`.
    var outcome: String?
    /// The key's principal (empty fields when the key is unknown).
    var principal: Principal
    /// Seconds to wait after a refusal.
    var retryAfter: Int
    /// Tokens leased by this decision (this request's included).
    var granted: Int
    /// The key's `expires_at` in Unix microseconds, `nil` for never.
    var expiresAtMicros: Int64?
    /// Whether the tenant is suspended (`nil` when the key is unknown).
    var isSuspended: Bool?
    /// Whether the key has `allowed_ips` (then decided in the database every time).
    var hasAllowedIPs: Bool?
    /// The buckets' theoretical arrival times after the lease, for giving tokens back exactly.
    var keyTat: Int64?, tenantTat: Int64?
    /// The tighter of the key's and the tenant's limits, per minute (the lease size is built from it).
    var leaseLimit: Int

    /// Decodes a row holding ``selectList`` (or ``fusedSelectList``, with a fused operation's columns).
    init(_ row: PostgresRow) {
        outcome = row.string("outcome")
        principal = Principal(
            orgID: row.string("org_id") ?? "",
            keyID: row.string("key_id") ?? "",
            keyPrefix: row.string("key_prefix") ?? "",
            environment: KeyEnvironment(rawValue: row.string("environment") ?? "live") ?? .live,
            scopes: ScopeSet.parse(row.stringArray("scopes") ?? []) ?? [],
            plan: row.string("plan") ?? "free",
            monthlyQuota: row.int("monthly_quota") ?? 0,
            maxMemories: row.int("max_memories") ?? 0,
            hardQuota: row.bool("hard_quota") ?? false,
            rateLimit: RateLimitState(
                limit: Int(clamping: row.int("rate_limit") ?? 0), remaining: Int(clamping: row.int("remaining") ?? 0),
                resetSeconds: Int(clamping: row.int("reset_seconds") ?? 0)))
        retryAfter = Int(clamping: row.int("retry_after") ?? 1)
        granted = Int(clamping: row.int("granted") ?? 0)
        expiresAtMicros = row.int("expires_us")
        isSuspended = row.bool("suspended")
        hasAllowedIPs = row.bool("has_ips")
        keyTat = row.int("key_tat")
        tenantTat = row.int("tenant_tat")
        leaseLimit = Int(clamping: row.int("lease_limit") ?? 1)
    }
}
