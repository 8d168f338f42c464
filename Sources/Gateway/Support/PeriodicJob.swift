import Foundation
import Synchronization

/// A background thread that runs `work` every `interval` (the first run one interval after
/// ``start(_:)``) until ``stop(deadline:)``: the shared loop of the sweepers and the storage fold.
/// A failing run is logged and retried at the next interval.
final class PeriodicJob: Sendable {
    private let name: String
    private let interval: Duration
    private let failure: String
    private let state = Mutex(State())
    private let wakeup = NSCondition()

    private struct State {
        var isStopped = false
        var isRunning = false
    }

    /// - Parameters:
    ///   - name: the thread's name.
    ///   - failure: the log message when a run throws.
    init(name: String, interval: Duration, failure: String) {
        self.name = name
        self.interval = interval
        self.failure = failure
    }

    /// Whether ``stop(deadline:)`` was called: long work checks it between batches.
    var isStopped: Bool { state.withLock { $0.isStopped } }

    /// Starts the thread, which runs `work` every interval.
    func start(_ work: @escaping @Sendable () throws -> Void) {
        state.withLock { $0.isRunning = true }
        let thread = Thread { [self] in
            loop(work)
            wakeup.lock()
            state.withLock { $0.isRunning = false }
            wakeup.broadcast()
            wakeup.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the thread and waits up to `deadline` for a run in progress to end.
    func stop(deadline: Duration = .seconds(5)) {
        let until = Date(timeIntervalSinceNow: Self.seconds(deadline))
        wakeup.lock()
        state.withLock { $0.isStopped = true }
        wakeup.broadcast()
        while state.withLock({ $0.isRunning }), wakeup.wait(until: until) {}
        wakeup.unlock()
    }

    private func loop(_ work: @Sendable () throws -> Void) {
        while true {
            wakeup.lock()
            if !isStopped { _ = wakeup.wait(until: Date(timeIntervalSinceNow: Self.seconds(interval))) }
            wakeup.unlock()
            if isStopped { return }
            do {
                try work()
            } catch {
                Log.error(failure, ["error": "\(error)"])
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
