import Foundation
import PostgresStore
import Testing

/// PostgreSQL stopped and started under a running pool and listener. Uses a throwaway server of its
/// own, so the shared one other suites use is never disturbed.
@Suite(.serialized) struct RestartTests {
    @Test(arguments: ["fast", "immediate"])
    func poolFailsFastWhileTheServerIsDownAndRecoversWhenItIsBack(mode: String) throws {
        let server = try ThrowawayPostgres()
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
        #expect(try probe.waitUntilListening(pool: pool, channel: "restart"))

        // A connection leased across the restart fails with .unavailable, and is not returned broken.
        let leased = DispatchSemaphore(value: 0)
        let stopped = DispatchSemaphore(value: 0)
        let leasedOutcome = Collected<StoreError?>()
        let holder = Thread {
            leasedOutcome.append(storeError {
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
        #expect(try probe.waitUntilListening(pool: pool, channel: "restart"))
    }
}
