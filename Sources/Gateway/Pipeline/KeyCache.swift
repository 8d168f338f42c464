import Synchronization

/// The instance's key cache (``KeyCacheState`` behind a lock), shared by all worker threads.
final class KeyCache: Sendable {
    /// Keys cached at most (each a few hundred bytes).
    static let defaultCapacity = 10_000

    private let state: Mutex<KeyCacheState>

    init(capacity: Int = KeyCache.defaultCapacity) {
        state = Mutex(KeyCacheState(capacity: capacity))
    }

    /// Whether the cache is on (the listener listens).
    var isListening: Bool { state.withLock { $0.isListening } }
    /// Keys cached now.
    var count: Int { state.withLock { $0.count } }

    func listening() { state.withLock { $0.listening() } }
    func lost() { state.withLock { $0.lost() } }
    func invalidate(orgID: String) { state.withLock { $0.invalidate(orgID: orgID) } }
    func invalidateAll() { state.withLock { $0.invalidateAll() } }
    func ticket() -> UInt64? { state.withLock { $0.ticket() } }

    func fill(_ hash: [UInt8], _ key: CachedKey, ticket: UInt64?, at filledAt: ContinuousClock.Instant) {
        state.withLock { _ = $0.fill(hash, key, ticket: ticket, at: filledAt) }
    }

    func refresh(_ hash: [UInt8], rateLimit: RateLimitState) {
        state.withLock { $0.refresh(hash, rateLimit: rateLimit) }
    }

    func lookup(_ hash: [UInt8], nowMicros: Int64) -> (KeyCacheState.Lookup, CachedKey?) {
        state.withLock { $0.lookup(hash, nowMicros: nowMicros) }
    }
}
