/// What an instance remembers about one key between requests: enough to decide 401 (expiry),
/// 403 (suspension) and the rate limit locally.
struct CachedKey: Sendable {
    /// The key's tenant, scopes, plan and limits; `rateLimit` is refreshed by each decision.
    var principal: Principal
    /// `expires_at` in Unix microseconds (wall clock), nil for a key that never expires.
    var expiresAtMicros: Int64?
    var isSuspended: Bool
    /// A key with `allowed_ips` is decided in PostgreSQL on every request (its `<<=` is the
    /// contract's reference, and a local reimplementation that admits wrongly would be a hole).
    var hasAllowedIPs: Bool
    /// The tighter of the key's and the tenant's limits (requests per minute).
    var effectiveLimit: Int
    /// Counted against a hard monthly quota on every admission (exact, never leased).
    var isCounted: Bool
    /// When PostgreSQL was asked (set by ``KeyCacheState/fill(_:_:ticket:at:)``).
    var filledAt: ContinuousClock.Instant = .now
}

/// The per-instance key cache as a state machine: key hash → ``CachedKey``, on only while the
/// listener is listening (a missed NOTIFY can then only happen during an outage, and the outage
/// clears the cache). A fill carries the generation it started in; any invalidation meanwhile
/// bumps the generation, so a lookup that raced a revocation is never stored.
struct KeyCacheState: Sendable {
    /// The answer of ``lookup(_:nowMicros:)``.
    enum Lookup: Equatable, Sendable {
        case miss
        case hit
        /// The cached `expires_at` has passed: 401 without asking PostgreSQL.
        case expired
    }

    /// Entries past this many evict an arbitrary one per fill (a bound, not an LRU).
    let capacity: Int
    /// A backstop for a notification lost without the listener noticing (a network path that died
    /// silently): an entry older than this is asked again, so a revoked key is refused within 1 s
    /// whatever happens to NOTIFY. A key with traffic refreshes its entry with each lease anyway.
    static let maximumAge: Duration = .milliseconds(750)
    /// How long a cached key past its `expires_at` is refused without asking (expiry only moves
    /// by an edit, which notifies; this bounds a lost notification of an extension).
    static let expiredAnsweredFor: Duration = .seconds(60)
    private(set) var isListening = false
    private(set) var generation: UInt64 = 0
    private var entries: [[UInt8]: CachedKey] = [:]

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The listener listens (again): cache from now on; anything older was dropped when it was lost.
    mutating func listening() {
        isListening = true
        generation &+= 1
    }

    /// The listener lost its connection: notifications may be missed from now on, so nothing
    /// cached can be trusted and nothing is cached until it listens again.
    mutating func lost() {
        isListening = false
        entries.removeAll()
        generation &+= 1
    }

    /// A `key:<org>` / `tenant:<org>` notification: that tenant's keys are read afresh.
    mutating func invalidate(orgID: String) {
        entries = entries.filter { $0.value.principal.orgID != orgID }
        generation &+= 1
    }

    /// A change that may touch every tenant (a plan's limits).
    mutating func invalidateAll() {
        entries.removeAll()
        generation &+= 1
    }

    /// The generation a database lookup starts in, nil while not listening (nothing may be cached).
    func ticket() -> UInt64? {
        isListening ? generation : nil
    }

    /// Stores `key` under `hash` if nothing was invalidated since `ticket` was taken; returns
    /// whether it was stored.
    /// `at`: when the lookup that found `key` was sent.
    @discardableResult
    mutating func fill(_ hash: [UInt8], _ key: CachedKey, ticket: UInt64?,
                       at filledAt: ContinuousClock.Instant = .now) -> Bool {
        guard isListening, let ticket, ticket == generation else { return false }
        if entries[hash] == nil, entries.count >= capacity, let victim = entries.keys.first {
            entries[victim] = nil
        }
        var key = key
        key.filledAt = filledAt
        entries[hash] = key
        return true
    }

    /// Updates the rate-limit state shown for a cached key (after a database decision).
    mutating func refresh(_ hash: [UInt8], rateLimit: RateLimitState) {
        entries[hash]?.principal.rateLimit = rateLimit
    }

    /// The cached key of `hash` at wall-clock time `nowMicros` (monotonic time `now`).
    func lookup(_ hash: [UInt8], nowMicros: Int64, now: ContinuousClock.Instant = .now) -> (Lookup, CachedKey?) {
        guard isListening, let key = entries[hash] else { return (.miss, nil) }
        let age = now - key.filledAt
        if let expires = key.expiresAtMicros, expires <= nowMicros {
            return age < Self.expiredAnsweredFor ? (.expired, key) : (.miss, nil)
        }
        return age < Self.maximumAge ? (.hit, key) : (.miss, nil)
    }
}
