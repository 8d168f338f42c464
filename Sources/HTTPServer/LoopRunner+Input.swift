#if canImport(Glibc)
import Glibc
#endif

extension LoopRunner {
    /// Reads what the socket has and tells the connection's machine.
    func read(_ connection: Connection) {
        let received = recv(connection.fd, readBuffer.baseAddress, readBuffer.count, 0)
        if received > 0 {
            let action = connection.machine.bytesRead()
            if case .parse = action {
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<received]))
            }
            perform(action, on: connection)
        } else if received == 0 {
            perform(connection.machine.readEOF(), on: connection)
            updateInterest(connection)
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            close(connection)
        }
    }

    /// Parses and dispatches what is buffered, one request at a time: the next request is parsed
    /// only once the previous one is answered, so pipelined responses keep their order.
    func processInput(_ connection: Connection) {
        while connection.machine.isParsing && !connection.isClosed {
            if connection.unconsumedInput == 0 && !connection.parser.isReadingBody { break }
            let start = connection.inputStart
            let (consumed, result) = connection.input.withUnsafeBufferPointer { buffer in
                connection.parser.parse(UnsafeBufferPointer(rebasing: buffer[start...]))
            }
            connection.inputStart += consumed
            let action: ConnectionStateMachine.Action
            switch result {
            case .needMore:
                break
            case .head(let head):
                action = connection.machine.headParsed(
                    head, requestID: head.incomingRequestID ?? RequestID.generate(),
                    hasBufferedInput: connection.unconsumedInput > 0, now: Socket.monotonicNanoseconds())
                perform(action, on: connection)
                continue
            case .body(let body):
                perform(connection.machine.bodyParsed(body, now: Socket.monotonicNanoseconds()), on: connection)
                continue
            case .error(let error):
                let parser = connection.parser
                action = connection.machine.parseFailed(
                    error, method: parser.errorMethod, target: parser.errorTarget,
                    requestID: parser.errorRequestID ?? RequestID.generate(), now: Socket.monotonicNanoseconds())
                perform(action, on: connection)
            }
            break
        }
        compactInput(connection)
        if connection.isClosed { return }
        let action = connection.machine.inputConsumed(
            hasBufferedInput: connection.unconsumedInput > 0, isAtRequestStart: connection.parser.isAtRequestStart,
            isReadingBody: connection.parser.isReadingBody, now: now)
        perform(action, on: connection)
        updateInterest(connection)
    }

    /// Keeps the input buffer small: drops what was consumed.
    private func compactInput(_ connection: Connection) {
        guard connection.inputStart > 0 else { return }
        if connection.inputStart == connection.input.count {
            connection.input.removeAll(keepingCapacity: connection.input.capacity <= 256 * 1024)
        } else {
            connection.input.removeFirst(connection.inputStart)
        }
        connection.inputStart = 0
    }

    /// Hands a parsed request to the handler with a responder that posts back to this loop.
    func dispatch(_ head: HTTPRequestHead, body: [UInt8], context: RequestContext, on connection: Connection) {
        let request = HTTPRequest(
            method: head.method, target: head.target, version: head.version, headers: head.headers, body: body,
            peerAddress: connection.peerAddress, requestID: context.requestID, receivedAt: .now)
        let responder = HTTPResponder(
            loop: loop,
            target: ResponseTarget(fd: connection.fd, connectionID: connection.id, requestNumber: context.number))
        handler.handle(request, responder: responder)
        drainMailbox()
    }
}
