import Foundation

/// Counts running loops; `wait` blocks until none is left.
///
/// Invariant: `running` is read and written only while `condition` is locked.
final class StopLatch: @unchecked Sendable {
    private let condition = NSCondition()
    private var running = 0

    func enter() {
        condition.lock()
        running += 1
        condition.unlock()
    }

    func leave() {
        condition.lock()
        running -= 1
        condition.unlock()
        condition.broadcast()
    }

    func wait() {
        condition.lock()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}
