/// One client connection, owned and touched only by its loop thread (`LoopRunner`): the socket,
/// its buffers and parser, and the state machine that says what to do with them.
final class Connection {
    let fd: Int32
    let id: UInt64
    let peerAddress: String
    var machine: ConnectionStateMachine
    var parser: HTTPParser
    var input: [UInt8] = []
    var inputStart = 0
    var output: [UInt8] = []
    /// The pending output last added to the loop's ``LoopRunner/bufferedOutput``.
    var accountedOutput = 0
    var outputSent = 0
    /// The last send would block: wait for EPOLLOUT.
    var isWaitingForWritable = false
    var isQueuedForInput = false
    var isQueuedForFlush = false
    /// The socket is closed; the loop drops the connection from its queues.
    var isClosed = false

    init(fd: Int32, id: UInt64, peerAddress: String, limits: HTTPParser.Limits, machine: ConnectionStateMachine) {
        self.fd = fd
        self.id = id
        self.peerAddress = peerAddress
        self.machine = machine
        self.parser = HTTPParser(limits: limits)
        input.reserveCapacity(4096)
        output.reserveCapacity(4096)
    }

    var unconsumedInput: Int { input.count - inputStart }
    var pendingOutput: Int { output.count - outputSent }
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
