import Synchronization

/// The instance's rate-limit leases: key hash → ``LeaseState``, behind a lock. Bounded: past
/// ``capacity`` keys an arbitrary lease is dropped (its tokens are lost, an under-admission of at
/// most one lease).
final class Leases: Sendable {
    static let capacity = 10_000
    private let table = Mutex<[[UInt8]: LeaseState]>([:])
    /// Tokens of leases dropped (an invalidation, eviction, a changed limit), for the stranding account.
    private let dropped = Atomic<Int>(0)

    /// The action for a request of the key `hash` (of `orgID`, whose tighter limit is `limit`).
    func request(_ hash: [UInt8], orgID: String, limit: Int, now: ContinuousClock.Instant) -> LeaseState.Action {
        table.withLock { table in
            if table[hash] == nil, table.count >= Self.capacity, let victim = table.keys.first {
                dropped.add(table[victim]?.tokens ?? 0, ordering: .relaxed)
                table[victim] = nil
            }
            var lease = table[hash] ?? LeaseState(orgID: orgID, limit: limit)
            if lease.maximum != LeaseState.maximumLease(limit: limit) || lease.orgID != orgID {
                dropped.add(lease.tokens + lease.expiredTokens, ordering: .relaxed)
                lease = LeaseState(orgID: orgID, limit: limit)  // the limit changed: start afresh
            }
            let action = lease.request(now: now)
            table[hash] = lease
            return action
        }
    }

    func granted(_ hash: [UInt8], _ granted: Int, keyTat: Int64?, tenantTat: Int64?, remaining: Int,
                 resetSeconds: Int, now: ContinuousClock.Instant) {
        table.withLock {
            $0[hash]?.granted(granted, keyTat: keyTat, tenantTat: tenantTat, remaining: remaining,
                              resetSeconds: resetSeconds, now: now)
        }
    }

    func refused(_ hash: [UInt8]) {
        table.withLock { $0[hash]?.refused() }
    }

    /// Drops the leases of `orgID`'s keys (its keys, plan or limits changed).
    func drop(orgID: String) {
        table.withLock { table in
            for lease in table.values where lease.orgID == orgID {
                dropped.add(lease.tokens + lease.expiredTokens, ordering: .relaxed)
            }
            table = table.filter { $0.value.orgID != orgID }
        }
    }

    func dropAll() {
        table.withLock { table in
            for lease in table.values { dropped.add(lease.tokens + lease.expiredTokens, ordering: .relaxed) }
            table.removeAll()
        }
    }

    /// Leased tokens of `orgID`'s keys not (yet) used by a request on this instance: held in live
    /// leases, and left in expired ones. What leasing can have under-admitted is at most this
    /// (plus ``droppedTokens``).
    func unusedTokens(orgID: String) -> (held: Int, expired: Int) {
        table.withLock { table in
            table.values.filter { $0.orgID == orgID }.reduce((0, 0)) { ($0.0 + $1.tokens, $0.1 + $1.expiredTokens) }
        }
    }

    /// Tokens of leases dropped before use (invalidations, evictions, changed limits).
    var droppedTokens: Int { dropped.load(ordering: .relaxed) }
}
