import Foundation
import Glibc
import Synchronization

/// Receives `NOTIFY`s on some channels over its own dedicated connection (not from the pool: behind
/// pgbouncer in transaction mode, `LISTEN` needs a direct connection), on its own thread.
///
/// After losing the connection it reconnects with exponential backoff, listens again, then calls
/// `onReconnect`: notifications sent meanwhile were missed, so caches they keep fresh must be flushed.
/// `onReconnect` is also called when the first connection succeeds only after failed attempts.
/// `onListening` is called each time it listens (before `onReconnect`), `onLost` as soon as it
/// notices the connection is gone (a terminated backend closes the socket, which wakes the poll at
/// once), so a cache can stay off while notifications could be missed. Callbacks run on the listener's thread, one at a time; they must not block for long.
public final class PostgresListener: Sendable {
    /// Backoff between connection attempts: doubles from the first value up to the second.
    static let initialBackoff: Duration = .milliseconds(100)
    static let maximumBackoff: Duration = .seconds(5)
    /// How often the thread looks at the stop flag while waiting on the socket.
    static let stopCheckInterval: Duration = .milliseconds(100)
    /// How long ``stop()`` waits for the thread to finish.
    static let stopTimeout: Duration = .seconds(5)

    private let connectionString: String
    private let channels: [String]
    private let onNotification: @Sendable (_ channel: String, _ payload: String) -> Void
    private let onReconnect: @Sendable () -> Void
    private let onListening: @Sendable () -> Void
    private let onLost: @Sendable () -> Void
    private let current = Mutex<ListenerRun?>(nil)

    public init(
        connectionString: String, channels: [String],
        onNotification: @escaping @Sendable (_ channel: String, _ payload: String) -> Void,
        onListening: @escaping @Sendable () -> Void = {},
        onLost: @escaping @Sendable () -> Void = {},
        onReconnect: @escaping @Sendable () -> Void
    ) {
        self.connectionString = connectionString
        self.channels = channels
        self.onNotification = onNotification
        self.onListening = onListening
        self.onLost = onLost
        self.onReconnect = onReconnect
    }

    /// The process id of the listening connection's backend (tests terminate it), nil between connections.
    public var backendProcessID: Int32? {
        current.withLock { $0?.backendProcessID.load(ordering: .acquiring) }.flatMap { $0 == 0 ? nil : $0 }
    }

    deinit {
        current.withLock { $0?.requestStop() }
    }

    /// Starts the listening thread; does nothing if it already runs.
    public func start() {
        let run: ListenerRun? = current.withLock { current in
            guard current == nil else { return nil }
            let run = ListenerRun()
            current = run
            return run
        }
        guard let run else { return }
        let connectionString = connectionString
        let channels = channels
        let onNotification = onNotification
        let onReconnect = onReconnect
        let onListening = onListening
        let onLost = onLost
        let thread = Thread {
            Self.listen(
                run: run, connectionString: connectionString, channels: channels,
                onNotification: onNotification, onListening: onListening, onLost: onLost, onReconnect: onReconnect)
        }
        thread.name = "postgres-listener"
        thread.start()
    }

    /// Stops listening and closes the connection. Waits (boundedly) for the thread to finish, so no
    /// callback runs after it returns, unless called from a callback itself.
    public func stop() {
        guard
            let run = current.withLock({ current in
                defer { current = nil }; return current
            })
        else { return }
        run.requestStop()
        if !run.isCurrentThread {
            _ = run.finished.wait(timeout: .now() + .milliseconds(Int(Self.stopTimeout.roundedUpMilliseconds)))
        }
    }

    /// The thread's loop: connect and listen, wait for notifications, reconnect after a loss.
    private static func listen(
        run: ListenerRun, connectionString: String, channels: [String],
        onNotification: @Sendable (String, String) -> Void, onListening: @Sendable () -> Void,
        onLost: @Sendable () -> Void, onReconnect: @Sendable () -> Void
    ) {
        run.markCurrentThread()
        defer { run.finished.signal() }
        var backoff = initialBackoff
        var hasFailed = false
        while !run.isStopRequested {
            let connection: PostgresConnection
            do throws(StoreError) {
                connection = try PostgresConnection(
                    connectionString: connectionString, connectTimeout: .seconds(2), statementTimeout: nil,
                    usePreparedStatements: false, settingsInStartupPacket: true)
                for channel in channels {
                    try connection.execute("LISTEN " + quoteIdentifier(channel))
                }
            } catch {
                hasFailed = true
                pause(for: backoff, unlessStopped: run)
                backoff = min(backoff * 2, maximumBackoff)
                continue
            }
            backoff = initialBackoff
            run.backendProcessID.store(connection.backendProcessID, ordering: .releasing)
            onListening()
            if hasFailed { onReconnect() }
            hasFailed = true  // from now on, any new connection follows a loss
            waitForNotifications(on: connection, run: run, onNotification: onNotification)
            run.backendProcessID.store(0, ordering: .releasing)
            if !run.isStopRequested { onLost() }
        }
    }

    /// Delivers notifications until the connection is lost or a stop is requested.
    private static func waitForNotifications(
        on connection: PostgresConnection, run: ListenerRun, onNotification: @Sendable (String, String) -> Void
    ) {
        let timeout = Int32(stopCheckInterval.roundedUpMilliseconds)
        while !run.isStopRequested {
            var descriptor = pollfd(fd: connection.socketDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            guard ready > 0 else { continue }
            if descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return }
            do throws(StoreError) {
                for notification in try connection.consumeNotifications() {
                    onNotification(notification.channel, notification.payload)
                }
            } catch {
                return
            }
        }
    }

    private static func pause(for duration: Duration, unlessStopped run: ListenerRun) {
        let deadline = ContinuousClock.now + duration
        while !run.isStopRequested, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: min(stopCheckInterval, deadline - .now).timeInterval)
        }
    }

    /// `"name"` with embedded quotes doubled: a channel name is an identifier, never SQL.
    static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// One run of a listener thread: its stop flag and completion signal.
private final class ListenerRun: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    /// The listening connection's backend process id, 0 between connections.
    let backendProcessID = Atomic<Int32>(0)
    private let thread = Mutex<pthread_t?>(nil)
    let finished = DispatchSemaphore(value: 0)

    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }
    func requestStop() { stopRequested.store(true, ordering: .releasing) }

    func markCurrentThread() {
        let me = pthread_self()
        thread.withLock { $0 = me }
    }

    var isCurrentThread: Bool {
        let me = pthread_self()
        return thread.withLock { $0.map { pthread_equal($0, me) != 0 } ?? false }
    }
}
