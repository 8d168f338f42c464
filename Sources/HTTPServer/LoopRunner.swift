import CSystem

#if canImport(Glibc)
import Glibc
#endif

/// The loop-thread half of an event loop: epoll, the listener, the connections, the buffers.
/// Created on its thread and never leaves it.
final class LoopRunner {
    private static let listenerToken: UInt64 = .max
    private static let wakeToken: UInt64 = .max - 1
    /// Stop reading a connection whose unsent output is over this (backpressure).
    private static let maxPendingOutput = 1 << 20
    /// Stop reading a connection awaiting an answer once this much input is buffered.
    private static let maxBufferedInput = 64 * 1024
    private static let readChunk = 64 * 1024
    private static let lingerNanoseconds: Int64 = 2_000_000_000
    private static let timerTick: Int64 = 50_000_000

    private let server: HTTPServer
    private let loop: EventLoop
    private let handler: any HTTPHandler
    private let configuration: HTTPServerConfiguration
    private let limits: HTTPParser.Limits
    private let headTimeout: Int64
    private let bodyTimeout: Int64
    private let idleTimeout: Int64
    private var listenFD: Int32
    private let epollFD: Int32
    private var connections: [Connection?] = []
    private var connectionCount = 0
    private var inputQueue: [Connection] = []
    private var flushQueue: [Connection] = []
    private var messages: [LoopMessage] = []
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var encoder = ResponseEncoder()
    private var logBuffer: [UInt8] = []
    private var nextConnectionID: UInt64 = 0
    private var now: Int64 = 0
    private var nextTimerScan: Int64 = 0
    private var isDraining = false
    /// When accepting is paused after running out of descriptors, the time to resume; 0 otherwise.
    private var acceptPausedUntil: Int64 = 0
    private var drainDeadline: Int64 = 0

    init(server: HTTPServer, loop: EventLoop, listenFD: Int32) throws(HTTPServerError) {
        self.server = server
        self.loop = loop
        self.handler = server.handler
        self.configuration = server.configuration
        self.limits = HTTPParser.Limits(server.configuration)
        self.headTimeout = server.configuration.headTimeout.nanoseconds
        self.bodyTimeout = server.configuration.bodyTimeout.nanoseconds
        self.idleTimeout = server.configuration.idleTimeout.nanoseconds
        self.listenFD = listenFD
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .system("epoll_create1", errno) }
        self.epollFD = epollFD
        readBuffer = .allocate(byteCount: LoopRunner.readChunk, alignment: 16)
        logBuffer.reserveCapacity(64 * 1024)
        add(fd: listenFD, events: EPOLLIN.rawValue, token: LoopRunner.listenerToken)
        add(fd: loop.wakeFD, events: EPOLLIN.rawValue, token: LoopRunner.wakeToken)
    }

    deinit {
        readBuffer.deallocate()
        Glibc.close(epollFD)
    }

    // MARK: - The loop

    /// Runs until a shutdown completes (every connection closed) or its grace period ends.
    func run() {
        loop.bindToCurrentThread()
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let timeout: Int32 = connectionCount > 0 || isDraining || acceptPausedUntil != 0 ? Int32(LoopRunner.timerTick / 1_000_000) : -1
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epollFD, $0.baseAddress, 256, timeout) }
            now = Socket.monotonicNanoseconds()
            encoder.updateClock()
            if count > 0 {
                for i in 0..<Int(count) {
                    let event = events[i]
                    let token = event.data.u64
                    if token == LoopRunner.listenerToken {
                        acceptConnections()
                    } else if token == LoopRunner.wakeToken {
                        loop.acknowledgeWake()
                    } else if let connection = connections[Int(token)], !connection.isClosed {
                        handle(event: event.events, on: connection)
                    }
                }
            }
            drainMailbox()
            processQueues()
            if now >= nextTimerScan {
                nextTimerScan = now + LoopRunner.timerTick
                scanTimers()
                processQueues()
            }
            flushLog()
            if isDraining && (connectionCount == 0 || now >= drainDeadline) {
                break
            }
        }
        for case let connection? in connections where !connection.isClosed {
            close(connection)
        }
        flushLog()
    }

    private func processQueues() {
        while !inputQueue.isEmpty || !flushQueue.isEmpty {
            while let connection = inputQueue.popLast() {
                connection.isQueuedForInput = false
                if !connection.isClosed { processInput(connection) }
            }
            while let connection = flushQueue.popLast() {
                connection.isQueuedForFlush = false
                if !connection.isClosed { flush(connection) }
            }
            drainMailbox()
        }
    }

    // MARK: - Accepting

    private func acceptConnections() {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listenFD, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    // Out of descriptors: the listener would stay readable and spin the loop.
                    // Stop listening for a moment; the timer scan resumes it.
                    _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
                    acceptPausedUntil = now + 100_000_000
                }
                return
            }
            guard server.reserveConnection() else {
                Glibc.close(fd)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            nextConnectionID += 1
            let connection = Connection(
                fd: fd, id: nextConnectionID, peerAddress: Socket.describe(&storage), limits: limits)
            connection.timer = .fresh
            connection.deadline = now + headTimeout
            if Int(fd) >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
            }
            connections[Int(fd)] = connection
            connectionCount += 1
            add(fd: fd, events: EPOLLIN.rawValue, token: UInt64(fd))
            connection.registeredEvents = EPOLLIN.rawValue
        }
    }

    // MARK: - Reading

    private func handle(event: UInt32, on connection: Connection) {
        if event & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            close(connection)
            return
        }
        if event & EPOLLOUT.rawValue != 0 {
            connection.isWaitingForWritable = false
            flush(connection)
            if connection.isClosed { return }
        }
        if event & EPOLLIN.rawValue != 0 {
            read(connection)
        }
    }

    private func read(_ connection: Connection) {
        let received = recv(connection.fd, readBuffer.baseAddress, readBuffer.count, 0)
        if received > 0 {
            if case .lingering = connection.phase { return }
            connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<received]))
            queueInput(connection)
        } else if received == 0 {
            connection.isReadClosed = true
            if case .lingering = connection.phase {
                close(connection)
                return
            }
            queueInput(connection)
            updateInterest(connection)
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            close(connection)
        }
    }

    private func queueInput(_ connection: Connection) {
        if !connection.isQueuedForInput {
            connection.isQueuedForInput = true
            inputQueue.append(connection)
        }
    }

    private func queueFlush(_ connection: Connection) {
        if !connection.isQueuedForFlush {
            connection.isQueuedForFlush = true
            flushQueue.append(connection)
        }
    }

    /// Parses and dispatches what is buffered, one request at a time: the next request is parsed
    /// only once the previous one is answered, so pipelined responses keep their order.
    private func processInput(_ connection: Connection) {
        while connection.isReading && !connection.closeAfterFlush && !connection.isClosed {
            if connection.unconsumedInput == 0 && !connection.parser.isReadingBody { break }
            let start = connection.inputStart
            let (consumed, result) = connection.input.withUnsafeBufferPointer { buffer in
                connection.parser.parse(UnsafeBufferPointer(rebasing: buffer[start...]))
            }
            connection.inputStart += consumed
            switch result {
            case .needMore:
                break
            case .head(let head):
                if head.framing == .none {
                    dispatch(head, body: [], on: connection)
                } else {
                    connection.pendingHead = head
                    connection.timer = .body
                    connection.deadline = now + bodyTimeout
                    if head.expectsContinue && head.version == .http1_1 && connection.unconsumedInput == 0 {
                        connection.output.append(contentsOf: ResponseEncoder.continueResponse)
                        queueFlush(connection)
                    }
                }
                continue
            case .body(let body):
                if let head = connection.pendingHead {
                    connection.pendingHead = nil
                    dispatch(head, body: body, on: connection)
                }
                continue
            case .error(let error):
                let parser = connection.parser
                refuse(
                    connection, status: error.status, code: error.code, message: error.message,
                    method: parser.errorMethod, target: parser.errorTarget, requestID: parser.errorRequestID)
            }
            break
        }
        // Keep the input buffer small: drop what was consumed.
        if connection.inputStart > 0 {
            if connection.inputStart == connection.input.count {
                connection.input.removeAll(keepingCapacity: connection.input.capacity <= 256 * 1024)
            } else {
                connection.input.removeFirst(connection.inputStart)
            }
            connection.inputStart = 0
        }
        if connection.isClosed { return }
        if connection.isReading && !connection.closeAfterFlush {
            if connection.parser.isReadingBody {
                if connection.timer != .body {
                    connection.timer = .body
                    connection.deadline = now + bodyTimeout
                }
            } else if connection.unconsumedInput > 0 || !connection.parser.isAtRequestStart {
                if connection.timer != .head {
                    connection.timer = .head
                    connection.deadline = now + headTimeout
                }
            } else if connection.isReadClosed || isDraining {
                connection.closeAfterFlush = true
                queueFlush(connection)
            } else if connection.timer != .idle && connection.timer != .fresh {
                connection.timer = .idle
                connection.deadline = now + idleTimeout
            }
            if connection.isReadClosed && !connection.closeAfterFlush {
                // The peer stopped sending in the middle of a request: it cannot complete.
                connection.closeAfterFlush = true
                queueFlush(connection)
            }
        }
        updateInterest(connection)
    }

    private func dispatch(_ head: HTTPRequestHead, body: [UInt8], on connection: Connection) {
        connection.requestNumber += 1
        let requestID = head.incomingRequestID ?? RequestID.generate()
        let request = HTTPRequest(
            method: head.method, target: head.target, version: head.version, headers: head.headers, body: body,
            peerAddress: connection.peerAddress, requestID: requestID, receivedAt: .now)
        let context = RequestContext(
            method: head.method, path: request.path, isHead: head.method == "HEAD", version: head.version,
            isKeepAlive: head.isKeepAlive, requestID: requestID, startedAt: Socket.monotonicNanoseconds(),
            number: connection.requestNumber)
        connection.phase = .awaitingResponse(context)
        connection.timer = .none
        let responder = HTTPResponder(
            loop: loop,
            target: ResponseTarget(fd: connection.fd, connectionID: connection.id, requestNumber: connection.requestNumber))
        handler.handle(request, responder: responder)
        drainMailbox()
    }

    /// Answers a request the server refuses itself, then closes.
    private func refuse(
        _ connection: Connection, status: Int, code: String, message: String, method: String?, target: String?,
        requestID: String?
    ) {
        let id = requestID ?? RequestID.generate()
        let response = handler.errorResponse(status: status, code: code, message: message, requestID: id)
        var path = target ?? "-"
        if let q = path.utf8.firstIndex(of: UInt8(ascii: "?")) { path = String(path[..<q]) }
        let context = RequestContext(
            method: method ?? "-", path: path, isHead: method == "HEAD", version: .http1_1, isKeepAlive: false,
            requestID: id, startedAt: Socket.monotonicNanoseconds(), number: connection.requestNumber)
        connection.phase = .reading
        connection.closeAfterFlush = true
        connection.wasRefused = true
        write(response, for: context, on: connection)
    }

    // MARK: - Responses

    private func drainMailbox() {
        loop.takeMessages(into: &messages)
        if messages.isEmpty { return }
        for message in messages {
            switch message {
            case .response(let target, let response):
                guard let connection = find(target), case .awaitingResponse(let context) = connection.phase,
                    context.number == target.requestNumber
                else { continue }
                connection.phase = .reading
                write(response, for: context, on: connection)
                queueInput(connection)
            case .streamStart(let target, let status, let headers, let logFields, let state):
                guard let connection = find(target), case .awaitingResponse(let context) = connection.phase,
                    context.number == target.requestNumber
                else {
                    state.clientGone()
                    continue
                }
                startStream(
                    on: connection, context: context, status: status, headers: headers, logFields: logFields, state: state)
            case .streamData(let target, let bytes):
                guard let connection = find(target), case .streaming(let context, var progress) = connection.phase,
                    context.number == target.requestNumber
                else { continue }
                if context.isHead {
                    progress.state.didSend(bytes.count)
                    continue
                }
                if progress.isChunked {
                    ResponseEncoder.appendHex(bytes.count, to: &connection.output)
                    connection.output.append(.cr)
                    connection.output.append(.lf)
                    connection.output.append(contentsOf: bytes)
                    connection.output.append(.cr)
                    connection.output.append(.lf)
                } else {
                    connection.output.append(contentsOf: bytes)
                }
                progress.bodyBytes += bytes.count
                connection.phase = .streaming(context, progress)
                queueFlush(connection)
            case .streamEnd(let target):
                guard let connection = find(target), case .streaming(let context, let progress) = connection.phase,
                    context.number == target.requestNumber
                else { continue }
                if progress.isChunked && !context.isHead {
                    connection.output.append(contentsOf: LoopRunner.lastChunk)
                }
                log(context, status: progress.status, bytes: progress.bodyBytes, fields: progress.logFields)
                connection.phase = .reading
                if !progress.isChunked || !context.isKeepAlive || isDraining {
                    connection.closeAfterFlush = true
                }
                queueFlush(connection)
                queueInput(connection)
            case .shutdown:
                startDraining()
            }
        }
        messages.removeAll(keepingCapacity: true)
    }

    private static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    private func find(_ target: ResponseTarget) -> Connection? {
        guard Int(target.fd) < connections.count, let connection = connections[Int(target.fd)],
            connection.id == target.connectionID, !connection.isClosed
        else { return nil }
        return connection
    }

    private func write(_ response: HTTPResponse, for context: RequestContext, on connection: Connection) {
        var handlerCloses = false
        var declaredLength: String?
        for field in response.headers.fields {
            switch field.name.utf8.count {
            case 10 where HTTPHeaders.equalsIgnoringASCIICase(field.name, "Connection"):
                if field.value.lowercased().contains("close") { handlerCloses = true }
            case 14 where HTTPHeaders.equalsIgnoringASCIICase(field.name, "Content-Length"):
                declaredLength = field.value
            default:
                break
            }
        }
        let isClosing = connection.closeAfterFlush || !context.isKeepAlive || isDraining || handlerCloses
            || (connection.isReadClosed && connection.unconsumedInput == 0)
        if isClosing { connection.closeAfterFlush = true }
        let status = response.status
        let hasNoBody = status < 200 || status == 204 || status == 304
        var length = response.body.count
        // HEAD: a handler that sends no body may declare the length the GET would have.
        if context.isHead && response.body.isEmpty, let declared = declaredLength, let value = Int(declared), value >= 0 {
            length = value
        }
        if connection.pendingOutput == 0 { connection.lastWriteProgress = now }
        encoder.appendHead(
            to: &connection.output, status: status, headers: response.headers, requestID: context.requestID,
            delimiting: hasNoBody ? .none : .contentLength(length), isClosing: isClosing,
            isHTTP10KeepAlive: context.version == .http1_0 && !isClosing)
        let bodyBytes = hasNoBody || context.isHead ? 0 : response.body.count
        if bodyBytes > 0 { connection.output.append(contentsOf: response.body) }
        log(context, status: status, bytes: bodyBytes, fields: response.logFields)
        queueFlush(connection)
    }

    private func startStream(
        on connection: Connection, context: RequestContext, status: Int, headers: HTTPHeaders,
        logFields: [(key: String, value: String)], state: StreamState
    ) {
        let isChunked = context.version == .http1_1
        let isClosing = !isChunked || !context.isKeepAlive || isDraining || connection.isReadClosed
        if connection.pendingOutput == 0 { connection.lastWriteProgress = now }
        encoder.appendHead(
            to: &connection.output, status: status, headers: headers, requestID: context.requestID,
            delimiting: isChunked ? .chunked : .close, isClosing: isClosing, isHTTP10KeepAlive: false)
        var streamContext = context
        streamContext.isKeepAlive = !isClosing
        connection.phase = .streaming(
            streamContext,
            StreamProgress(state: state, isChunked: isChunked, bodyBytes: 0, status: status, logFields: logFields))
        queueFlush(connection)
    }

    private func log(_ context: RequestContext, status: Int, bytes: Int, fields: [(key: String, value: String)]) {
        guard configuration.accessLog else { return }
        encoder.appendLogLine(
            to: &logBuffer, requestID: context.requestID, method: context.method, path: context.path, status: status,
            bytes: bytes, durationNanoseconds: Socket.monotonicNanoseconds() - context.startedAt, fields: fields)
        if logBuffer.count > 256 * 1024 { flushLog() }
    }

    private func flushLog() {
        guard !logBuffer.isEmpty else { return }
        logBuffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    break
                }
                offset += written
            }
        }
        logBuffer.removeAll(keepingCapacity: true)
    }

    // MARK: - Writing

    private func flush(_ connection: Connection) {
        if connection.isClosed { return }
        var sentNow = 0
        while connection.outputSent < connection.output.count {
            let sent = connection.output.withUnsafeBytes { bytes in
                send(
                    connection.fd, bytes.baseAddress! + connection.outputSent, bytes.count - connection.outputSent,
                    Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                connection.outputSent += sent
                sentNow += sent
                connection.lastWriteProgress = now
            } else if sent < 0 && errno == EINTR {
                continue
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                connection.isWaitingForWritable = true
                break
            } else {
                close(connection)
                return
            }
        }
        if sentNow > 0, case .streaming(_, let progress) = connection.phase {
            progress.state.didSend(sentNow)
        }
        if connection.outputSent == connection.output.count {
            connection.isWaitingForWritable = false
            if connection.output.capacity > 256 * 1024 {
                connection.output = []
                connection.output.reserveCapacity(4096)
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputSent = 0
            if connection.closeAfterFlush && connection.isReading {
                startLingering(connection)
                return
            }
        } else if connection.outputSent > 256 * 1024 {
            connection.output.removeFirst(connection.outputSent)
            connection.outputSent = 0
        }
        updateInterest(connection)
    }

    /// Shuts the write side down and reads until the peer closes, so the last response is not
    /// destroyed by a reset caused by unread input.
    private func startLingering(_ connection: Connection) {
        if connection.isReadClosed {
            close(connection)
            return
        }
        shutdown(connection.fd, Int32(SHUT_WR))
        if !connection.wasRefused {
            // A request that asked to close: the client has nothing more to send that matters.
            // Drop what is buffered and close; the FIN already went out with shutdown.
            while recv(connection.fd, readBuffer.baseAddress, readBuffer.count, 0) > 0 {}
            close(connection)
            return
        }
        connection.phase = .lingering
        connection.timer = .linger
        connection.deadline = now + LoopRunner.lingerNanoseconds
        connection.input = []
        updateInterest(connection)
    }

    private func updateInterest(_ connection: Connection) {
        if connection.isClosed { return }
        var wantsInput = !connection.isReadClosed && connection.pendingOutput < LoopRunner.maxPendingOutput
        switch connection.phase {
        case .reading, .lingering:
            break
        case .awaitingResponse, .streaming:
            wantsInput = wantsInput && connection.unconsumedInput < LoopRunner.maxBufferedInput
        }
        if connection.isReading && connection.closeAfterFlush { wantsInput = false }
        var events: UInt32 = 0
        if wantsInput { events |= EPOLLIN.rawValue }
        if connection.isWaitingForWritable { events |= EPOLLOUT.rawValue }
        if events != connection.registeredEvents {
            var event = epoll_event()
            event.events = events
            event.data.u64 = UInt64(connection.fd)
            _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, connection.fd, &event)
            connection.registeredEvents = events
        }
    }

    // MARK: - Timers and shutdown

    private func scanTimers() {
        if acceptPausedUntil != 0 && now >= acceptPausedUntil {
            acceptPausedUntil = 0
            if listenFD >= 0 { add(fd: listenFD, events: EPOLLIN.rawValue, token: LoopRunner.listenerToken) }
        }
        for case let connection? in connections where !connection.isClosed {
            if connection.pendingOutput > 0 && now - connection.lastWriteProgress > idleTimeout {
                close(connection)
                continue
            }
            guard connection.timer != .none, now >= connection.deadline else { continue }
            switch connection.timer {
            case .none:
                break
            case .fresh, .idle, .linger:
                close(connection)
            case .head, .body:
                if connection.isReading && !connection.closeAfterFlush {
                    connection.timer = .none
                    refuse(
                        connection, status: 408, code: "request_timeout", message: "The request took too long to arrive.",
                        method: connection.pendingHead?.method, target: connection.pendingHead?.target,
                        requestID: connection.pendingHead?.incomingRequestID)
                } else {
                    close(connection)
                }
            }
        }
    }

    private func startDraining() {
        guard !isDraining else { return }
        isDraining = true
        drainDeadline = now + configuration.shutdownGrace.nanoseconds
        if listenFD >= 0 {
            acceptPausedUntil = 0
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
            Glibc.close(listenFD)
            listenFD = -1
        }
        for case let connection? in connections where !connection.isClosed {
            if connection.isReading && connection.unconsumedInput == 0 && connection.parser.isAtRequestStart
                && connection.pendingOutput == 0
            {
                close(connection)
            }
        }
    }

    private func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        if case .streaming(_, let progress) = connection.phase {
            progress.state.clientGone()
        }
        Glibc.close(connection.fd)
        connections[Int(connection.fd)] = nil
        connectionCount -= 1
        server.releaseConnection()
    }

    private func add(fd: Int32, events: UInt32, token: UInt64) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }
}
