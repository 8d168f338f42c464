import Synchronization

/// Answers one request. Sendable: use it from any thread, exactly once (later calls are ignored).
public final class HTTPResponder: Sendable {
    private let loop: EventLoop
    private let target: ResponseTarget
    private let isAnswered = Atomic<Bool>(false)

    init(loop: EventLoop, target: ResponseTarget) {
        self.loop = loop
        self.target = target
    }

    /// Sends `response`. On the loop thread it is written at once; from elsewhere it is queued and the loop woken.
    public func respond(_ response: HTTPResponse) {
        guard !isAnswered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.post(.response(target, response))
    }

    /// Starts a streamed response: chunked in HTTP/1.1, delimited by closing the connection in 1.0.
    public func startStream(
        status: Int, headers: HTTPHeaders, logFields: [(key: String, value: String)]
    ) -> HTTPBodyStream {
        let state = StreamState()
        guard !isAnswered.exchange(true, ordering: .acquiringAndReleasing) else {
            state.clientGone()
            return HTTPBodyStream(loop: loop, target: target, state: state)
        }
        loop.post(.streamStart(target, status: status, headers: headers, logFields: logFields, state))
        return HTTPBodyStream(loop: loop, target: target, state: state)
    }
}

/// The body of a streamed response. Write from a thread that is not an event loop.
public final class HTTPBodyStream: Sendable {
    private let loop: EventLoop
    private let target: ResponseTarget
    private let state: StreamState

    init(loop: EventLoop, target: ResponseTarget, state: StreamState) {
        self.loop = loop
        self.target = target
        self.state = state
    }

    /// Queues bytes. Blocks while more than about 1 MiB is queued unsent, so memory stays bounded;
    /// returns false once the client is gone (or after `finish`).
    public func write(_ bytes: [UInt8]) -> Bool {
        if bytes.isEmpty { return true }
        guard state.reserve(bytes.count, mayBlock: !loop.isCurrentThread) else { return false }
        loop.post(.streamData(target, bytes))
        return true
    }

    /// Calls `callback` once every byte written so far has been handed to the client's socket (or
    /// the client is gone), so a producer can write its next part without blocking a thread in
    /// between: at once when nothing is queued, otherwise on the event loop (so `callback` must
    /// only schedule work, never block).
    public func whenDrained(_ callback: @escaping @Sendable () -> Void) {
        state.whenDrained(callback)
    }

    /// Whether the client is still connected and the response not finished.
    public var isOpen: Bool { state.isOpen }

    /// Ends the response. Later calls are ignored.
    public func finish() {
        if state.markFinished() {
            loop.post(.streamEnd(target))
        }
    }

    /// Ends the response as failed: what was queued is sent, then the connection is closed without
    /// the terminating chunk, so the client sees a truncated body instead of a complete one.
    /// Later calls, and `finish` after it, are ignored.
    public func abort() {
        if state.markFinished() {
            loop.post(.streamAbort(target))
        }
    }
}
