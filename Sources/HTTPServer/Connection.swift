/// One client connection, owned and touched only by its loop thread (`LoopRunner`).
final class Connection {
    /// What the connection is doing.
    enum Phase {
        /// Reading (and parsing) a request; no request is being answered.
        case reading
        /// A request was handed to the handler; its answer is awaited.
        case awaitingResponse(RequestContext)
        /// A streamed response is being written.
        case streaming(RequestContext, StreamProgress)
        /// The last response is sent and the write side shut down; input is read and dropped until
        /// the peer closes (so the response is not lost to a reset), or the linger time passes.
        case lingering
    }

    /// Which deadline is armed.
    enum Timer {
        case none
        /// A new connection with nothing received: close silently.
        case fresh
        /// A keep-alive connection between requests: close silently.
        case idle
        /// A head has started: 408 when it does not complete in time.
        case head
        /// A body is being read: 408 when it does not complete in time.
        case body
        /// Lingering after the last response.
        case linger
    }

    let fd: Int32
    let id: UInt64
    let peerAddress: String
    var parser: HTTPParser
    var input: [UInt8] = []
    var inputStart = 0
    var output: [UInt8] = []
    var outputSent = 0
    var phase: Phase = .reading
    var timer: Timer = .fresh
    var deadline: Int64 = 0
    /// When output last made progress (or became pending), for the stalled-reader timeout.
    var lastWriteProgress: Int64 = 0
    var requestNumber: UInt64 = 0
    /// The head whose body is being read.
    var pendingHead: HTTPRequestHead?
    /// The peer shut its write side (read returned 0).
    var isReadClosed = false
    /// Close (after lingering) once the output is flushed; parse no further request.
    var closeAfterFlush = false
    /// The last send would block: wait for EPOLLOUT.
    var isWaitingForWritable = false
    var registeredEvents: UInt32 = 0
    var isQueuedForInput = false
    var isQueuedForFlush = false
    var isClosed = false
    /// The last response refused the request before its body was read: linger so it is not lost.
    var wasRefused = false

    init(fd: Int32, id: UInt64, peerAddress: String, limits: HTTPParser.Limits) {
        self.fd = fd
        self.id = id
        self.peerAddress = peerAddress
        self.parser = HTTPParser(limits: limits)
        input.reserveCapacity(4096)
        output.reserveCapacity(4096)
    }

    var unconsumedInput: Int { input.count - inputStart }
    var pendingOutput: Int { output.count - outputSent }

    var isReading: Bool {
        if case .reading = phase { return true }
        return false
    }
}

/// What the loop must know of a request being answered, for the response and its log line.
struct RequestContext {
    var method: String
    var path: String
    var isHead: Bool
    var version: HTTPVersion
    var isKeepAlive: Bool
    var requestID: String
    var startedAt: Int64
    var number: UInt64
}

/// The state of a streamed response.
struct StreamProgress {
    var state: StreamState
    var isChunked: Bool
    var bodyBytes: Int
    var status: Int
    var logFields: [(key: String, value: String)]
}
