import Foundation
import Synchronization

/// Threads that run blocking work (libpq calls) off the event loops. The queue is bounded: past
/// `maxQueued` waiting jobs, `submit` refuses and the caller answers 503 at once.
final class WorkerPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var isStopped = false
    }

    private let state = Mutex(State())
    private let condition = NSCondition()
    private let maxQueued: Int

    init(threads: Int, maxQueued: Int) {
        self.maxQueued = maxQueued
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in self.workLoop() }
            thread.name = "worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Queues `job`; false when the queue is full or the pool stopped.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.isStopped, state.jobs.count - state.head < maxQueued else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted {
            condition.lock()
            condition.signal()
            condition.unlock()
        }
        return accepted
    }

    /// Lets the workers finish what is queued, then end.
    func stop() {
        state.withLock { $0.isStopped = true }
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private func next() -> (@Sendable () -> Void)? {
        state.withLock { state -> (@Sendable () -> Void)? in
            guard state.head < state.jobs.count else { return nil }
            let job = state.jobs[state.head]
            state.head += 1
            if state.head > 1024, state.head * 2 > state.jobs.count {
                state.jobs.removeFirst(state.head)
                state.head = 0
            }
            return job
        }
    }

    private func workLoop() {
        while true {
            if let job = next() {
                job()
                continue
            }
            condition.lock()
            // Re-check under the condition's lock so a signal between next() and wait() is not lost.
            let (hasWork, isStopped) = state.withLock { ($0.head < $0.jobs.count, $0.isStopped) }
            if !hasWork {
                if isStopped {
                    condition.unlock()
                    return
                }
                condition.wait()
            }
            condition.unlock()
        }
    }
}
