import Foundation
import PostgresStore
import Synchronization
import Testing
import PostgresTestServer

/// Records what a listener delivers, for tests to wait on.
final class ListenerProbe: Sendable {
    let notifications = Collected<String>()
    let reconnects = Atomic<Int>(0)

    func listener(url: String, channels: [String]) -> PostgresListener {
        PostgresListener(
            connectionString: url, channels: channels,
            onNotification: { [notifications] channel, payload in notifications.append("\(channel)|\(payload)") },
            onReconnect: { [self] in self.reconnects.add(1, ordering: .relaxed) })
    }

    var reconnectCount: Int { reconnects.load(ordering: .relaxed) }

    /// Sends `ping` notifications until one arrives: the listener is listening.
    func waitUntilListening(pool: PostgresPool, channel: String, timeout: Duration = .seconds(20)) -> Bool {
        let marker = TestDatabase.uniqueName("ping")
        return eventually(timeout: timeout) {
            _ = try? pool.query("SELECT pg_notify($1, $2)", [.text(channel), .text(marker)])
            return eventually(timeout: .milliseconds(100)) { notifications.all.contains("\(channel)|\(marker)") }
        }
    }
}

@Suite struct ListenerTests {
    @Test func deliversNotificationsAndReconnectsAfterItsConnectionIsKilled() throws {
        let pool = TestDatabase.pool(poolSize: 2)
        defer { pool.close() }
        let applicationName = TestDatabase.uniqueName("listener")
        let channel = "mg \"test\" " + TestDatabase.uniqueName("Chan")
        let other = TestDatabase.uniqueName("other")
        let probe = ListenerProbe()
        let listener = probe.listener(
            url: TestDatabase.url(adding: ["application_name": applicationName]), channels: [channel, other])
        listener.start()
        listener.start()  // idempotent
        defer { listener.stop() }
        #expect(probe.waitUntilListening(pool: pool, channel: channel))
        #expect(probe.reconnectCount == 0)

        let payloads = ["first", "", "ünïcødé 😀 漢字", String(repeating: "p", count: 7_000)]
        for payload in payloads {
            try pool.query("SELECT pg_notify($1, $2)", [.text(channel), .text(payload)])
        }
        try pool.query("NOTIFY \(other), 'on the other channel'")
        let expected = payloads.map { "\(channel)|\($0)" } + ["\(other)|on the other channel"]
        #expect(eventually { Array(probe.notifications.all.suffix(5)) == expected })

        // Kill the listener's backend: it reconnects, listens again, and says so.
        let killed = try pool.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [.text(applicationName)])
        #expect(killed.count == 1)
        #expect(eventually { probe.reconnectCount == 1 })
        #expect(probe.waitUntilListening(pool: pool, channel: other))
        try pool.query("SELECT pg_notify($1, $2)", [.text(channel), .text("after reconnect")])
        #expect(eventually { probe.notifications.all.last == "\(channel)|after reconnect" })

        // After stop, nothing more is delivered.
        listener.stop()
        let count = probe.notifications.all.count
        try pool.query("SELECT pg_notify($1, $2)", [.text(channel), .text("after stop")])
        Thread.sleep(forTimeInterval: 0.2)
        #expect(probe.notifications.all.count == count)
        #expect(
            try pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [.text(applicationName)]
            ).first?.int(0) == 0)
    }

    @Test func keepsRetryingUntilTheServerIsReachable() throws {
        let probe = ListenerProbe()
        let listener = probe.listener(
            url: "postgresql://postgres@127.0.0.1:\(TestPostgresServer.freePort())/postgres", channels: ["nothing"])
        listener.start()
        Thread.sleep(forTimeInterval: 0.3)
        let (_, elapsed) = measure { listener.stop() }
        #expect(elapsed < .seconds(1))
        #expect(probe.notifications.all.isEmpty)
    }
}
