import Foundation
import Synchronization

/// A value split into shards chosen by the calling thread, so the worker threads that update it on
/// every request do not contend for one lock; readers combine the shards.
final class ThreadSharded<Value: Sendable>: Sendable {
    private final class Shard: Sendable {
        let mutex: Mutex<Value>
        init(_ value: sending Value) { mutex = Mutex(value) }
    }

    private let shards: [Shard]

    init(count: Int = 16, _ make: () -> Value) {
        shards = (0..<max(1, count)).map { _ in Shard(make()) }
    }

    /// Runs `body` on the calling thread's shard.
    func withCurrent<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        let thread = UInt64(UInt(pthread_self()))
        let index = Int((thread &* 0x9E37_79B9_7F4A_7C15) >> 40) % shards.count
        return shards[index].mutex.withLock { value in body(&value) }
    }

    /// Runs `body` on every shard in turn (each under its own lock).
    func forEach(_ body: (inout Value) -> Void) {
        for shard in shards {
            shard.mutex.withLock { value in body(&value) }
        }
    }

    /// Runs `body` on the first shard (a place to put back what could not be handled).
    func withFirst<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        shards[0].mutex.withLock { value in body(&value) }
    }
}
