import Foundation

/// The flow-control state shared by an `HTTPBodyStream` (producer thread) and its event loop.
///
/// Invariant: every stored property is read and written only while `condition` is locked. The
/// producer waits on `condition` while `queuedBytes` is over the high-water mark; the loop lowers
/// `queuedBytes` as it sends and signals, and sets `isClientGone` when the connection closes.
final class StreamState: @unchecked Sendable {
    /// Bytes handed to the loop but not yet sent, above which `write` blocks.
    static let highWaterMark = 1 << 20

    private let condition = NSCondition()
    private var queuedBytes = 0
    private var isClientGone = false
    private var isFinished = false
    /// Called once when `queuedBytes` reaches 0 or the client goes (see `whenDrained`).
    private var drained: (@Sendable () -> Void)?

    /// Reserves room for `count` bytes, blocking while too much is queued unless `mayBlock` is false.
    /// Returns false once the client is gone or the stream finished.
    func reserve(_ count: Int, mayBlock: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while mayBlock && queuedBytes > StreamState.highWaterMark && !isClientGone {
            condition.wait()
        }
        guard !isClientGone, !isFinished else { return false }
        queuedBytes += count
        return true
    }

    /// Marks the stream finished; returns false when it already was (or the client is gone).
    func markFinished() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isFinished else { return false }
        isFinished = true
        return !isClientGone
    }

    /// Called by the loop after sending `count` bytes of this stream's connection.
    func didSend(_ count: Int) {
        condition.lock()
        queuedBytes = max(0, queuedBytes - count)
        let wake = queuedBytes <= StreamState.highWaterMark
        let callback = queuedBytes == 0 ? drained : nil
        if callback != nil { drained = nil }
        condition.unlock()
        if wake { condition.broadcast() }
        callback?()
    }

    /// Called by the loop when the connection is closed: wakes and fails every writer.
    func clientGone() {
        condition.lock()
        isClientGone = true
        let callback = drained
        drained = nil
        condition.unlock()
        condition.broadcast()
        callback?()
    }

    /// Calls `callback` once everything queued has been handed to the socket, or the client is
    /// gone: at once when that is already so, else on the loop thread that sends the last byte.
    /// A later call replaces a callback not yet called.
    func whenDrained(_ callback: @escaping @Sendable () -> Void) {
        condition.lock()
        let now = queuedBytes == 0 || isClientGone
        drained = now ? nil : callback
        condition.unlock()
        if now { callback() }
    }

    /// Whether the client is still there and the stream not finished.
    var isOpen: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !isClientGone && !isFinished
    }
}
