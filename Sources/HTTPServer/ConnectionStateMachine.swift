/// The life of one connection as data: what it is doing, which deadline is armed, and what its
/// owner (`LoopRunner`) must do next.
///
/// Events come in as `mutating` methods (bytes read, head parsed, response posted, flushed, read
/// EOF, timer fired, drain); each returns an action the owner performs (dispatch, write, shut down
/// the write side, close, change interest). The machine does no I/O and reads no clock: times are
/// passed in as monotonic nanoseconds, and its deadlines are data the owner checks on each timer
/// tick (`timerFired(now:)`). Events the peer or the handler can cause at any time (a late
/// response, bytes while lingering, a second EOF) are handled; events only a bug in the owner can
/// cause (a body without a head) trap.
///
/// Modelled on swift-nio's `HTTPServerPipelineHandler` state and hummingbird's
/// `HTTPConnectionStateHandler`: one request at a time is answered, so pipelined responses keep
/// their order; after the last response the write side is shut down and the connection closed.
struct ConnectionStateMachine {
    /// The timeouts a connection obeys, in nanoseconds.
    struct Timeouts {
        /// From a new connection, or a request's first byte, to its complete head (408 after).
        var head: Int64
        /// From a complete head to its complete body (408 after).
        var body: Int64
        /// Between requests on a keep-alive connection (silent close after).
        var idle: Int64
        /// With output pending, the longest time the peer may accept no bytes (close after).
        var writeStall: Int64
        /// After the last response, how long input is read and dropped before closing.
        var linger: Int64

        init(_ configuration: HTTPServerConfiguration) {
            head = configuration.headTimeout.nanoseconds
            body = configuration.bodyTimeout.nanoseconds
            idle = configuration.idleTimeout.nanoseconds
            writeStall = configuration.writeStallTimeout.nanoseconds
            linger = 2_000_000_000
        }

        init(head: Int64, body: Int64, idle: Int64, writeStall: Int64, linger: Int64) {
            self.head = head
            self.body = body
            self.idle = idle
            self.writeStall = writeStall
            self.linger = linger
        }
    }

    /// What the connection is doing.
    enum State {
        /// Between requests, nothing of the next one parsed; `isFresh` until a first byte came.
        case idle(isFresh: Bool)
        /// A request head has started arriving.
        case readingHead
        /// A head is complete and its body is being read.
        case readingBody(HTTPRequestHead, requestID: String)
        /// A request is with the handler; its answer is awaited.
        case awaitingResponse(RequestContext)
        /// A streamed response is being written.
        case streaming(RequestContext, StreamProgress)
        /// The last response is queued; once flushed the write side is shut down. `lingers` when
        /// that response refused a request whose input may still be arriving (so it is read and
        /// dropped, not reset away).
        case closing(lingers: Bool)
        /// The write side is shut down; input is read and dropped until the peer closes.
        case lingering
        /// Closed; no further event is legal.
        case closed
    }

    /// Which socket events the owner must wait for.
    struct Interest: Equatable {
        var isReadable: Bool
        var isWritable: Bool
    }

    /// What the owner must do after an event.
    enum Action {
        /// Nothing.
        case none
        /// Parse the buffered input (queue the connection for input).
        case parse
        /// Drop the bytes just read.
        case discardInput
        /// Hand the request to the handler.
        case dispatch(HTTPRequestHead, body: [UInt8], RequestContext)
        /// Queue `100 Continue` before reading the body.
        case writeContinue
        /// Encode and queue the handler's response; `isClosing` says `Connection: close`.
        case writeResponse(HTTPResponse, RequestContext, isClosing: Bool)
        /// Refuse the request with an error response of the server's own, then close.
        case writeRefusal(status: Int, code: String, message: String, RequestContext)
        /// Encode and queue a stream's head.
        case startStream(RequestContext, status: Int, HTTPHeaders, isChunked: Bool, isClosing: Bool)
        /// The stream was for a request that is no longer answered here: fail its producer.
        case abandonStream(StreamState)
        /// Queue a stream's bytes, in chunked framing when `isChunked`.
        case writeStreamData([UInt8], isChunked: Bool)
        /// Count a stream's bytes as sent without sending them (a HEAD request).
        case skipStreamData(StreamState, count: Int)
        /// Queue a stream's end (the last chunk when `writesLastChunk`) and log it.
        case finishStream(RequestContext, StreamProgress, writesLastChunk: Bool)
        /// Log an aborted stream; the connection closes without the last chunk.
        case abortStream(RequestContext, StreamProgress)
        /// Flush the output (queue the connection for flushing).
        case flush
        /// Shut the write side down, then read and drop input until the peer closes.
        case shutDownWriteAndLinger
        /// Shut the write side down, drop what is buffered and close.
        case shutDownWriteAndClose
        /// Close the connection.
        case close
    }

    private(set) var state: State = .idle(isFresh: true)
    /// The deadline of the current state (idle, head, body, linger), monotonic nanoseconds.
    private(set) var deadline: Int64
    /// While output is pending: when the peer will have accepted no bytes for too long.
    private(set) var stallDeadline: Int64?
    /// The peer shut its write side.
    private(set) var isReadClosed = false
    /// The server is shutting down: answer what is in flight, then close.
    private(set) var isDraining = false
    /// The number of requests dispatched so far.
    private(set) var requestNumber: UInt64 = 0
    /// The interest last reported to the owner.
    private(set) var registeredInterest = Interest(isReadable: true, isWritable: false)
    private let timeouts: Timeouts

    /// Stop reading a connection whose unsent output is over this (backpressure).
    static let maxPendingOutput = 1 << 20
    /// Stop reading a connection awaiting an answer once this much input is buffered.
    static let maxBufferedInput = 64 * 1024

    /// A connection accepted at `now`: a head must start and complete within the head timeout.
    init(timeouts: Timeouts, now: Int64, isDraining: Bool = false) {
        self.timeouts = timeouts
        self.deadline = now + timeouts.head
        self.isDraining = isDraining
    }

    /// Whether the parser may run: a request is being read and none is being answered.
    var isParsing: Bool {
        switch state {
        case .idle, .readingHead, .readingBody: return true
        case .awaitingResponse, .streaming, .closing, .lingering, .closed: return false
        }
    }

    /// The state of the stream being written, if any.
    var streamState: StreamState? {
        if case .streaming(_, let progress) = state { return progress.state }
        return nil
    }

    // MARK: - Reading

    /// Bytes arrived from the peer.
    mutating func bytesRead() -> Action {
        switch state {
        case .lingering: return .discardInput
        case .idle, .readingHead, .readingBody, .awaitingResponse, .streaming, .closing: return .parse
        case .closed: preconditionFailure("bytes read on a closed connection")
        }
    }

    /// The peer shut its write side (a read returned 0).
    mutating func readEOF() -> Action {
        switch state {
        case .lingering: return .close
        case .idle, .readingHead, .readingBody, .awaitingResponse, .streaming, .closing:
            isReadClosed = true
            return .parse
        case .closed: preconditionFailure("EOF read on a closed connection")
        }
    }

    /// The parser completed a head. A head without a body is dispatched at once.
    /// - Parameters:
    ///   - requestID: the incoming request id when valid, else a generated one.
    ///   - hasBufferedInput: whether input follows the head (then no `100 Continue`: the body is coming).
    mutating func headParsed(
        _ head: HTTPRequestHead, requestID: String, hasBufferedInput: Bool, now: Int64
    ) -> Action {
        switch state {
        case .idle, .readingHead:
            if head.framing == .none {
                return dispatch(head, body: [], requestID: requestID, now: now)
            }
            state = .readingBody(head, requestID: requestID)
            deadline = now + timeouts.body
            if head.expectsContinue && head.version == .http1_1 && !hasBufferedInput { return .writeContinue }
            return .none
        case .readingBody, .awaitingResponse, .streaming, .closing, .lingering, .closed:
            preconditionFailure("head parsed while \(state)")
        }
    }

    /// The parser completed the body of the head being read.
    mutating func bodyParsed(_ body: [UInt8], now: Int64) -> Action {
        guard case .readingBody(let head, let requestID) = state else {
            preconditionFailure("body parsed while \(state)")
        }
        return dispatch(head, body: body, requestID: requestID, now: now)
    }

    private mutating func dispatch(_ head: HTTPRequestHead, body: [UInt8], requestID: String, now: Int64) -> Action {
        requestNumber += 1
        let context = RequestContext(
            method: head.method, path: String(head.path), isHead: head.method == "HEAD", version: head.version,
            isKeepAlive: head.isKeepAlive, requestID: requestID, startedAt: now, number: requestNumber)
        state = .awaitingResponse(context)
        return .dispatch(head, body: body, context)
    }

    /// The parser refused the input: answer once with the error and close, never resynchronise.
    /// - Parameters: what the parser saw of the request line, for the response and the log.
    mutating func parseFailed(
        _ error: HTTPParseError, method: String?, target: String?, requestID: String, now: Int64
    ) -> Action {
        guard isParsing else { preconditionFailure("parse error while \(state)") }
        return refuse(
            status: error.status, code: error.code, message: error.message, method: method, target: target,
            requestID: requestID, now: now)
    }

    private mutating func refuse(
        status: Int, code: String, message: String, method: String?, target: String?, requestID: String, now: Int64
    ) -> Action {
        var path = target ?? "-"
        if let q = path.utf8.firstIndex(of: UInt8(ascii: "?")) { path = String(path[..<q]) }
        let context = RequestContext(
            method: method ?? "-", path: path, isHead: method == "HEAD", version: .http1_1, isKeepAlive: false,
            requestID: requestID, startedAt: now, number: requestNumber)
        state = .closing(lingers: true)
        return .writeRefusal(status: status, code: code, message: message, context)
    }

    /// The parser consumed what it could. Arms the deadline for what is being read, or closes
    /// after flushing when the peer or the server is done.
    /// - Parameters:
    ///   - hasBufferedInput: whether unparsed input remains.
    ///   - isAtRequestStart: whether the parser has seen nothing of a next request.
    ///   - isReadingBody: whether the parser is inside a body.
    mutating func inputConsumed(
        hasBufferedInput: Bool, isAtRequestStart: Bool, isReadingBody: Bool, now: Int64
    ) -> Action {
        switch state {
        case .idle:
            if hasBufferedInput || !isAtRequestStart {
                // The head timeout runs from the first byte of a request.
                state = .readingHead
                deadline = now + timeouts.head
            } else if isReadClosed || isDraining {
                state = .closing(lingers: false)
                return .flush
            }
        case .readingHead:
            precondition(!isReadingBody, "the parser reads a body the machine has no head for")
            if !hasBufferedInput && isAtRequestStart {
                state = .idle(isFresh: false)
                deadline = now + timeouts.idle
            }
        case .readingBody:
            break
        case .awaitingResponse, .streaming, .closing, .lingering, .closed:
            return .none
        }
        if isReadClosed, isParsing {
            // The peer stopped sending in the middle of a request: it cannot complete.
            state = .closing(lingers: false)
            return .flush
        }
        return .none
    }

    // MARK: - Responses

    /// The handler posted the response to request `number`.
    /// - Parameters:
    ///   - handlerCloses: the response carries `Connection: close`.
    ///   - hasBufferedInput: pipelined input waits (so a half-closed peer still gets its answers).
    mutating func responsePosted(
        _ response: HTTPResponse, number: UInt64, handlerCloses: Bool, hasBufferedInput: Bool, now: Int64
    ) -> Action {
        guard case .awaitingResponse(let context) = state, context.number == number else {
            // A response for a request this connection no longer waits for: drop it.
            return .none
        }
        let isClosing = !context.isKeepAlive || isDraining || handlerCloses || (isReadClosed && !hasBufferedInput)
        if isClosing {
            state = .closing(lingers: false)
        } else {
            state = .idle(isFresh: false)
            deadline = now + timeouts.idle
        }
        return .writeResponse(response, context, isClosing: isClosing)
    }

    /// The handler started a streamed response to request `number`.
    mutating func streamStarted(
        number: UInt64, status: Int, headers: HTTPHeaders, logFields: [(key: String, value: String)],
        state stream: StreamState
    ) -> Action {
        guard case .awaitingResponse(var context) = state, context.number == number else {
            return .abandonStream(stream)
        }
        let isChunked = context.version == .http1_1
        let isClosing = !isChunked || !context.isKeepAlive || isDraining || isReadClosed
        context.isKeepAlive = !isClosing
        state = .streaming(
            context, StreamProgress(state: stream, isChunked: isChunked, bodyBytes: 0, status: status, logFields: logFields))
        return .startStream(context, status: status, headers, isChunked: isChunked, isClosing: isClosing)
    }

    /// The handler sent `count` bytes of the stream of request `number`.
    mutating func streamDataPosted(number: UInt64, bytes: [UInt8]) -> Action {
        guard case .streaming(let context, var progress) = state, context.number == number else { return .none }
        if context.isHead { return .skipStreamData(progress.state, count: bytes.count) }
        progress.bodyBytes += bytes.count
        state = .streaming(context, progress)
        return .writeStreamData(bytes, isChunked: progress.isChunked)
    }

    /// The handler finished the stream of request `number`.
    mutating func streamEnded(number: UInt64, now: Int64) -> Action {
        guard case .streaming(let context, let progress) = state, context.number == number else { return .none }
        if !progress.isChunked || !context.isKeepAlive || isDraining {
            state = .closing(lingers: false)
        } else {
            state = .idle(isFresh: false)
            deadline = now + timeouts.idle
        }
        return .finishStream(context, progress, writesLastChunk: progress.isChunked && !context.isHead)
    }

    /// The handler gave up on the stream of request `number`: close without its end.
    mutating func streamAborted(number: UInt64) -> Action {
        guard case .streaming(let context, let progress) = state, context.number == number else { return .none }
        state = .closing(lingers: false)
        return .abortStream(context, progress)
    }

    // MARK: - Writing

    /// Output was queued; arms the write-stall deadline unless it already runs.
    mutating func outputQueued(now: Int64) {
        if stallDeadline == nil { stallDeadline = now + timeouts.writeStall }
    }

    /// The peer accepted some output and some is still pending.
    mutating func outputSent(now: Int64) {
        stallDeadline = now + timeouts.writeStall
    }

    /// All output is sent.
    mutating func outputFlushed(now: Int64) -> Action {
        stallDeadline = nil
        guard case .closing(let lingers) = state else { return .none }
        if isReadClosed { return .close }
        if !lingers { return .shutDownWriteAndClose }
        state = .lingering
        deadline = now + timeouts.linger
        return .shutDownWriteAndLinger
    }

    /// Which events to wait for; nil when the registered interest is still right.
    /// - Parameters: the owner's buffer sizes and whether its last send would have blocked.
    mutating func interestChange(pendingOutput: Int, bufferedInput: Int, isWaitingForWritable: Bool) -> Interest? {
        var isReadable = !isReadClosed && pendingOutput < Self.maxPendingOutput
        switch state {
        case .idle, .readingHead, .readingBody, .lingering:
            break
        case .awaitingResponse, .streaming:
            isReadable = isReadable && bufferedInput < Self.maxBufferedInput
        case .closing, .closed:
            isReadable = false
        }
        let interest = Interest(isReadable: isReadable, isWritable: isWaitingForWritable)
        if interest == registeredInterest { return nil }
        registeredInterest = interest
        return interest
    }

    /// Whether pending output has waited since before `instant` without the peer accepting a byte
    /// (for closing stalled readers early under memory pressure).
    func isOutputStalled(since instant: Int64) -> Bool {
        guard let stall = stallDeadline else { return false }
        return stall - timeouts.writeStall <= instant
    }

    // MARK: - Timers and shutdown

    /// The periodic timer tick: closes a stalled reader, times out a slow request or an idle connection.
    mutating func timerFired(now: Int64) -> Action {
        if let stall = stallDeadline, now >= stall {
            return .close
        }
        switch state {
        case .idle, .lingering:
            if now >= deadline { return .close }
        case .readingHead:
            if now >= deadline {
                return refuse(
                    status: 408, code: "request_timeout", message: "The request took too long to arrive.", method: nil,
                    target: nil, requestID: RequestID.generate(), now: now)
            }
        case .readingBody(let head, let requestID):
            if now >= deadline {
                return refuse(
                    status: 408, code: "request_timeout", message: "The request took too long to arrive.",
                    method: head.method, target: head.target, requestID: requestID, now: now)
            }
        case .awaitingResponse, .streaming, .closing, .closed:
            break
        }
        return .none
    }

    /// The server started shutting down: close at once when nothing is in flight, else after it.
    mutating func drain(hasBufferedInput: Bool, hasPendingOutput: Bool) -> Action {
        isDraining = true
        switch state {
        case .idle, .closing:
            if !hasBufferedInput && !hasPendingOutput { return .close }
        case .readingHead, .readingBody, .awaitingResponse, .streaming, .lingering, .closed:
            break
        }
        return .none
    }

    /// The owner closed the socket (after a `.close` action, a socket error, or at the end of the
    /// loop). Returns the state of a stream that was being written, whose producer must be failed.
    mutating func closed() -> StreamState? {
        let stream = streamState
        state = .closed
        stallDeadline = nil
        return stream
    }
}
