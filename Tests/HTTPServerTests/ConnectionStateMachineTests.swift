import Testing

@testable import HTTPServer

/// The connection's state machine, event by event, with a manual clock and no sockets.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine
    static let second: Int64 = 1_000_000_000
    static let timeouts = Machine.Timeouts(
        head: 10 * second, body: 30 * second, idle: 60 * second, writeStall: 30 * second, linger: 2 * second)

    static func head(
        _ method: String = "GET", _ target: String = "/x", framing: HTTPBodyFraming = .none, version: HTTPVersion = .http1_1,
        isKeepAlive: Bool = true, expectsContinue: Bool = false
    ) -> HTTPRequestHead {
        HTTPRequestHead(
            method: method, target: target, version: version, headers: HTTPHeaders(), framing: framing,
            isKeepAlive: isKeepAlive, expectsContinue: expectsContinue, incomingRequestID: nil)
    }

    /// A machine with request 1 dispatched at time 0.
    static func awaiting(_ head: HTTPRequestHead = head()) -> Machine {
        var machine = Machine(timeouts: timeouts, now: 0)
        _ = machine.bytesRead()
        _ = machine.headParsed(head, requestID: "r1", hasBufferedInput: false, now: 0)
        return machine
    }

    static func stream() -> StreamState { StreamState() }

    @Test func aFreshConnectionThatSendsNothingIsClosedAtTheHeadTimeout() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        #expect(machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: true, isReadingBody: false, now: 0) == .none)
        #expect(machine.timerFired(now: 10 * Self.second - 1) == .none)
        #expect(machine.timerFired(now: 10 * Self.second) == .close)
    }

    @Test func aHeadWithoutABodyIsDispatchedAndNumbered() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        #expect(machine.bytesRead() == .parse)
        guard case .dispatch(let head, let body, let context) = machine.headParsed(
            Self.head("GET", "/a?b=1"), requestID: "r1", hasBufferedInput: false, now: 5)
        else { Issue.record("no dispatch"); return }
        #expect(head.target == "/a?b=1")
        #expect(body.isEmpty)
        #expect(context.path == "/a")
        #expect(context.number == 1)
        #expect(context.requestID == "r1")
        #expect(context.startedAt == 5)
        #expect(!machine.isParsing)
    }

    @Test func aHeadWithABodyWaitsForItAndSendsContinueOnlyWhenNothingFollows() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        let expecting = Self.head("POST", framing: .length(3), expectsContinue: true)
        #expect(machine.headParsed(expecting, requestID: "r", hasBufferedInput: false, now: 0) == .writeContinue)
        #expect(machine.isParsing)
        var other = Machine(timeouts: Self.timeouts, now: 0)
        #expect(other.headParsed(expecting, requestID: "r", hasBufferedInput: true, now: 0) == .none)
        var old = Machine(timeouts: Self.timeouts, now: 0)
        let http10 = Self.head("POST", framing: .length(3), version: .http1_0, expectsContinue: true)
        #expect(old.headParsed(http10, requestID: "r", hasBufferedInput: false, now: 0) == .none)
        guard case .dispatch(_, let body, let context) = machine.bodyParsed([1, 2, 3], now: 1) else {
            Issue.record("no dispatch")
            return
        }
        #expect(body == [1, 2, 3])
        #expect(context.method == "POST")
    }

    @Test func aStalledBodyIsRefusedWith408AtTheBodyTimeoutThenLingers() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        _ = machine.headParsed(Self.head("POST", "/up", framing: .length(10)), requestID: "r9", hasBufferedInput: false, now: 0)
        _ = machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: false, isReadingBody: true, now: 0)
        #expect(machine.timerFired(now: 30 * Self.second - 1) == .none)
        guard case .writeRefusal(let status, let code, _, let context) = machine.timerFired(now: 30 * Self.second) else {
            Issue.record("no refusal")
            return
        }
        #expect(status == 408)
        #expect(code == "request_timeout")
        #expect(context.method == "POST" && context.path == "/up" && context.requestID == "r9")
        #expect(!context.isKeepAlive)
        #expect(machine.outputFlushed(now: 31 * Self.second) == .shutDownWriteAndLinger)
        #expect(machine.bytesRead() == .discardInput)
        #expect(machine.timerFired(now: 33 * Self.second - 1) == .none)
        #expect(machine.timerFired(now: 33 * Self.second) == .close)
    }

    @Test func aSlowHeadIsRefusedWith408FromItsFirstByte() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        _ = machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: false, isReadingBody: false, now: 4 * Self.second)
        #expect(machine.timerFired(now: 10 * Self.second) == .none)
        guard case .writeRefusal(let status, _, _, _) = machine.timerFired(now: 14 * Self.second) else {
            Issue.record("no refusal")
            return
        }
        #expect(status == 408)
    }

    @Test func aParseErrorIsAnsweredOnceThenTheConnectionLingers() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        guard case .writeRefusal(let status, let code, _, let context) = machine.parseFailed(
            .badRequest("x"), method: "GET", target: "/p?q", requestID: "rid", now: 0)
        else {
            Issue.record("no refusal")
            return
        }
        #expect(status == 400 && code == "invalid_request")
        #expect(context.path == "/p")
        #expect(!machine.isParsing)
        #expect(machine.interestChange(pendingOutput: 100, bufferedInput: 0, isWaitingForWritable: false)
            == Machine.Interest(isReadable: false, isWritable: false))
        #expect(machine.outputFlushed(now: 0) == .shutDownWriteAndLinger)
        #expect(machine.readEOF() == .close)
    }

    @Test func aKeepAliveResponseReturnsToIdleAndTheIdleTimeoutCloses() {
        var machine = Self.awaiting()
        let response = HTTPResponse(status: 200)
        guard case .writeResponse(_, let context, let isClosing) = machine.responsePosted(
            response, number: 1, handlerCloses: false, hasBufferedInput: false, now: Self.second)
        else {
            Issue.record("no write")
            return
        }
        #expect(context.number == 1 && !isClosing)
        #expect(machine.isParsing)
        #expect(machine.outputFlushed(now: Self.second) == .none)
        #expect(machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: true, isReadingBody: false, now: Self.second) == .none)
        #expect(machine.timerFired(now: 61 * Self.second - 1) == .none)
        #expect(machine.timerFired(now: 61 * Self.second) == .close)
    }

    @Test func aLateOrForeignResponseIsDropped() {
        var machine = Self.awaiting()
        #expect(machine.responsePosted(HTTPResponse(status: 200), number: 7, handlerCloses: false, hasBufferedInput: false, now: 0) == .none)
        _ = machine.responsePosted(HTTPResponse(status: 200), number: 1, handlerCloses: false, hasBufferedInput: false, now: 0)
        #expect(machine.responsePosted(HTTPResponse(status: 200), number: 1, handlerCloses: false, hasBufferedInput: false, now: 0) == .none)
        #expect(machine.streamDataPosted(number: 1, bytes: [1]) == .none)
        #expect(machine.streamEnded(number: 1, now: 0) == .none)
        #expect(machine.streamAborted(number: 1) == .none)
        let stream = Self.stream()
        guard case .abandonStream(let abandoned) = machine.streamStarted(
            number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: stream)
        else {
            Issue.record("stream not abandoned")
            return
        }
        #expect(abandoned === stream)
    }

    @Test(arguments: [
        (isKeepAlive: false, handlerCloses: false, readClosed: false, buffered: false, closes: true),
        (isKeepAlive: true, handlerCloses: true, readClosed: false, buffered: false, closes: true),
        (isKeepAlive: true, handlerCloses: false, readClosed: true, buffered: false, closes: true),
        (isKeepAlive: true, handlerCloses: false, readClosed: true, buffered: true, closes: false),
        (isKeepAlive: true, handlerCloses: false, readClosed: false, buffered: false, closes: false),
    ])
    func aResponseClosesWhenTheClientTheHandlerOrAHalfCloseSaysSo(
        _ c: (isKeepAlive: Bool, handlerCloses: Bool, readClosed: Bool, buffered: Bool, closes: Bool)
    ) {
        var machine = Self.awaiting(Self.head(isKeepAlive: c.isKeepAlive))
        if c.readClosed { #expect(machine.readEOF() == .parse) }
        guard case .writeResponse(_, _, let isClosing) = machine.responsePosted(
            HTTPResponse(status: 200), number: 1, handlerCloses: c.handlerCloses, hasBufferedInput: c.buffered, now: 0)
        else {
            Issue.record("no write")
            return
        }
        #expect(isClosing == c.closes)
        let expected: Machine.Action = !c.closes ? .none : c.readClosed ? .close : .shutDownWriteAndClose
        #expect(machine.outputFlushed(now: 0) == expected)
    }

    @Test func aHalfCloseInTheMiddleOfARequestClosesAfterFlushing() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        #expect(machine.readEOF() == .parse)
        #expect(machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: false, isReadingBody: false, now: 0) == .flush)
        #expect(machine.outputFlushed(now: 0) == .close)
    }

    @Test func aHalfCloseBetweenRequestsClosesAfterFlushing() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        #expect(machine.readEOF() == .parse)
        #expect(machine.inputConsumed(hasBufferedInput: false, isAtRequestStart: true, isReadingBody: false, now: 0) == .flush)
        #expect(machine.outputFlushed(now: 0) == .close)
    }

    @Test func aChunkedStreamCountsItsBytesAndReturnsToIdle() {
        var machine = Self.awaiting()
        let stream = Self.stream()
        guard case .startStream(_, let status, _, let isChunked, let isClosing) = machine.streamStarted(
            number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: stream)
        else {
            Issue.record("no stream")
            return
        }
        #expect(status == 200 && isChunked && !isClosing)
        #expect(machine.streamState === stream)
        #expect(machine.streamDataPosted(number: 1, bytes: [1, 2, 3]) == .writeStreamData([1, 2, 3], isChunked: true))
        guard case .finishStream(_, let progress, let writesLastChunk) = machine.streamEnded(number: 1, now: 0) else {
            Issue.record("no finish")
            return
        }
        #expect(progress.bodyBytes == 3 && writesLastChunk)
        #expect(machine.isParsing)
        #expect(machine.streamState == nil)
    }

    @Test func anHTTP10StreamIsCloseDelimited() {
        var machine = Self.awaiting(Self.head(version: .http1_0))
        guard case .startStream(_, _, _, let isChunked, let isClosing) = machine.streamStarted(
            number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: Self.stream())
        else {
            Issue.record("no stream")
            return
        }
        #expect(!isChunked && isClosing)
        guard case .finishStream(_, _, let writesLastChunk) = machine.streamEnded(number: 1, now: 0) else {
            Issue.record("no finish")
            return
        }
        #expect(!writesLastChunk)
        #expect(machine.outputFlushed(now: 0) == .shutDownWriteAndClose)
    }

    @Test func aHeadRequestsStreamSkipsItsBytes() {
        var machine = Self.awaiting(Self.head("HEAD"))
        let stream = Self.stream()
        _ = machine.streamStarted(number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: stream)
        guard case .skipStreamData(let skipped, let count) = machine.streamDataPosted(number: 1, bytes: [1, 2]) else {
            Issue.record("not skipped")
            return
        }
        #expect(skipped === stream && count == 2)
        guard case .finishStream(_, _, let writesLastChunk) = machine.streamEnded(number: 1, now: 0) else {
            Issue.record("no finish")
            return
        }
        #expect(!writesLastChunk)
    }

    @Test func anAbortedStreamClosesWithoutItsEnd() {
        var machine = Self.awaiting()
        _ = machine.streamStarted(number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: Self.stream())
        guard case .abortStream = machine.streamAborted(number: 1) else {
            Issue.record("no abort")
            return
        }
        #expect(machine.outputFlushed(now: 0) == .shutDownWriteAndClose)
    }

    @Test func closingWhileStreamingHandsBackTheStreamToFail() {
        var machine = Self.awaiting()
        let stream = Self.stream()
        _ = machine.streamStarted(number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: stream)
        #expect(machine.closed() === stream)
        #expect(machine.closed() == nil)
    }

    @Test func aReaderThatAcceptsNoBytesForTheWriteStallTimeoutIsClosed() {
        var machine = Self.awaiting()
        _ = machine.streamStarted(number: 1, status: 200, headers: HTTPHeaders(), logFields: [], state: Self.stream())
        machine.outputQueued(now: 0)
        machine.outputQueued(now: 20 * Self.second)  // more output does not restart the clock
        #expect(machine.timerFired(now: 30 * Self.second - 1) == .none)
        machine.outputSent(now: 29 * Self.second)  // progress does
        #expect(machine.timerFired(now: 30 * Self.second) == .none)
        #expect(machine.timerFired(now: 59 * Self.second) == .close)
    }

    @Test func theWriteStallClockStopsOnceEverythingIsSent() {
        var machine = Self.awaiting()
        _ = machine.responsePosted(HTTPResponse(status: 200), number: 1, handlerCloses: false, hasBufferedInput: false, now: 0)
        machine.outputQueued(now: 0)
        #expect(machine.outputFlushed(now: 1) == .none)
        #expect(machine.stallDeadline == nil)
        #expect(machine.timerFired(now: 59 * Self.second) == .none)
    }

    @Test func drainClosesAnIdleConnectionAtOnceAndABusyOneAfterItsResponse() {
        var idle = Machine(timeouts: Self.timeouts, now: 0)
        #expect(idle.drain(hasBufferedInput: false, hasPendingOutput: false) == .close)
        var buffered = Machine(timeouts: Self.timeouts, now: 0)
        #expect(buffered.drain(hasBufferedInput: true, hasPendingOutput: false) == .none)
        var busy = Self.awaiting()
        #expect(busy.drain(hasBufferedInput: false, hasPendingOutput: false) == .none)
        guard case .writeResponse(_, _, let isClosing) = busy.responsePosted(
            HTTPResponse(status: 200), number: 1, handlerCloses: false, hasBufferedInput: false, now: 0)
        else {
            Issue.record("no write")
            return
        }
        #expect(isClosing)
        var fresh = Machine(timeouts: Self.timeouts, now: 0, isDraining: true)
        #expect(fresh.inputConsumed(hasBufferedInput: false, isAtRequestStart: true, isReadingBody: false, now: 0) == .flush)
    }

    @Test func interestFollowsBackpressure() {
        var machine = Self.awaiting()
        #expect(machine.interestChange(pendingOutput: 0, bufferedInput: 0, isWaitingForWritable: false) == nil)
        #expect(machine.interestChange(pendingOutput: 0, bufferedInput: Machine.maxBufferedInput, isWaitingForWritable: false)
            == Machine.Interest(isReadable: false, isWritable: false))
        #expect(machine.interestChange(pendingOutput: Machine.maxPendingOutput, bufferedInput: 0, isWaitingForWritable: true)
            == Machine.Interest(isReadable: false, isWritable: true))
        #expect(machine.interestChange(pendingOutput: 0, bufferedInput: 0, isWaitingForWritable: false)
            == Machine.Interest(isReadable: true, isWritable: false))
        _ = machine.readEOF()
        #expect(machine.interestChange(pendingOutput: 0, bufferedInput: 0, isWaitingForWritable: false)
            == Machine.Interest(isReadable: false, isWritable: false))
    }

    @Test func bytesAndEOFWhileLingeringAreDroppedThenClose() {
        var machine = Machine(timeouts: Self.timeouts, now: 0)
        _ = machine.parseFailed(.uriTooLong, method: nil, target: nil, requestID: "r", now: 0)
        #expect(machine.outputFlushed(now: 0) == .shutDownWriteAndLinger)
        #expect(machine.bytesRead() == .discardInput)
        #expect(machine.interestChange(pendingOutput: 0, bufferedInput: 0, isWaitingForWritable: false) == nil)
        #expect(machine.readEOF() == .close)
    }

    @Test func aBodyWithoutAHeadIsABugThatTraps() async {
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(timeouts: ConnectionStateMachineTests.timeouts, now: 0)
            _ = machine.bodyParsed([], now: 0)
        }
    }

    @Test func aHeadWhileAnotherIsAnsweredIsABugThatTraps() async {
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachineTests.awaiting()
            _ = machine.headParsed(ConnectionStateMachineTests.head(), requestID: "r", hasBufferedInput: false, now: 0)
        }
    }

    @Test func eventsOnAClosedConnectionAreABugThatTraps() async {
        await #expect(processExitsWith: .failure) {
            var machine = ConnectionStateMachine(timeouts: ConnectionStateMachineTests.timeouts, now: 0)
            _ = machine.closed()
            _ = machine.bytesRead()
        }
    }
}

extension ConnectionStateMachine.Action: Equatable {
    /// Equality by case and simple payloads, for tests.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none), (.parse, .parse), (.discardInput, .discardInput), (.writeContinue, .writeContinue),
            (.flush, .flush), (.shutDownWriteAndLinger, .shutDownWriteAndLinger),
            (.shutDownWriteAndClose, .shutDownWriteAndClose), (.close, .close):
            return true
        case (.writeStreamData(let a, let x), .writeStreamData(let b, let y)):
            return a == b && x == y
        default:
            return false
        }
    }
}
