import CSystem

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM/SIGINT handling for `HTTPServer.run()`: the handler writes to an eventfd that `run()` polls.
///
/// The state is process-global because a signal handler cannot capture context. `fd` is set once,
/// before the handlers are installed, and only read afterwards; `count` is touched only by the
/// handler itself (signals of one kind do not nest, and a second signal of either kind just exits).
enum SignalWaker {
    nonisolated(unsafe) private(set) static var fd: Int32 = -1
    nonisolated(unsafe) private static var count: Int32 = 0

    static func install() {
        count = 0
        if fd < 0 {
            fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            SignalWaker.count += 1
            if SignalWaker.count > 1 { _exit(128 + signal) }
            var one: UInt64 = 1
            _ = write(SignalWaker.fd, &one, 8)
        }
        sigemptyset(&action.sa_mask)
        sigaddset(&action.sa_mask, SIGTERM)
        sigaddset(&action.sa_mask, SIGINT)
        action.sa_flags = SA_RESTART
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        // A parent may hand us these signals blocked (test runners, some supervisors do): unblock
        // them in this thread, the one that waits for them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGTERM)
        sigaddset(&unblock, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }
}
