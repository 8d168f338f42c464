import Foundation
import Testing

@testable import Gateway

/// `serve` caps glibc's malloc arenas (idle memory after load): the decision, and that the cap
/// really holds for threads started after it.
@Suite struct MallocArenasTests {
    @Test func theCapIsOneArenaPerCoreAndAtLeastTwo() {
        #expect(MallocArenas.limit(environment: [:], processors: 1) == 2)
        #expect(MallocArenas.limit(environment: [:], processors: 2) == 2)
        #expect(MallocArenas.limit(environment: [:], processors: 12) == 12)
    }

    @Test func anOperatorsMallocArenaMaxIsLeftToGlibc() {
        #expect(MallocArenas.limit(environment: ["MALLOC_ARENA_MAX": "8"], processors: 2) == nil)
    }

    /// Threads alive at once, more than there are arenas, each allocating: without the cap glibc
    /// gives each one an arena of its own (up to 8 per core), with it they share the existing ones.
    @Test func threadsStartedAfterTheCapMakeNoNewArenas() {
        let before = MallocArenas.count()
        #expect(before >= 1)
        #expect(MallocArenas.cap(Int32(max(2, before))))
        let threads = max(2, before) + 4
        let allocated = DispatchGroup()
        let release = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for _ in 0..<threads {
            allocated.enter(); done.enter()
            let thread = Thread {
                let block = malloc(256)
                allocated.leave()
                release.wait()
                free(block)
                done.leave()
            }
            thread.start()
        }
        allocated.wait()
        let during = MallocArenas.count()
        for _ in 0..<threads { release.signal() }
        done.wait()
        #expect(during <= max(2, before))
    }
}
