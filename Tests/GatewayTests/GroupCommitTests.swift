import Foundation
import PostgresStore
import Synchronization
import Testing
@testable import Gateway
import PostgresTestServer

/// Group commit end to end: concurrent writes queue behind a commit in flight, commit together,
/// each is answered only after its group committed, and one write's failure is its own.
///
/// The groups are made deterministic, not by timing: the gateway has one commit slot, and the
/// first write goes into a space whose row the test holds locked (`CommitGate`), so every write
/// sent meanwhile queues until the test lets the lock go.
@Suite(.serialized) struct GroupCommitTests {
    /// One commit in flight, up to 32 writes a group, room for 64 concurrent requests of one tenant.
    private static func gateway(databaseURL: String = TestGateway.databaseURL) throws -> TestGateway {
        try TestGateway { configuration in
            configuration.databaseURL = databaseURL
            configuration.poolSize = 72
            configuration.tenantPoolShare = 1
            configuration.groupCommit.isEnabled = true
            configuration.groupCommit.limits = .init(maxBatch: 32, maxInFlight: 1)
        }
    }

    @Test func sixtyFourConcurrentCreatesAreAcknowledgedOnlyOnceDurable() throws {
        let server = try TestPostgresServer(fsync: true)
        TestPostgresServer.stopAtExit(server)
        defer { server.destroy() }
        let gateway = try Self.gateway(databaseURL: server.url)
        defer { gateway.stop() }
        let tenant = try gateway.createTenant()
        let gate = try CommitGate(gateway: gateway, orgID: tenant.orgID, key: tenant.key)
        let before = gateway.running.services.writes.statistics

        let acknowledged = Shared<[String]>([])
        let statuses = Shared<[Int]>([])
        try gate.send(63, gateway: gateway) { index, client in
            let response = try client.call("POST", "/v1/memories", key: tenant.key,
                                           json: ["text": .string("durable \(index)")])
            statuses.update { $0.append(response.status) }
            if response.status == 201, let id = response.data?["id"]?.stringValue {
                acknowledged.update { $0.append(id) }
            }
        }
        // The moment the last acknowledgement arrived: no clean shutdown, nothing flushed on the way.
        try server.crash()
        try server.start()

        #expect(statuses.value == Array(repeating: 201, count: 63))
        let ids = acknowledged.value + [gate.firstID].compactMap { $0 }
        #expect(ids.count == 64)
        let after = gateway.running.services.writes.statistics
        // After the gated write's group: the 63 queued behind it in two groups (32 and 31).
        #expect(after.writes - before.writes == 63)
        #expect(after.groups - before.groups == 2)
        var configuration = PostgresConfiguration(connectionString: server.url)
        configuration.poolSize = 1
        let pool = PostgresPool(configuration: configuration)
        defer { pool.close() }
        let rows = try pool.query("SELECT memory_id FROM memories WHERE org_id = $1", [.text(tenant.orgID)])
        let stored = Set(rows.compactMap { $0.string("memory_id") })
        #expect(Set(ids).subtracting(stored).isEmpty, "acknowledged but lost: \(Set(ids).subtracting(stored))")
    }

    @Test func aConflictingCustomIDFailsAloneWhileTheOtherSixtyThreeCommit() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant()
        let other = try gateway.createTenant()
        #expect(try gateway.client().call("POST", "/v1/memories", key: tenant.key,
                                          json: ["text": "first", "memory_id": "taken"]).status == 201)
        let gate = try CommitGate(gateway: gateway, orgID: tenant.orgID, key: tenant.key)
        let before = gateway.running.services.writes.statistics

        // 40 writes of the tenant (one reusing its taken id), 23 of another tenant in the same
        // groups, one of which uses the same id: free in that tenant.
        let outcomes = Shared<[Int: (status: Int, code: String?, id: String?)]>([:])
        try gate.send(63, gateway: gateway) { index, client in
            let key = index < 40 ? tenant.key : other.key
            var body: [(String, JSONValue)] = [("text", .string("item \(index)"))]
            if index == 17 || index == 50 { body.append(("memory_id", "taken")) }
            let response = try client.call("POST", "/v1/memories", key: key, json: .object(JSONObject(body)))
            outcomes.update {
                $0[index] = (response.status, response.errorCode, response.data?["id"]?.stringValue)
            }
        }
        let results = outcomes.value
        #expect(results.count == 63)
        #expect(results[17]?.status == 409 && results[17]?.code == "conflict")
        #expect(results[50]?.status == 201 && results[50]?.id == "taken")
        for (index, outcome) in results where index != 17 {
            #expect(outcome.status == 201, "item \(index): \(outcome)")
        }
        let after = gateway.running.services.writes.statistics
        #expect(after.writes - before.writes == 63)
        #expect(after.groups - before.groups == 2)

        // Each committed write is there, in its own tenant only; the refused one changed nothing.
        let tenantCount = try gateway.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(tenantCount.data?["count"]?.intValue == 1 + 1 + 39)  // "taken", the gated one, 39 new
        let otherCount = try gateway.client().call("GET", "/v1/memories/count", key: other.key)
        #expect(otherCount.data?["count"]?.intValue == 23)
        let kept = try gateway.client().call("GET", "/v1/memories/taken", key: tenant.key)
        #expect(kept.data?["text"]?.stringValue == "first")
        let theirs = try gateway.client().call("GET", "/v1/memories/taken", key: other.key)
        #expect(theirs.data?["text"]?.stringValue == "item 50")
        for (index, outcome) in results where index != 17 {
            let key = index < 40 ? tenant.key : other.key
            let fetched = try gateway.client().call("GET", "/v1/memories/\(outcome.id ?? "?")", key: key)
            #expect(fetched.status == 200 && fetched.data?["text"]?.stringValue == "item \(index)")
        }
    }

    @Test func writesPastAHardMemoryQuotaFailAloneWhileTheRestOfTheGroupCommits() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        // The free plan's quota is hard: at most 10 live memories (the gated write is the first).
        let tenant = try gateway.createTenant(plan: "free")
        let limits = try gateway.client().call(
            "PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
            json: ["limits": ["max_memories": 10, "rate_limit_per_minute": 1_000]])
        #expect(limits.status == 200)
        let other = try gateway.createTenant()
        let gate = try CommitGate(gateway: gateway, orgID: tenant.orgID, key: tenant.key)
        let before = gateway.running.services.writes.statistics

        // 15 creates of the capped tenant and 5 of another, all in one group.
        let statuses = Shared<[Int: (status: Int, code: String?)]>([:])
        try gate.send(20, gateway: gateway) { index, client in
            let key = index < 15 ? tenant.key : other.key
            let response = try client.call("POST", "/v1/memories", key: key, json: ["text": .string("capped \(index)")])
            statuses.update { $0[index] = (response.status, response.errorCode) }
        }
        let results = statuses.value
        let capped = (0..<15).compactMap { results[$0] }
        #expect(capped.filter { $0.status == 201 }.count == 9)
        #expect(capped.filter { $0.status == 429 && $0.code == "quota_exceeded" }.count == 6)
        #expect((15..<20).allSatisfy { results[$0]?.status == 201 })
        let after = gateway.running.services.writes.statistics
        #expect(after.groups - before.groups == 1 && after.writes - before.writes == 20)
        let count = try gateway.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 10)
        let otherCount = try gateway.client().call("GET", "/v1/memories/count", key: other.key)
        #expect(otherCount.data?["count"]?.intValue == 5)
    }

    @Test func batchImportsUpdatesAndCreatesCommitTogetherInOneGroup() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant()
        #expect(try gateway.client().call("POST", "/v1/memories", key: tenant.key,
                                          json: ["text": "v1", "memory_id": "edited"]).status == 201)
        let gate = try CommitGate(gateway: gateway, orgID: tenant.orgID, key: tenant.key)
        let before = gateway.running.services.writes.statistics

        // 3 imports of 10 items, 10 updates of one memory, 10 creates: 23 writes, one group.
        let statuses = Shared<[Int: Int]>([:])
        try gate.send(23, gateway: gateway) { index, client in
            let response: TestResponse
            switch index {
            case 0..<3:
                let items: [JSONValue] = (0..<10).map { .object(JSONObject([("text", .string("batch \(index) item \($0)"))])) }
                response = try client.call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(items)])
            case 3..<13:
                response = try client.call("PUT", "/v1/memories/edited", key: tenant.key,
                                           json: ["text": .string("edit \(index)")])
            default:
                response = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": .string("single \(index)")])
            }
            statuses.update { $0[index] = response.status }
        }
        let results = statuses.value
        for index in 0..<23 {
            #expect(results[index] == ((3..<13).contains(index) ? 200 : 201), "write \(index)")
        }
        let after = gateway.running.services.writes.statistics
        #expect(after.writes - before.writes == 23)
        #expect(after.groups - before.groups == 1)
        let count = try gateway.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 1 + 1 + 30 + 10)
        // Updates in one transaction still serialize: versions are consecutive, none lost.
        let history = try gateway.client().call("GET", "/v1/memories/edited/history", key: tenant.key)
        let versions = history.data?["versions"]?.arrayValue?.compactMap { $0["version"]?.intValue } ?? []
        #expect(versions == Array((1...11).reversed()))
    }

    @Test func idempotentReplaysStillAnswerTheFirstResponseWithGroupCommitOn() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant()
        let ids = Shared<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            // Two requests per key, sent at once: one does the work, the other replays (or waits).
            let response = try? gateway.client().call(
                "POST", "/v1/memories", key: tenant.key, json: ["text": .string("once \(index / 2)")],
                headers: [("Idempotency-Key", "group-\(index / 2)")])
            if let id = response?.data?["id"]?.stringValue { ids.update { $0.append("\(index / 2)=\(id)") } }
        }
        var replayed: [String: String] = [:]
        for entry in ids.value {
            let parts = entry.split(separator: "=").map(String.init)
            if let earlier = replayed[parts[0]] { #expect(earlier == parts[1]) }
            replayed[parts[0]] = parts[1]
        }
        let again = try gateway.client().call("POST", "/v1/memories", key: tenant.key, json: ["text": "once 0"],
                                              headers: [("Idempotency-Key", "group-0")])
        #expect(again.status == 201 && again.data?["id"]?.stringValue == replayed["0"])
        let count = try gateway.client().call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 4)
    }
}

/// Holds the gateway's only commit slot busy: a first write goes into the space `gate`, whose row
/// the test holds `FOR UPDATE`, so that write's group waits in PostgreSQL; `send` then queues
/// writes behind it, and lets the lock go once all of them wait in the committer.
private final class CommitGate: Sendable {
    private let release = DispatchSemaphore(value: 0)
    private let firstResponse = Shared<(status: Int, id: String?)?>(nil)

    /// The gated write's id, once it was answered.
    var firstID: String? { firstResponse.value?.id }

    init(gateway: TestGateway, orgID: String, key: String) throws {
        let space = try gateway.client().call("POST", "/v1/spaces", key: key, json: ["id": "gate", "name": "gate"])
        guard space.status == 201 else { throw TestClientError.io("space: \(space.status) \(space.text)") }
        let pool = gateway.running.services.pool
        let locked = DispatchSemaphore(value: 0)
        let release = release
        Thread {
            try? pool.withConnection { connection in
                try connection.execute("BEGIN")
                _ = try connection.query("SELECT 1 FROM spaces WHERE org_id = $1 AND space_id = 'gate' FOR UPDATE",
                                         [.text(orgID)])
                locked.signal()
                release.wait()
                try connection.execute("ROLLBACK")
            }
        }.start()
        locked.wait()
        let firstResponse = firstResponse
        Thread {
            let response = try? gateway.client().call("POST", "/v1/memories", key: key,
                                                      json: ["text": "gated", "space_id": "gate"])
            firstResponse.update { $0 = (response?.status ?? -1, response?.data?["id"]?.stringValue) }
        }.start()
        let writes = gateway.running.services.writes
        guard eventually(timeout: .seconds(60), { writes.statistics.inFlight == 1 }) else {
            release.signal()
            throw TestClientError.io("the gated write never reached the committer")
        }
    }

    /// Sends `count` requests at once (`body(index, client)` each on its own thread), waits until
    /// all of them queue behind the gated write, lets the gate go, and returns when all were
    /// answered (the gated one too).
    func send(_ count: Int, gateway: TestGateway, _ body: @escaping @Sendable (Int, TestHTTPClient) throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        for index in 0..<count {
            Thread {
                do { try body(index, gateway.client()) } catch { Issue.record("request \(index): \(error)") }
                done.signal()
            }.start()
        }
        let writes = gateway.running.services.writes
        let queued = eventually(timeout: .seconds(60)) { writes.statistics.queued == count }
        release.signal()
        for _ in 0..<count { done.wait() }
        #expect(queued, "only \(writes.statistics.queued) of \(count) writes queued")
        #expect(eventually(timeout: .seconds(60)) { firstResponse.value != nil })
        #expect(firstResponse.value?.status == 201)
    }
}

/// A value several threads update, behind a lock (a class, so closures can share it).
private final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    var value: Value { mutex.withLock { $0 } }

    func update(_ body: (inout Value) -> Void) {
        mutex.withLock { body(&$0) }
    }
}
