import CSystem

#if canImport(Glibc)
import Glibc
#endif

extension LoopRunner {
    /// Accepts every pending connection, each with a fresh state machine.
    func acceptConnections() {
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
                fd: fd, id: nextConnectionID, peerAddress: Socket.describe(&storage), limits: limits,
                machine: ConnectionStateMachine(timeouts: timeouts, now: now, isDraining: isDraining))
            if Int(fd) >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
            }
            connections[Int(fd)] = connection
            connectionCount += 1
            add(fd: fd, events: EPOLLIN.rawValue, token: UInt64(fd))
        }
    }
}
