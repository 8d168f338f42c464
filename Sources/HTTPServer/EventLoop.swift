import CSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What other threads ask of a loop, through its mailbox.
enum LoopMessage: Sendable {
    case response(ResponseTarget, HTTPResponse)
    case streamStart(ResponseTarget, status: Int, headers: HTTPHeaders, logFields: [(key: String, value: String)], StreamState)
    case streamData(ResponseTarget, [UInt8])
    case streamEnd(ResponseTarget)
    case streamAbort(ResponseTarget)
    case shutdown
}

/// Which request of which connection a message answers.
struct ResponseTarget: Sendable {
    var fd: Int32
    var connectionID: UInt64
    var requestNumber: UInt64
}

/// The part of an event loop that other threads may touch: its mailbox and its wake-up eventfd.
/// Everything else of the loop (epoll, sockets, connections) lives in `LoopRunner`, on the loop thread.
final class EventLoop: Sendable {
    let index: Int
    /// An eventfd the loop waits on; writing to it wakes the loop to read its mailbox.
    let wakeFD: Int32
    private let mailbox = Mutex<[LoopMessage]>([])
    /// The loop thread's `pthread_self()`, 0 before it starts.
    private let thread = Atomic<UInt>(0)
    /// Whether a wake-up is already pending, so a burst of posts writes the eventfd once.
    private let wakePending = Atomic<Bool>(false)

    init(index: Int) throws(HTTPServerError) {
        self.index = index
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw .system("eventfd", errno) }
        wakeFD = fd
    }

    deinit {
        close(wakeFD)
    }

    /// Records the calling thread as this loop's thread.
    func bindToCurrentThread() {
        thread.store(UInt(pthread_self()), ordering: .releasing)
    }

    /// Whether the caller runs on this loop's thread.
    var isCurrentThread: Bool {
        thread.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Queues a message. From the loop thread no wake-up is needed: the loop drains its mailbox
    /// after every handler call and every iteration.
    func post(_ message: LoopMessage) {
        mailbox.withLock { $0.append(message) }
        if !isCurrentThread {
            wake()
        }
    }

    func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Swaps the mailbox's contents into `into` (which must be empty), keeping both capacities.
    func takeMessages(into spare: inout [LoopMessage]) {
        mailbox.withLock { swap(&$0, &spare) }
    }

    /// Clears the wake-up (called by the loop after its eventfd fired).
    func acknowledgeWake() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        wakePending.store(false, ordering: .releasing)
    }
}
