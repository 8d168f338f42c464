import Foundation
import Synchronization
import Testing
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// The bookkeeping of per-tenant slots, without a database.
@Suite struct TenantSlotsTests {
    @Test func aParkedWaiterIsGrantedWhenItsTenantReleasesAndOtherTenantsNeverWait() throws {
        let slots = TenantSlots(limits: .init(connections: 2, exports: 1, queries: 1), wait: .seconds(30))
        let first = try #require(slots.tryAcquire("org_a", [.connection]))
        let second = try #require(slots.tryAcquire("org_a", [.connection]))
        #expect(slots.tryAcquire("org_a", [.connection]) == nil)
        #expect(slots.tryAcquire("org_b", [.connection, .query]) != nil)  // dropped at once: released
        #expect(slots.inUse("org_b", .connection) == 0)

        let outcome = Mutex<String?>(nil)
        let held = Mutex<TenantSlots.Lease?>(nil)
        let lease = slots.acquire(
            "org_a", [.connection],
            granted: { lease in
                held.withLock { $0 = lease }
                outcome.withLock { $0 = "granted" }
            },
            timedOut: { _ in outcome.withLock { $0 = "timed out" } })
        #expect(lease == nil)
        #expect(outcome.withLock { $0 } == nil)
        first.releaseAll()
        #expect(outcome.withLock { $0 } == "granted")  // on the releasing thread, at once
        #expect(slots.inUse("org_a", .connection) == 2)
        second.release(.connection)
        second.release(.connection)  // a second release of the same slot is ignored
        #expect(slots.inUse("org_a", .connection) == 1)
        held.withLock { $0 = nil }  // dropping a lease returns its slots
        #expect(slots.inUse("org_a", .connection) == 0)
    }

    @Test func aWaiterStillShortAfterTheWaitTimesOutWithTheKindItLacks() throws {
        let slots = TenantSlots(limits: .init(connections: 4, exports: 1, queries: 1), wait: .milliseconds(150))
        let export = try #require(slots.tryAcquire("org_a", [.connection, .export]))
        let outcome = Mutex<(TenantSlots.Kind, Duration)?>(nil)
        let start = ContinuousClock.now
        #expect(slots.acquire("org_a", [.connection, .export], granted: { _ in },
                              timedOut: { kind in outcome.withLock { $0 = (kind, ContinuousClock.now - start) } }) == nil)
        #expect(eventually { outcome.withLock { $0 } != nil })
        let (kind, waited) = try #require(outcome.withLock { $0 })
        #expect(kind == .export)
        #expect(waited >= .milliseconds(140))
        // Nothing of the timed-out waiter stays taken; a release afterwards grants nobody twice.
        #expect(slots.inUse("org_a", .connection) == 1)
        export.releaseAll()
        #expect(slots.inUse("org_a", .export) == 0)
        #expect(slots.inUse("org_a", .connection) == 0)
    }

    @Test func limitsFollowThePoolSizeAndTheShare() {
        #expect(TenantSlots.Limits.forPool(size: 16, share: 0.5) == .init(connections: 8, exports: 2, queries: 4))
        #expect(TenantSlots.Limits.forPool(size: 4, share: 0.5) == .init(connections: 2, exports: 2, queries: 2))
        #expect(TenantSlots.Limits.forPool(size: 1, share: 0.1) == .init(connections: 1, exports: 2, queries: 2))
        #expect(TenantSlots.Limits.forPool(size: 10, share: 1) == .init(connections: 10, exports: 2, queries: 2))
    }

    @Test func tenantPoolShareIsReadAndValidated() throws {
        let configuration = try GatewayConfiguration.load(environment: ["TENANT_POOL_SHARE": "0.25"], arguments: [])
        #expect(configuration.tenantPoolShare == 0.25)
        #expect(try GatewayConfiguration.load(environment: [:], arguments: ["--tenant-pool-share", "1"]).tenantPoolShare == 1)
        for bad in ["0", "1.5", "-0.1", "nan", "half"] {
            #expect(throws: GatewayConfiguration.ConfigurationError.self) {
                try GatewayConfiguration.load(environment: ["TENANT_POOL_SHARE": bad], arguments: [])
            }
        }
    }
}

/// A raw HTTP client that reads only when told to, with a small receive buffer, so the server
/// sees a slow (or stalled) reader.
final class SlowReader: @unchecked Sendable {
    private var fd: Int32
    private(set) var received: [UInt8] = []

    init(port: Int, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.io("socket") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw TestClientError.io("connect") }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends a GET (closing the connection after the response).
    func get(_ target: String, key: String) throws {
        let head = "GET \(target) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8)
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw TestClientError.io("send") }
    }

    /// One `recv` of at most `count` bytes; false at the end of the stream.
    @discardableResult
    func read(atMost count: Int) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: count)
        let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if got < 0 { throw TestClientError.io("recv errno \(errno)") }
        received += chunk[0..<got]
        return got > 0
    }

    /// Reads until the response head is complete; returns the status.
    func readHead() throws -> Int {
        while headEnd == nil {
            guard try read(atMost: 1024) else { throw TestClientError.closed }
        }
        let line = String(decoding: received.prefix(while: { $0 != 13 }), as: UTF8.self)
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Whether some response bytes are waiting in the socket, without taking them.
    var hasBytesWaiting: Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Reads to the end of the stream.
    func readToEnd() throws {
        while try read(atMost: 1 << 16) {}
    }

    private var headEnd: Int? {
        guard received.count >= 4 else { return nil }
        for index in 3..<received.count where received[index - 3] == 13 && received[index - 2] == 10
            && received[index - 1] == 13 && received[index] == 10 { return index + 1 }
        return nil
    }

    /// The chunked body received so far, decoded; nil when the terminating chunk is missing.
    var completeChunkedBody: [UInt8]? {
        guard var index = headEnd else { return nil }
        var body: [UInt8] = []
        while true {
            guard let lineEnd = received[index...].firstIndex(of: 10) else { return nil }
            let sizeText = String(decoding: received[index..<lineEnd].filter { $0 != 13 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 16) else { return nil }
            index = lineEnd + 1
            if size == 0 { return body }
            guard index + size + 2 <= received.count else { return nil }
            body += received[index..<index + size]
            index += size + 2
        }
    }
}

/// A tenant for the fairness tests: a high rate limit (unless a test is about limits) and helpers
/// to fill it with large memories fast.
struct FairTenant {
    let orgID: String
    let key: String
    let gateway: TestGateway

    init(_ gateway: TestGateway) throws {
        self.gateway = gateway
        (orgID, key) = try gateway.createTenant(plan: "professional")
        let patched = try gateway.client().call(
            "PATCH", "/v1/admin/tenants/\(orgID)", key: TestGateway.operatorToken,
            json: ["limits": ["rate_limit_per_minute": 1_000_000, "max_memories": 1_000_000]])
        guard patched.status == 200 else { throw TestClientError.io("limits: \(patched.status) \(patched.text)") }
    }

    /// Stores `count` memories of `bytes` characters each (words, so queries match them), in
    /// batches under the body limit; ids `<prefix>_<n>`, metadata `{"group": prefix}`.
    func fill(count: Int, bytes: Int, prefix: String) throws {
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"]
        var text = ""
        var index = 0
        while text.utf8.count < bytes - 10 {
            text += words[index % words.count] + " "
            index += 1
        }
        try Self.fill(gateway.client(), key: key, count: count, text: text, prefix: prefix)
    }

    /// Stores `count` memories of one long word (cheap to index), `bytes` long.
    func fillWord(count: Int, bytes: Int, prefix: String) throws {
        try Self.fill(gateway.client(), key: key, count: count, text: String(repeating: "x", count: bytes), prefix: prefix)
    }

    /// Stores `count` memories with text `"<n> " + text` through `client`, in batches under the body limit.
    static func fill(_ client: TestHTTPClient, key: String, count: Int, text: String, prefix: String,
                     spaceID: String? = nil) throws {
        let perBatch = max(1, min(1_000, 1_000_000 / (JSONValue.string(text).jsonBytes.count + 100)))
        var made = 0
        while made < count {
            let items: [JSONValue] = (made..<min(count, made + perBatch)).map { number in
                var item = JSONObject([
                    ("memory_id", .string("\(prefix)_\(number)")), ("text", .string("\(number) " + text)),
                    ("metadata", .object(JSONObject([("group", .string(prefix))]))),
                ])
                if let spaceID { item["space_id"] = .string(spaceID) }
                return .object(item)
            }
            let response = try client.call("POST", "/v1/memories/batch", key: key,
                                           json: .object(JSONObject([("memories", .array(items))])))
            guard response.status == 201 else { throw TestClientError.io("batch: \(response.status) \(response.text)") }
            made += items.count
        }
    }
}

/// Latency percentile (nearest rank) of `samples`, in milliseconds.
func percentile(_ samples: [Double], _ fraction: Double) -> Double {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
}

/// One tenant cannot starve another: slots per tenant, exports without held connections, bounded
/// pages and resident memory. Serialized: these tests load the machine on purpose.
@Suite(.serialized) struct FairShareTests {
    @Test func aTenantPastItsExportSlotsGetsA429AfterWaitingWhileItsOtherRequestsAndOtherTenantsGoOn() throws {
        let gateway = try TestGateway {
            $0.poolSize = 4  // 2 connections, 2 exports, 2 queries per tenant
            $0.poolWait = .milliseconds(300)
        }
        defer { gateway.stop() }
        let noisy = try FairTenant(gateway)
        let other = try FairTenant(gateway)
        try noisy.fillWord(count: 150, bytes: 40_000, prefix: "big")  // 6 MB: more than the socket buffers
        try other.fill(count: 3, bytes: 100, prefix: "small")

        let readers = try (0..<2).map { _ in try SlowReader(port: gateway.port) }
        for reader in readers {
            try reader.get("/v1/memories/export", key: noisy.key)
            #expect(try reader.readHead() == 200)
        }
        #expect(gateway.running.services.tenantSlots.inUse(noisy.orgID, .export) == 2)
        // The running exports hold no connection slot while their clients do not read.
        #expect(eventually { gateway.running.services.tenantSlots.inUse(noisy.orgID, .connection) == 0 })

        let client = gateway.client()
        let start = ContinuousClock.now
        let refused = try client.call("GET", "/v1/memories/export", key: noisy.key)
        let waited = ContinuousClock.now - start
        #expect(refused.status == 429)
        #expect(refused.errorCode == "concurrent_limit_exceeded")
        #expect(refused.header("Retry-After") == "1")
        #expect(refused.json?["error"]?["retry_after"]?.intValue == 1)
        #expect(refused.header("Content-Type") == "application/json")
        #expect(waited >= .milliseconds(280))
        #expect(try client.call("GET", "/v1/memories/count", key: noisy.key).data?["count"] == 150)
        let otherExport = try client.call("GET", "/v1/memories/export", key: other.key)
        #expect(otherExport.status == 200)
        #expect(otherExport.text.split(separator: "\n").count == 3)

        gateway.running.services.usage.flush()
        let usage = try client.call("GET", "/v1/usage", key: noisy.key)
        #expect((usage.data?["rate_limited"]?.intValue ?? 0) >= 1)

        // Stalled readers that go away give their slots back.
        for reader in readers { reader.close() }
        #expect(eventually(timeout: .seconds(10)) {
            gateway.running.services.tenantSlots.inUse(noisy.orgID, .export) == 0
        })
        let export = try client.call("GET", "/v1/memories/export", key: noisy.key)
        #expect(export.status == 200)
        #expect(export.text.split(separator: "\n").count == 150)
    }

    @Test func anExportShowsTheMemoriesAsOfItsStartWhateverHappensWhileTheClientIsSlow() throws {
        let gateway = MemoryTestGateway.shared
        let tenant = try FairTenant(gateway)
        try tenant.fill(count: 10, bytes: 200, prefix: "old")  // the oldest: the export's last lines
        try tenant.fillWord(count: 150, bytes: 40_000, prefix: "big")
        let client = gateway.client()

        let reader = try SlowReader(port: gateway.port)
        try reader.get("/v1/memories/export?include_history=true", key: tenant.key)
        #expect(try reader.readHead() == 200)

        // While the export waits for its reader: erase some, update one, create new ones.
        let erased = try client.call("DELETE", "/v1/memories?confirm=true&metadata.group=old", key: tenant.key)
        #expect(erased.data?["deleted"] == 10)
        #expect(try client.call("PUT", "/v1/memories/big_0", key: tenant.key, json: ["text": "changed later"]).status == 200)
        for number in 0..<5 {
            #expect(try client.call("POST", "/v1/memories", key: tenant.key,
                                    json: ["text": .string("after \(number)"), "memory_id": .string("new_\(number)")]).status == 201)
        }
        try reader.readToEnd()
        let body = try #require(reader.completeChunkedBody)
        let lines = body.split(separator: 10).map { try? JSONParser.parse(Array($0)) }
        let ids = lines.compactMap { $0?["id"]?.stringValue }
        #expect(ids.count == 150)
        #expect(Set(ids).count == 150)
        #expect(!ids.contains { $0.hasPrefix("old_") || $0.hasPrefix("new_") })
        let changed = try #require(lines.first { $0?["id"] == "big_0" } ?? nil)
        #expect(changed["version"] == 1)
        #expect(changed["text"]?.stringValue?.hasPrefix("0 xxx") == true)
        #expect(changed["versions"]?.arrayValue?.count == 1)
        #expect(changed["versions"]?[0]?["is_current"] == true)
        #expect(changed["versions"]?[0]?["superseded_at"] == .null)
        // A new export sees the present.
        let now = try client.call("GET", "/v1/memories/export", key: tenant.key)
        let nowIDs = now.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue }
        #expect(nowIDs.count == 155)
        #expect(nowIDs.prefix(5).allSatisfy { $0.hasPrefix("new_") })
    }

    @Test func aListPageStopsAtFourMebibytesOfJSONAndItsCursorContinues() throws {
        let gateway = MemoryTestGateway.shared
        let tenant = try FairTenant(gateway)
        let client = gateway.client()
        // 50,000 quotes: 100 KB of JSON each, twice what is stored, so the JSON writer makes the cut.
        try FairTenant.fill(client, key: tenant.key, count: 50, text: String(repeating: "\"", count: 49_990), prefix: "c")
        var seen: [String] = []
        var target = "/v1/memories?per_page=100"
        var pages = 0
        while pages < 10 {
            let page = try client.call("GET", target, key: tenant.key)
            #expect(page.status == 200)
            #expect(page.body.count <= 4 << 20)
            let memories = try #require(page.data?["memories"]?.arrayValue)
            #expect(!memories.isEmpty)
            seen += memories.compactMap { $0["id"]?.stringValue }
            pages += 1
            guard page.data?["has_more"] == true else {
                #expect(page.data?["next_cursor"] == .null)
                break
            }
            #expect(memories.count < 50)
            let cursor = try #require(page.data?["next_cursor"]?.stringValue)
            target = "/v1/memories?per_page=100&cursor=\(cursor)"
        }
        #expect(pages >= 2)
        #expect(seen.count == 50)
        #expect(Set(seen).count == 50)

    }

    @Test func historyIsPagedNewestFirstWithACursorBoundToItsMemory() throws {
        let gateway = MemoryTestGateway.shared
        let tenant = try FairTenant(gateway)
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "v1", "memory_id": "h"]).status == 201)
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "other", "memory_id": "o"]).status == 201)
        for version in 2...5 {
            #expect(try client.call("PUT", "/v1/memories/h", key: tenant.key, json: ["text": .string("v\(version)")]).status == 200)
        }
        let all = try client.call("GET", "/v1/memories/h/history", key: tenant.key)
        #expect(all.data?["versions"]?.arrayValue?.map { $0["version"] } == [5, 4, 3, 2, 1])
        #expect(all.data?["has_more"] == false)
        #expect(all.data?["next_cursor"] == .null)

        var versions: [JSONValue?] = []
        var target = "/v1/memories/h/history?per_page=2"
        var cursors: [String] = []
        for _ in 0..<5 {
            let page = try client.call("GET", target, key: tenant.key)
            #expect(page.status == 200)
            let shown = try #require(page.data?["versions"]?.arrayValue)
            #expect(shown.count <= 2)
            versions += shown.map { $0["version"] }
            guard let cursor = page.data?["next_cursor"]?.stringValue else {
                #expect(page.data?["has_more"] == false)
                break
            }
            #expect(page.data?["has_more"] == true)
            cursors.append(cursor)
            target = "/v1/memories/h/history?per_page=2&cursor=\(cursor)"
        }
        #expect(versions == [5, 4, 3, 2, 1])
        #expect(cursors.count == 2)
        let first = try #require(all.data?["versions"]?[0])
        #expect(first["is_current"] == true)
        #expect(first["superseded_at"] == .null)

        for bad in ["per_page=0", "per_page=101", "per_page=x", "cursor=nonsense"] {
            let response = try client.call("GET", "/v1/memories/h/history?\(bad)", key: tenant.key)
            #expect(response.status == 400, "\(bad)")
            #expect(response.errorCode == "invalid_request")
        }
        // A cursor of one memory's history does not page another's, nor another tenant's.
        let foreign = try client.call("GET", "/v1/memories/o/history?cursor=\(cursors[0])", key: tenant.key)
        #expect(foreign.status == 400)
        let stranger = try FairTenant(gateway)
        #expect(try client.call("GET", "/v1/memories/h/history?cursor=\(cursors[0])", key: stranger.key).status == 400)
        #expect(try client.call("GET", "/v1/memories/h/history", key: stranger.key).status == 404)
        // Gone is gone, on every page.
        #expect(try client.call("DELETE", "/v1/memories/h", key: tenant.key).status == 200)
        #expect(try client.call("GET", "/v1/memories/h/history?cursor=\(cursors[0])", key: tenant.key).status == 404)
    }

    @Test func anotherTenantStaysFastWhileOneRunsSlowExportsAndExpensiveQueries() throws {
        let gateway = try TestGateway {
            $0.poolSize = 8  // the noisy tenant may hold 4 connections, 2 exports, 2 queries
        }
        defer { gateway.stop() }
        let noisy = try FairTenant(gateway)
        let quiet = try FairTenant(gateway)
        try noisy.fillWord(count: 300, bytes: 20_000, prefix: "n")  // 6 MB: exports outlast the test
        let words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega "
        try FairTenant.fill(gateway.client(), key: noisy.key, count: 300, text: String(repeating: words, count: 30),
                            prefix: "w", spaceID: "words")
        try quiet.fill(count: 20, bytes: 200, prefix: "q")

        let duration: Duration = .seconds(10)
        let stop = Atomic<Bool>(false)
        let noisyOutcomes = Mutex<[Int: Int]>([:])
        let group = DispatchGroup()
        // 32 exports read slowly (4 KiB every 100 ms); a refused one retries after its Retry-After.
        for _ in 0..<32 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while !stop.load(ordering: .relaxed) {
                    guard let reader = try? SlowReader(port: gateway.port) else { return }
                    guard (try? reader.get("/v1/memories/export", key: noisy.key)) != nil,
                          let status = try? reader.readHead() else { return }
                    noisyOutcomes.withLock { $0[status, default: 0] += 1 }
                    if status != 200 {
                        Thread.sleep(forTimeInterval: 1)
                        continue
                    }
                    while !stop.load(ordering: .relaxed), (try? reader.read(atMost: 4096)) == true {
                        Thread.sleep(forTimeInterval: 0.1)
                    }
                }
            }
        }
        // 32 clients send expensive queries back to back (hybrid search: each of 600 KB of words
        // compared by trigram similarity).
        let queryLatencies = Mutex<[Double]>([])
        for _ in 0..<32 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let client = gateway.client()
                while !stop.load(ordering: .relaxed) {
                    let began = ContinuousClock.now
                    let response = try? client.call("POST", "/v1/query", key: noisy.key, json: [
                        "context": "alpha beta gamma delta epsilon zeta theta kappa", "hybrid_search": true,
                        "max_memories": 3, "relevance_threshold": 0, "space_id": "words",
                    ])
                    let elapsed = ContinuousClock.now - began
                    noisyOutcomes.withLock { $0[response?.status ?? -1, default: 0] += 1 }
                    if response?.status == 200 {
                        queryLatencies.withLock {
                            $0.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                        }
                    }
                }
            }
        }
        // Let the noise build up: every export and query slot of the noisy tenant taken.
        #expect(eventually(timeout: .seconds(10)) {
            let slots = gateway.running.services.tenantSlots
            return slots.inUse(noisy.orgID, .export) == 2 && slots.inUse(noisy.orgID, .query) == 2
        })

        let client = gateway.client()
        var latencies: [Double] = []
        var failures = 0
        let start = ContinuousClock.now
        var next = start
        var index = 0
        while ContinuousClock.now - start < duration {
            let began = ContinuousClock.now
            let response = try? client.call("GET", "/v1/memories/q_\(index % 20)", key: quiet.key)
            let elapsed = ContinuousClock.now - began
            latencies.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            if response?.status != 200 { failures += 1 }
            index += 1
            next = next + .milliseconds(50)
            let wait = next - ContinuousClock.now
            if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.attoseconds) / 1e18 + Double(wait.components.seconds)) }
        }
        stop.store(true, ordering: .relaxed)
        group.wait()

        let p50 = percentile(latencies, 0.5)
        let p99 = percentile(latencies, 0.99)
        let outcomes = noisyOutcomes.withLock { $0 }
        print("noisy neighbour: other tenant's GETs n=\(latencies.count) p50=\(String(format: "%.2f", p50)) ms "
              + "p99=\(String(format: "%.2f", p99)) ms max=\(String(format: "%.2f", latencies.max() ?? 0)) ms "
              + "errors=\(failures); noisy tenant's statuses \(outcomes.sorted { $0.key < $1.key }), "
              + "its answered queries p50=\(String(format: "%.0f", percentile(queryLatencies.withLock { $0 }, 0.5))) ms; "
              + "slowest other-tenant GETs \(latencies.sorted().suffix(5).map { String(format: "%.0f", $0) })")
        #expect(latencies.count >= 150)
        #expect(failures == 0)
        #expect(p99 < 100)
        #expect((outcomes[429] ?? 0) > 0)  // the noisy tenant was held to its share
        #expect((outcomes[200] ?? 0) > 0)
    }

    @Test func tenReadersThatNeverReadAFourMebibytePageLeaveTheProcessUnder512MiB() throws {
        let port = GatewayProcess.freePort()
        let token = "fair-share-operator-token-0123456789abcdef"
        let process = try GatewayProcess.serve(environment: [
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(port), "HOST": "127.0.0.1",
            "GATEWAY_OPERATOR_TOKEN": token, "ACCESS_LOG": "false", "DB_POOL_SIZE": "8", "GATEWAY_THREADS": "2",
        ])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let client = TestHTTPClient(port: port)
        #expect(eventually(timeout: .seconds(30)) { (try? client.request("GET", "/healthz"))?.status == 200 })

        func tenant() throws -> String {
            let created = try client.call("POST", "/v1/admin/tenants", key: token,
                                          json: ["name": "rss", "plan": "professional"])
            let orgID = try #require(created.data?["tenant"]?["id"]?.stringValue)
            #expect(try client.call("PATCH", "/v1/admin/tenants/\(orgID)", key: token,
                                    json: ["limits": ["rate_limit_per_minute": 1_000_000]]).status == 200)
            return try #require(created.data?["api_key"]?["key"]?.stringValue)
        }
        let hostile = try tenant()
        let other = try tenant()
        try FairTenant.fill(client, key: hostile, count: 100, text: String(repeating: "a", count: 49_990), prefix: "m")
        #expect(try client.call("POST", "/v1/memories", key: other, json: ["text": "hello", "memory_id": "hi"]).status == 201)

        func residentKiB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let idle = try residentKiB()
        let readers = try (0..<10).map { _ in try SlowReader(port: port) }
        for reader in readers { try reader.get("/v1/memories?per_page=100", key: hostile) }
        #expect(eventually(timeout: .seconds(20)) { readers.allSatisfy(\.hasBytesWaiting) })
        for _ in 0..<20 {
            #expect(try client.call("GET", "/v1/memories/hi", key: other).status == 200)
            #expect(try client.call("GET", "/v1/memories?per_page=5", key: other).status == 200)
        }
        // Plain text: PostgreSQL already stops at 4 MiB stored, the page still under 4 MiB of JSON.
        let first = try client.call("GET", "/v1/memories?per_page=100", key: hostile)
        let count = try #require(first.data?["memories"]?.arrayValue?.count)
        #expect(first.body.count <= 4 << 20)
        #expect(count > 50 && count < 100)
        #expect(first.data?["has_more"] == true)
        let cursor = try #require(first.data?["next_cursor"]?.stringValue)
        let rest = try client.call("GET", "/v1/memories?per_page=100&cursor=\(cursor)", key: hostile)
        #expect(rest.data?["memories"]?.arrayValue?.count == 100 - count)
        #expect(rest.data?["has_more"] == false)
        let loaded = try residentKiB()
        print("hostile readers: gateway VmRSS idle \(idle / 1024) MiB, with 10 unread 4 MiB pages \(loaded / 1024) MiB")
        #expect(loaded < 512 * 1024)
        for reader in readers { reader.close() }
    }
}
