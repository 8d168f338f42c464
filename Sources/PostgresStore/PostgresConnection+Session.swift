import CLibPQ
import Glibc

/// What the pool and the listener ask of a connection between statements: the transaction state,
/// whether it still looks alive (no round trip), and the notifications that arrived.
extension PostgresConnection {
    // MARK: Pool support

    /// The server-side transaction state, as libpq tracks it (no round trip).
    var transactionState: TransactionState {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failed
        case PQTRANS_ACTIVE: return .active
        default: return .unknown
        }
    }

    enum TransactionState {
        case idle, inTransaction, failed, active, unknown
    }

    /// Whether the connection still looks alive, without a round trip: libpq's status, then whether the
    /// server closed the socket or sent something (a shutdown notice) while we were not looking.
    func isAlive() -> Bool {
        guard !isBroken, PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            return false
        }
        let socket = PQsocket(handle)
        guard socket >= 0 else {
            markBroken()
            return false
        }
        // A server that ends a session (shutdown, pg_terminate_backend) first sends a FATAL message, then
        // closes the socket: one read returns the message, only the next one sees the end of the stream.
        // So read while there is something to read (a bounded number of times: a live connection that
        // just received a NOTIFY or a parameter change stops being readable after one read).
        for _ in 0..<Self.maximumReadsWhenCheckingLiveness {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready == 0 || (ready < 0 && errno == EINTR) { return true }
            if ready < 0 || descriptor.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
                || PQconsumeInput(handle) != 1 || PQstatus(handle) != CONNECTION_OK
            {
                markBroken()
                return false
            }
        }
        return true
    }

    /// See ``isAlive()``.
    private static let maximumReadsWhenCheckingLiveness = 4


    // MARK: Notifications (PostgresListener)

    /// The socket to wait on for notifications.
    var socketDescriptor: Int32 { PQsocket(handle) }
    /// The server process serving this connection.
    var backendProcessID: Int32 { PQbackendPID(handle) }

    /// Reads what arrived on the socket and returns the notifications received.
    /// - Throws: ``StoreError/unavailable(_:)`` when the connection is lost.
    func consumeNotifications() throws(StoreError) -> [(channel: String, payload: String)] {
        guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else {
            throw connectionError(fallback: "connection lost")
        }
        var notifications: [(channel: String, payload: String)] = []
        while let notification = PQnotifies(handle) {
            notifications.append(
                (String(cString: notification.pointee.relname), String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return notifications
    }
}
