import CSystem

#if canImport(Glibc)
import Glibc
#endif

extension LoopRunner {
    private static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Performs what a connection's machine decided.
    func perform(_ action: ConnectionStateMachine.Action, on connection: Connection) {
        switch action {
        case .none:
            break
        case .parse:
            queueInput(connection)
        case .discardInput:
            break
        case .dispatch(let head, let body, let context):
            dispatch(head, body: body, context: context, on: connection)
        case .writeContinue:
            connection.output.append(contentsOf: ResponseEncoder.continueResponse)
            queueFlush(connection)
        case .writeResponse(let response, let context, let isClosing):
            write(response, for: context, isClosing: isClosing, on: connection)
            queueInput(connection)
        case .writeRefusal(let status, let code, let message, let context):
            let response = handler.errorResponse(
                status: status, code: code, message: message, requestID: context.requestID)
            write(response, for: context, isClosing: true, on: connection)
        case .startStream(let context, let status, let headers, let isChunked, let isClosing):
            encoder.appendHead(
                to: &connection.output, status: status, headers: headers, requestID: context.requestID,
                delimiting: isChunked ? .chunked : .close, isClosing: isClosing, isHTTP10KeepAlive: false)
            queueFlush(connection)
        case .abandonStream(let state):
            state.clientGone()
        case .writeStreamData(let bytes, let isChunked):
            appendStreamData(bytes, isChunked: isChunked, to: connection)
            queueFlush(connection)
        case .skipStreamData(let state, let count):
            state.didSend(count)
        case .finishStream(let context, let progress, let writesLastChunk):
            if writesLastChunk { connection.output.append(contentsOf: LoopRunner.lastChunk) }
            log(context, status: progress.status, bytes: progress.bodyBytes, fields: progress.logFields)
            queueFlush(connection)
            queueInput(connection)
        case .abortStream(let context, let progress):
            log(context, status: progress.status, bytes: progress.bodyBytes,
                fields: progress.logFields + [(key: "stream", value: "aborted")])
            queueFlush(connection)
        case .flush:
            queueFlush(connection)
        case .shutDownWriteAndLinger:
            shutdown(connection.fd, Int32(SHUT_WR))
            connection.input = []
            connection.inputStart = 0
            updateInterest(connection)
        case .shutDownWriteAndClose:
            // A request that asked to close: the client has nothing more to send that matters.
            // Drop what is buffered and close; the FIN goes out with shutdown.
            shutdown(connection.fd, Int32(SHUT_WR))
            while recv(connection.fd, readBuffer.baseAddress, readBuffer.count, 0) > 0 {}
            close(connection)
        case .close:
            close(connection)
        }
    }

    /// Encodes a complete response (head and body) into the connection's output and logs it.
    private func write(_ response: HTTPResponse, for context: RequestContext, isClosing: Bool, on connection: Connection) {
        let status = response.status
        let hasNoBody = status < 200 || status == 204 || status == 304
        var length = response.body.count
        // HEAD: a handler that sends no body may declare the length the GET would have.
        if context.isHead && response.body.isEmpty, let declared = response.headers.declaredContentLength {
            length = declared
        }
        encoder.appendHead(
            to: &connection.output, status: status, headers: response.headers, requestID: context.requestID,
            delimiting: hasNoBody ? .none : .contentLength(length), isClosing: isClosing,
            isHTTP10KeepAlive: context.version == .http1_0 && !isClosing)
        let bodyBytes = hasNoBody || context.isHead ? 0 : response.body.count
        if bodyBytes > 0 { connection.output.append(contentsOf: response.body) }
        log(context, status: status, bytes: bodyBytes, fields: response.logFields)
        queueFlush(connection)
    }

    /// Appends a stream's bytes, framed as one chunk when the stream is chunked.
    private func appendStreamData(_ bytes: [UInt8], isChunked: Bool, to connection: Connection) {
        guard isChunked else {
            connection.output.append(contentsOf: bytes)
            return
        }
        ResponseEncoder.appendHex(bytes.count, to: &connection.output)
        connection.output.append(.cr)
        connection.output.append(.lf)
        connection.output.append(contentsOf: bytes)
        connection.output.append(.cr)
        connection.output.append(.lf)
    }

    /// Sends what the socket takes; reports progress and completion to the machine.
    func flush(_ connection: Connection) {
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
        if sentNow > 0 { connection.machine.streamState?.didSend(sentNow) }
        if connection.outputSent == connection.output.count {
            connection.isWaitingForWritable = false
            if connection.output.capacity > 256 * 1024 {
                connection.output = []
                connection.output.reserveCapacity(4096)
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputSent = 0
            perform(connection.machine.outputFlushed(now: now), on: connection)
            if connection.isClosed { return }
        } else {
            if sentNow > 0 { connection.machine.outputSent(now: now) }
            if connection.outputSent > 256 * 1024 {
                connection.output.removeFirst(connection.outputSent)
                connection.outputSent = 0
            }
        }
        account(connection)
        updateInterest(connection)
    }

    /// Registers the events the machine wants when they changed.
    func updateInterest(_ connection: Connection) {
        if connection.isClosed { return }
        guard
            let interest = connection.machine.interestChange(
                pendingOutput: connection.pendingOutput, bufferedInput: connection.unconsumedInput,
                isWaitingForWritable: connection.isWaitingForWritable)
        else { return }
        var event = epoll_event()
        event.events = (interest.isReadable ? EPOLLIN.rawValue : 0) | (interest.isWritable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = UInt64(connection.fd)
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, connection.fd, &event)
    }
}
