import CSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server: one epoll event loop per thread, each with its own `SO_REUSEPORT` listener.
public final class HTTPServer: Sendable {
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    private let loops: [EventLoop]
    private let listeners: [Int32]
    private let port: Int
    private let openConnections = Atomic<Int>(0)
    private let isStarted = Atomic<Bool>(false)
    private let isShutdownRequested = Atomic<Bool>(false)
    private let latch = StopLatch()
    /// Written by `shutdown()` to wake `run()`.
    private let stopFD: Int32

    /// Binds one listener per loop. Port 0 picks an ephemeral port shared by every loop.
    /// - Throws: `HTTPServerError` when a socket cannot be created or bound.
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) throws {
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.handler = handler
        var listeners: [Int32] = []
        var port = configuration.port
        do {
            for _ in 0..<max(1, configuration.threads) {
                let listener = try Socket.makeListener(host: configuration.host, port: port)
                listeners.append(listener.fd)
                port = listener.port
            }
        } catch {
            for fd in listeners { close(fd) }
            throw error
        }
        self.listeners = listeners
        self.port = port
        var loops: [EventLoop] = []
        for index in 0..<listeners.count {
            loops.append(try EventLoop(index: index))
        }
        self.loops = loops
        stopFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
    }

    deinit {
        if !isStarted.load(ordering: .relaxed) {
            for fd in listeners { close(fd) }
        }
        close(stopFD)
    }

    /// The port actually bound (useful with port 0).
    public var boundPort: Int { port }

    /// Serves until SIGTERM or SIGINT (handlers installed by this call) or `shutdown()`; then stops
    /// accepting, lets requests in flight finish (up to `shutdownGrace`), closes idle connections and
    /// returns. A second signal during the drain exits the process at once.
    public func run() {
        SignalWaker.install()
        start()
        var fds = [
            pollfd(fd: SignalWaker.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0),
        ]
        while !isShutdownRequested.load(ordering: .acquiring) {
            let ready = poll(&fds, 2, 1000)
            if ready > 0 && fds[0].revents != 0 { break }
        }
        shutdown()
        waitUntilStopped()
    }

    /// Starts the loops on background threads and returns at once. Later calls do nothing.
    public func start() {
        guard !isStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for (loop, listener) in zip(loops, listeners) {
            latch.enter()
            let thread = Thread { [self] in
                do {
                    let runner = try LoopRunner(server: self, loop: loop, listenFD: listener)
                    runner.run()
                } catch {
                    let message = "HTTPServer: loop \(loop.index) failed: \(error)\n"
                    FileHandle.standardError.write(Data(message.utf8))
                }
                self.latch.leave()
            }
            thread.name = "http-loop-\(loop.index)"
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    /// Begins the graceful shutdown; `waitUntilStopped()` blocks until it is done.
    public func shutdown() {
        guard !isShutdownRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        for loop in loops {
            loop.post(.shutdown)
            loop.wake()
        }
    }

    /// Blocks until every loop has stopped (returns at once if the server never started).
    public func waitUntilStopped() {
        latch.wait()
    }

    /// Counts a new connection; false (and nothing counted) when the server is full.
    func reserveConnection() -> Bool {
        let count = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if count > configuration.maxConnections {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// The connections open now, over every loop.
    var openConnectionCount: Int { openConnections.load(ordering: .relaxed) }

    func releaseConnection() {
        openConnections.wrappingSubtract(1, ordering: .relaxed)
    }
}
