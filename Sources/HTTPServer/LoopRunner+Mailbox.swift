extension LoopRunner {
    /// Takes what handlers posted to this loop (responses, stream parts, shutdown) and hands each
    /// to its connection's machine.
    func drainMailbox() {
        loop.takeMessages(into: &messages)
        if messages.isEmpty { return }
        for message in messages {
            switch message {
            case .response(let target, let response):
                guard let connection = find(target) else { continue }
                let action = connection.machine.responsePosted(
                    response, number: target.requestNumber, handlerCloses: response.headers.asksToClose,
                    hasBufferedInput: connection.unconsumedInput > 0, now: now)
                perform(action, on: connection)
            case .streamStart(let target, let status, let headers, let logFields, let state):
                guard let connection = find(target) else {
                    state.clientGone()
                    continue
                }
                let action = connection.machine.streamStarted(
                    number: target.requestNumber, status: status, headers: headers, logFields: logFields, state: state)
                perform(action, on: connection)
            case .streamData(let target, let bytes):
                guard let connection = find(target) else { continue }
                perform(connection.machine.streamDataPosted(number: target.requestNumber, bytes: bytes), on: connection)
            case .streamEnd(let target):
                guard let connection = find(target) else { continue }
                perform(connection.machine.streamEnded(number: target.requestNumber, now: now), on: connection)
            case .streamAbort(let target):
                guard let connection = find(target) else { continue }
                perform(connection.machine.streamAborted(number: target.requestNumber), on: connection)
            case .shutdown:
                startDraining()
            }
        }
        messages.removeAll(keepingCapacity: true)
    }

    private func find(_ target: ResponseTarget) -> Connection? {
        guard Int(target.fd) < connections.count, let connection = connections[Int(target.fd)],
            connection.id == target.connectionID, !connection.isClosed
        else { return nil }
        return connection
    }
}

extension HTTPHeaders {
    /// Whether a `Connection` field asks to close.
    var asksToClose: Bool {
        for field in fields where field.name.utf8.count == 10 && HTTPHeaders.equalsIgnoringASCIICase(field.name, "Connection") {
            if field.value.lowercased().contains("close") { return true }
        }
        return false
    }

    /// The `Content-Length` a handler declared, if any (a HEAD answer may declare the GET's length).
    var declaredContentLength: Int? {
        var declared: String?
        for field in fields
        where field.name.utf8.count == 14 && HTTPHeaders.equalsIgnoringASCIICase(field.name, "Content-Length") {
            declared = field.value
        }
        guard let declared, let value = Int(declared), value >= 0 else { return nil }
        return value
    }
}
