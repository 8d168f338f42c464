import Foundation
import Synchronization

/// Bounds how many expensive requests (full-text queries, extractions) one tenant runs at once on
/// this instance, so a tenant cannot take every database connection and starve the others. A
/// request over the bound waits for a slot up to `wait`, then gets 503 with `Retry-After`.
final class TenantSlots: Sendable {
    private let perTenant: Int
    private let wait: Duration
    private let inUse = Mutex<[String: Int]>([:])
    private let released = NSCondition()

    init(perTenant: Int, wait: Duration) {
        self.perTenant = max(1, perTenant)
        self.wait = wait
    }

    /// Runs `body` holding one of `orgID`'s slots.
    func withSlot<T>(_ orgID: String, _ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        released.lock()
        while !inUse.withLock({ table in
            guard table[orgID, default: 0] < perTenant else { return false }
            table[orgID, default: 0] += 1
            return true
        }) {
            guard released.wait(until: deadline) || Date() < deadline else {
                released.unlock()
                throw APIError(status: 503, code: "service_unavailable",
                               message: "too many concurrent queries for this tenant; retry shortly", retryAfter: 1)
            }
        }
        released.unlock()
        defer {
            inUse.withLock { table in
                table[orgID, default: 1] -= 1
                if table[orgID] == 0 { table[orgID] = nil }
            }
            released.lock()
            released.broadcast()
            released.unlock()
        }
        return try body()
    }
}
