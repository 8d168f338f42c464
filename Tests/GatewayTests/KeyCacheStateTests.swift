import Testing
@testable import Gateway

/// The key cache's state machine without sockets: on only while listening, invalidation by tenant,
/// fills that raced an invalidation are dropped, expiry against the cached `expires_at`, the bound.
@Suite struct KeyCacheStateTests {
    static func key(_ org: String, expires: Int64? = nil, suspended: Bool = false) -> CachedKey {
        CachedKey(
            principal: Principal(orgID: org, keyID: "key_" + org, keyPrefix: "mg_live_x", environment: .live, scopes: [],
                                 plan: "starter", monthlyQuota: 0, maxMemories: 0, hardQuota: false,
                                 rateLimit: RateLimitState(limit: 60, remaining: 59, resetSeconds: 1)),
            expiresAtMicros: expires, isSuspended: suspended, hasAllowedIPs: false, effectiveLimit: 60, isCounted: false)
    }

    @Test func nothingIsCachedOrAnsweredUntilTheListenerListens() {
        var state = KeyCacheState(capacity: 10)
        #expect(state.ticket() == nil)
        let result1 = state.fill([1], Self.key("a"), ticket: state.ticket())
        #expect(!result1)
        state.listening()
        let result2 = state.fill([1], Self.key("a"), ticket: state.ticket())
        #expect(result2)
        #expect(state.lookup([1], nowMicros: 0).0 == .hit)
    }

    @Test func losingTheListenerClearsTheCacheAndTurnsItOff() {
        var state = KeyCacheState(capacity: 10)
        state.listening()
        state.fill([1], Self.key("a"), ticket: state.ticket())
        state.lost()
        #expect(state.lookup([1], nowMicros: 0).0 == .miss)
        #expect(state.ticket() == nil)
        state.listening()
        #expect(state.lookup([1], nowMicros: 0).0 == .miss)  // nothing from before the outage
    }

    @Test func aFillThatRacedAnInvalidationOrAnOutageIsNotStored() {
        var state = KeyCacheState(capacity: 10)
        state.listening()
        let ticket = state.ticket()
        state.invalidate(orgID: "other")
        let result3 = state.fill([1], Self.key("a"), ticket: ticket)
        #expect(!result3)
        let second = state.ticket()
        state.lost()
        state.listening()
        let result4 = state.fill([1], Self.key("a"), ticket: second)
        #expect(!result4)
        #expect(state.count == 0)
    }

    @Test func aTenantsNotificationDropsOnlyThatTenantsKeys() {
        var state = KeyCacheState(capacity: 10)
        state.listening()
        state.fill([1], Self.key("a"), ticket: state.ticket())
        state.fill([2], Self.key("b"), ticket: state.ticket())
        state.invalidate(orgID: "a")
        #expect(state.lookup([1], nowMicros: 0).0 == .miss)
        #expect(state.lookup([2], nowMicros: 0).0 == .hit)
        state.invalidateAll()
        #expect(state.lookup([2], nowMicros: 0).0 == .miss)
    }

    @Test func aCachedKeyExpiresAtItsCachedExpiresAt() {
        var state = KeyCacheState(capacity: 10)
        state.listening()
        state.fill([1], Self.key("a", expires: 1_000), ticket: state.ticket())
        #expect(state.lookup([1], nowMicros: 999).0 == .hit)
        #expect(state.lookup([1], nowMicros: 1_000).0 == .expired)
    }

    @Test func theCacheStaysWithinItsCapacity() {
        var state = KeyCacheState(capacity: 3)
        state.listening()
        for index in 0..<10 { state.fill([UInt8(index)], Self.key("a"), ticket: state.ticket()) }
        #expect(state.count == 3)
        #expect(state.lookup([9], nowMicros: 0).0 == .hit)  // the newest is kept
    }

    @Test func anEntryOlderThanItsMaximumAgeIsAskedAgainWhateverTheNotifications() {
        var state = KeyCacheState(capacity: 10)
        state.listening()
        let filled = ContinuousClock.now
        state.fill([1], Self.key("a"), ticket: state.ticket(), at: filled)
        state.fill([2], Self.key("b", expires: 1_000), ticket: state.ticket(), at: filled)
        #expect(state.lookup([1], nowMicros: 0, now: filled + KeyCacheState.maximumAge / 2).0 == .hit)
        #expect(state.lookup([1], nowMicros: 0, now: filled + KeyCacheState.maximumAge).0 == .miss)
        // An expired key is refused locally for longer (expiry only moves by an edit, which notifies).
        #expect(state.lookup([2], nowMicros: 2_000, now: filled + KeyCacheState.maximumAge * 2).0 == .expired)
        #expect(state.lookup([2], nowMicros: 2_000, now: filled + KeyCacheState.expiredAnsweredFor).0 == .miss)
    }
}
