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
        condition.unlock()
        if wake { condition.broadcast() }
    }

    /// Called by the loop when the connection is closed: wakes and fails every writer.
    func clientGone() {
        condition.lock()
        isClientGone = true
        condition.unlock()
        condition.broadcast()
    }
}
