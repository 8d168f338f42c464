import CSystem

#if canImport(Glibc)
import Glibc
#endif

/// The loop-thread half of an event loop: epoll, the listener, the connections, the buffers.
/// Created on its thread and never leaves it.
///
/// What a connection does next is decided by its `ConnectionStateMachine`; the runner performs
/// the actions (syscalls, buffers, the handler). By concern: accepting in `LoopRunner+Accept`,
/// reading and parsing in `LoopRunner+Input`, the handler's mailbox in `LoopRunner+Mailbox`,
/// encoding and sending in `LoopRunner+Output`, the access log in `LoopRunner+AccessLog`.
final class LoopRunner {
    static let listenerToken: UInt64 = .max
    static let wakeToken: UInt64 = .max - 1
    static let readChunk = 64 * 1024
    static let timerTick: Int64 = 50_000_000

    let server: HTTPServer
    let loop: EventLoop
    let handler: any HTTPHandler
    let configuration: HTTPServerConfiguration
    let limits: HTTPParser.Limits
    let timeouts: ConnectionStateMachine.Timeouts
    var listenFD: Int32
    let epollFD: Int32
    var connections: [Connection?] = []
    var connectionCount = 0
    var inputQueue: [Connection] = []
    var flushQueue: [Connection] = []
    var messages: [LoopMessage] = []
    let readBuffer: UnsafeMutableRawBufferPointer
    var encoder = ResponseEncoder()
    var logBuffer: [UInt8] = []
    var nextConnectionID: UInt64 = 0
    var now: Int64 = 0
    var nextTimerScan: Int64 = 0
    var isDraining = false
    /// Unsent response bytes of this loop's connections (as of their last flush or queueing).
    var bufferedOutput = 0
    /// When accepting is paused after running out of descriptors, the time to resume; 0 otherwise.
    var acceptPausedUntil: Int64 = 0
    var drainDeadline: Int64 = 0

    init(server: HTTPServer, loop: EventLoop, listenFD: Int32) throws(HTTPServerError) {
        self.server = server
        self.loop = loop
        self.handler = server.handler
        self.configuration = server.configuration
        self.limits = HTTPParser.Limits(server.configuration)
        self.timeouts = ConnectionStateMachine.Timeouts(server.configuration)
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
            let isTicking = connectionCount > 0 || isDraining || acceptPausedUntil != 0
            let timeout: Int32 = isTicking ? Int32(LoopRunner.timerTick / 1_000_000) : -1
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

    func queueInput(_ connection: Connection) {
        if !connection.isQueuedForInput {
            connection.isQueuedForInput = true
            inputQueue.append(connection)
        }
    }

    /// Queues the connection for sending; pending output arms its write-stall deadline.
    func queueFlush(_ connection: Connection) {
        if connection.pendingOutput > 0 { connection.machine.outputQueued(now: now) }
        account(connection)
        if !connection.isQueuedForFlush {
            connection.isQueuedForFlush = true
            flushQueue.append(connection)
        }
    }

    // MARK: - Timers and shutdown

    private func scanTimers() {
        if acceptPausedUntil != 0 && now >= acceptPausedUntil {
            acceptPausedUntil = 0
            if listenFD >= 0 { add(fd: listenFD, events: EPOLLIN.rawValue, token: LoopRunner.listenerToken) }
        }
        for case let connection? in connections where !connection.isClosed {
            perform(connection.machine.timerFired(now: now), on: connection)
        }
        shedStalledReadersUnderPressure()
    }

    /// This loop's share of ``HTTPServerConfiguration/maxBufferedOutput``.
    var outputBudget: Int { configuration.maxBufferedOutput / max(1, configuration.threads) }

    /// Brings ``bufferedOutput`` up to date with the connection's pending output.
    func account(_ connection: Connection) {
        let pending = connection.isClosed ? 0 : connection.pendingOutput
        bufferedOutput += pending - connection.accountedOutput
        connection.accountedOutput = pending
    }

    /// Under memory pressure (more unsent output than the budget), closes the connections whose
    /// clients accepted no bytes for `pressureStallTimeout`, largest first, until under budget.
    private func shedStalledReadersUnderPressure() {
        guard bufferedOutput > outputBudget else { return }
        let since = now - configuration.pressureStallTimeout.nanoseconds
        let stalled = connections.compactMap { $0 }
            .filter { !$0.isClosed && $0.pendingOutput > 0 && $0.machine.isOutputStalled(since: since) }
            .sorted { $0.pendingOutput > $1.pendingOutput }
        for connection in stalled {
            guard bufferedOutput > outputBudget else { break }
            close(connection)
        }
    }

    func startDraining() {
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
            let action = connection.machine.drain(
                hasBufferedInput: connection.unconsumedInput > 0, hasPendingOutput: connection.pendingOutput > 0)
            perform(action, on: connection)
        }
    }

    func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        account(connection)
        connection.machine.closed()?.clientGone()
        Glibc.close(connection.fd)
        connections[Int(connection.fd)] = nil
        connectionCount -= 1
        server.releaseConnection()
    }

    func add(fd: Int32, events: UInt32, token: UInt64) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }
}
