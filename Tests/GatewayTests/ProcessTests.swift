import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// The executable: concurrent migration, the CLI, SIGTERM.
@Suite(.serialized) struct ProcessTests {
    @Test func threeInstancesMigrateOneDatabaseOnce() throws {
        let url = try GatewayProcess.freshDatabase()
        let results = UnsafeResults()
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            let result = try? GatewayProcess.run(["migrate"], environment: ["DATABASE_URL": url])
            results.set(index, result?.status ?? -1)
        }
        #expect(results.values == [0, 0, 0])
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: url))
        defer { pool.close() }
        let rows = try pool.query("SELECT count(*), count(DISTINCT version) FROM schema_migrations")
        #expect(rows.first?.int(0) == Int64(Migrations.all.count))
        #expect(rows.first?.int(1) == Int64(Migrations.all.count))
        #expect(try Migrator.isCurrent(pool: pool, migrations: Migrations.all))
    }

    @Test func tenantCreateCommandPrintsBareJSON() throws {
        let result = try GatewayProcess.run(["tenant", "create", "--name", "CLI Co", "--plan", "starter"],
                                            environment: ["DATABASE_URL": TestGateway.databaseURL])
        #expect(result.status == 0)
        let json = try JSONParser.parse(result.stdout)
        #expect(json["tenant"]?["name"]?.stringValue == "CLI Co")
        #expect(json["tenant"]?["plan"]?.stringValue == "starter")
        #expect(json["api_key"]?["key"]?.stringValue?.hasPrefix("mem_live_") == true)
        #expect(json["success"] == nil)
        let bad = try GatewayProcess.run(["tenant", "create", "--name", "x", "--plan", "gold"],
                                         environment: ["DATABASE_URL": TestGateway.databaseURL])
        #expect(bad.status != 0)
    }

    /// A port in use (by a socket without SO_REUSEPORT) is a clean error exit, not a crash of
    /// background threads at exit.
    @Test func aPortInUseExitsWithAnError() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        let result = try GatewayProcess.run(["serve"], environment: [
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(UInt16(bigEndian: address.sin_port)), "HOST": "127.0.0.1",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("bind"))
    }

    @Test func sigtermDrainsAndFlushesUsage() throws {
        let port = GatewayProcess.freePort()
        let process = try GatewayProcess.serve(environment: [
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(port), "HOST": "127.0.0.1",
            "USAGE_FLUSH_MS": "60000", "ACCESS_LOG": "false",
        ])
        defer { if process.isRunning { process.terminate() } }
        let client = TestHTTPClient(port: port)
        #expect(eventually(timeout: .seconds(20)) { (try? client.request("GET", "/healthz").status) == 200 })
        let tenant = try TestGateway.shared.createTenant()
        for _ in 0..<7 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        client.close()
        kill(process.processIdentifier, SIGTERM)
        #expect(eventually(timeout: .seconds(10)) { !process.isRunning })
        #expect(process.terminationStatus == 0)
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: TestGateway.databaseURL))
        defer { pool.close() }
        let rows = try pool.query("SELECT coalesce(sum(requests), 0) FROM usage_counters WHERE org_id = $1", [.text(tenant.orgID)])
        #expect(rows.first?.int(0) == 7)
    }
}

/// Results written from concurrent closures, for tests.
final class UnsafeResults: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Int: Int32] = [:]

    func set(_ index: Int, _ value: Int32) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [Int32] {
        lock.lock()
        defer { lock.unlock() }
        return storage.keys.sorted().map { storage[$0] ?? -1 }
    }
}

/// What the access log holds: one line per request with the key prefix, never the key.
@Suite struct AccessLogTests {
    @Test func logLinesNeverHoldTheKey() throws {
        let port = GatewayProcess.freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = GatewayProcess.executable
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(port), "HOST": "127.0.0.1",
            "GATEWAY_OPERATOR_TOKEN": TestGateway.operatorToken,
        ]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let client = TestHTTPClient(port: port)
        #expect(eventually(timeout: .seconds(20)) { (try? client.request("GET", "/healthz").status) == 200 })
        let created = try client.call("POST", "/v1/admin/tenants", key: TestGateway.operatorToken, json: ["name": "logged"])
        let key = try #require(created.data?["api_key"]?["key"]?.stringValue)
        _ = try client.call("GET", "/v1/account", key: key, headers: [("X-Request-ID", "trace-me-1")])
        _ = try client.call("GET", "/v1/account?token=\(key)", key: key)
        client.close()
        kill(process.processIdentifier, SIGTERM)
        #expect(eventually(timeout: .seconds(10)) { !process.isRunning })
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(!text.contains(key))
        #expect(!text.contains(TestGateway.operatorToken))
        #expect(text.contains("request_id=trace-me-1"))
        #expect(text.contains("key_prefix=\(key.prefix(12))"))
        #expect(text.contains("path=/v1/account "))
    }
}

/// kill -9 loses at most the counts of the last flush interval of that instance.
@Suite struct UsageCrashTests {
    @Test func killNineLosesAtMostOneFlushInterval() throws {
        let port = GatewayProcess.freePort()
        let process = try GatewayProcess.serve(environment: [
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(port), "HOST": "127.0.0.1",
            "USAGE_FLUSH_MS": "300", "ACCESS_LOG": "false",
        ])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let client = TestHTTPClient(port: port)
        #expect(eventually(timeout: .seconds(20)) { (try? client.request("GET", "/healthz").status) == 200 })
        let tenant = try TestGateway.shared.createTenant()
        for _ in 0..<20 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        Thread.sleep(forTimeInterval: 0.7)  // more than two flush intervals: these 20 are written
        for _ in 0..<5 { #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200) }
        kill(process.processIdentifier, SIGKILL)
        #expect(eventually(timeout: .seconds(5)) { !process.isRunning })
        let pool = TestGateway.shared.running.services.pool
        let counted = try pool.query("SELECT coalesce(sum(requests), 0) FROM usage_counters WHERE org_id = $1",
                                     [.text(tenant.orgID)]).first?.int(0) ?? -1
        #expect(counted >= 20 && counted <= 25)
    }
}
