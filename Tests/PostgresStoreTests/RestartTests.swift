import Foundation
import PostgresStore
import Synchronization
import Testing
import PostgresTestServer

/// PostgreSQL stopped and started under a running pool and listener. Uses a throwaway server of its
/// own, so the shared one other suites use is never disturbed.
@Suite(.serialized) struct RestartTests {
    @Test(arguments: ["fast", "immediate"])
    func poolFailsFastWhileTheServerIsDownAndRecoversWhenItIsBack(mode: String) throws {
        let server = try TestPostgresServer()
        defer { server.destroy() }
        var configuration = PostgresConfiguration(connectionString: server.url)
        configuration.poolSize = 4
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }
        let probe = ListenerProbe()
        let listener = probe.listener(url: server.url, channels: ["restart"])
        listener.start()
        defer { listener.stop() }

        // Fill the pool with open connections, all parked.
        onThreads(4) { _ in _ = try? pool.query("SELECT pg_sleep(0.05)") }
        #expect(pool.statistics.idle == 4)
        #expect(probe.waitUntilListening(pool: pool, channel: "restart"))

        // A connection leased across the restart fails with .unavailable, and is not returned broken.
        let leased = DispatchSemaphore(value: 0)
        let stopped = DispatchSemaphore(value: 0)
        let leasedOutcome = Collected<StoreError?>()
        let holder = Thread {
            leasedOutcome.append(
                storeError {
                    try pool.withConnection { connection in
                        leased.signal()
                        stopped.wait()
                        _ = try connection.query("SELECT 1")
                    }
                })
        }
        holder.start()
        leased.wait()

        try server.stop(mode: mode)
        stopped.signal()
        #expect(eventually { leasedOutcome.all.count == 1 })
        guard case .unavailable? = leasedOutcome.all.first ?? nil else {
            Issue.record("expected .unavailable on the leased connection, got \(leasedOutcome.all)")
            return
        }

        for _ in 0..<5 {
            let (error, elapsed) = measure { storeError { _ = try pool.query("SELECT 1") } }
            guard case .unavailable? = error else {
                Issue.record("expected .unavailable while down, got \(String(describing: error))")
                return
            }
            #expect(elapsed < .seconds(1))
        }
        #expect(pool.statistics.inUse == 0)

        try server.start()
        // The very next request succeeds: dead parked connections are noticed and replaced.
        #expect(try pool.query("SELECT 42").first?.int(0) == 42)
        onThreads(4) { _ in _ = try? pool.query("SELECT pg_sleep(0.05)") }
        for _ in 0..<8 { #expect(try pool.query("SELECT 1").first?.int(0) == 1) }

        // The listener came back on its own and said so (caches flush on that).
        #expect(eventually(timeout: .seconds(15)) { probe.reconnectCount >= 1 })
        #expect(probe.waitUntilListening(pool: pool, channel: "restart"))
    }
}

extension RestartTests {
    @Test func threadsUnderLoadSeeOnlyUnavailableDuringARestartAndThenSucceed() throws {
        let server = try TestPostgresServer()
        defer { server.destroy() }
        var configuration = PostgresConfiguration(connectionString: server.url)
        configuration.poolSize = 3
        configuration.leaseTimeout = .milliseconds(500)
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }

        let stopLoad = Atomic<Bool>(false)
        let unexpected = Collected<String>()
        let successes = Atomic<Int>(0)
        let unavailable = Atomic<Int>(0)
        let slowest = Mutex<Duration>(.zero)
        let group = DispatchGroup()
        for index in 0..<6 {
            group.enter()
            Thread {
                while !stopLoad.load(ordering: .relaxed) {
                    let (error, elapsed) = measure {
                        storeError {
                            if index % 2 == 0 {
                                try pool.transaction { connection in
                                    _ = try connection.query("SELECT pg_sleep(0.002)")
                                }
                            } else {
                                _ = try pool.withConnection {
                                    try $0.query("SELECT $1::text", [.text("x")])
                                }
                            }
                        }
                    }
                    slowest.withLock { $0 = max($0, elapsed) }
                    switch error {
                    case nil: successes.add(1, ordering: .relaxed)
                    case .unavailable?: unavailable.add(1, ordering: .relaxed)
                    case let other?: unexpected.append("\(other)")
                    }
                }
                group.leave()
            }.start()
        }
        #expect(eventually { successes.load(ordering: .relaxed) > 50 })
        try server.stop(mode: "immediate")
        #expect(eventually { unavailable.load(ordering: .relaxed) > 20 })
        try server.start()
        let afterRestart = successes.load(ordering: .relaxed)
        #expect(eventually { successes.load(ordering: .relaxed) > afterRestart + 50 })
        stopLoad.store(true, ordering: .relaxed)
        group.wait()
        #expect(unexpected.all.isEmpty)
        // Nothing hung: every call returned within the lease timeout plus a connect attempt.
        #expect(slowest.withLock { $0 } < .seconds(3))
        #expect(pool.statistics.inUse == 0)
        #expect(try pool.query("SELECT 1").first?.int(0) == 1)
    }
}
