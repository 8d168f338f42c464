import Synchronization

/// The instance's rate-limit leases: key hash → ``LeaseState``, behind a lock. Bounded: past
/// ``capacity`` keys an arbitrary lease is dropped (its tokens are lost, an under-admission of at
/// most one lease).
final class Leases: Sendable {
    static let capacity = 10_000
    private let table = Mutex<[[UInt8]: LeaseState]>([:])

    /// The action for a request of the key `hash` (of `orgID`, whose tighter limit is `limit`).
    func request(_ hash: [UInt8], orgID: String, limit: Int, now: ContinuousClock.Instant) -> LeaseState.Action {
        table.withLock { table in
            if table[hash] == nil, table.count >= Self.capacity, let victim = table.keys.first { table[victim] = nil }
            var lease = table[hash] ?? LeaseState(orgID: orgID, limit: limit)
            if lease.maximum != LeaseState.maximumLease(limit: limit) || lease.orgID != orgID {
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
        table.withLock { table in table = table.filter { $0.value.orgID != orgID } }
    }

    func dropAll() {
        table.withLock { $0.removeAll() }
    }
}
