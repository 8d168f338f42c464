import Auth

/// The tenant key a request acts as, with what admission decided about it.
struct Principal: Sendable {
    var orgID: String
    var keyID: String
    var keyPrefix: String
    var environment: KeyEnvironment
    var scopes: ScopeSet
    var plan: String
    var monthlyQuota: Int64
    var maxMemories: Int64
    var hardQuota: Bool
    var rateLimit: RateLimitState

    /// `env` column value: `live` or `test`.
    var env: String { environment.rawValue }
    var isLive: Bool { environment == .live }
}

/// The limiter's decision, shown in the `RateLimit-*` headers.
struct RateLimitState: Sendable {
    var limit: Int
    var remaining: Int
    var resetSeconds: Int

    var headers: [(String, String)] {
        [
            ("RateLimit-Limit", String(limit)),
            ("RateLimit-Remaining", String(remaining)),
            ("RateLimit-Reset", String(resetSeconds)),
            ("RateLimit-Policy", "\"minute\";q=\(limit);w=60"),
            ("RateLimit", "\"minute\";r=\(remaining);t=\(resetSeconds)"),
        ]
    }
}
