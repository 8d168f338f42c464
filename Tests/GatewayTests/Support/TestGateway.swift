import Foundation
import HTTPServer
import PostgresStore
import Synchronization
@testable import Gateway

/// A real gateway on an ephemeral port against the test PostgreSQL (`DATABASE_URL`), with an
/// operator token, for end-to-end tests. Tests make their own tenants, so they run in parallel.
final class TestGateway: Sendable {
    static let operatorToken = "test-operator-token-0123456789-abcdefghij"

    /// One gateway shared by the suites that need no special configuration.
    static let shared: TestGateway = {
        do { return try TestGateway() } catch { fatalError("test gateway did not start: \(error)") }
    }()

    let running: RunningGateway
    let port: Int

    static var databaseURL: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgresql://postgres@127.0.0.1:5432/memory_gateway"
    }

    /// Starts a gateway; `configure` adjusts its configuration.
    init(_ configure: (inout GatewayConfiguration) -> Void = { _ in }) throws {
        var configuration = GatewayConfiguration()
        configuration.databaseURL = Self.databaseURL
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.threads = 2
        configuration.poolSize = 6
        configuration.operatorToken = Self.operatorToken
        configuration.accessLog = false
        configuration.usageFlushInterval = .milliseconds(200)
        // Gateways share the test database: only webhook tests, which turn it on, deliver.
        configuration.webhooks.isDelivering = false
        configure(&configuration)
        running = try GatewayApp(configuration: configuration).prepare()
        running.server.start()
        port = running.server.boundPort
    }

    func stop() {
        running.stop()
    }

    func client() -> TestHTTPClient {
        TestHTTPClient(port: port)
    }

    /// Creates a tenant through the operator API; returns its id and first (admin) key.
    func createTenant(plan: String = "professional", name: String = "test tenant") throws -> (orgID: String, key: String) {
        let response = try client().call(
            "POST", "/v1/admin/tenants", key: Self.operatorToken,
            json: .object(JSONObject([("name", .string(name)), ("plan", .string(plan))])))
        guard response.status == 201, let data = response.data,
              let orgID = data["tenant"]?["id"]?.stringValue, let key = data["api_key"]?["key"]?.stringValue
        else { throw TestClientError.io("tenant creation failed: \(response.status) \(response.text)") }
        return (orgID, key)
    }

    /// Creates a key with `scopes` using an admin key.
    func createKey(admin: String, scopes: [String], environment: String = "live",
                   extra: [(String, JSONValue)] = []) throws -> (id: String, key: String) {
        var body: [(String, JSONValue)] = [("name", "test key"), ("scopes", .array(scopes.map { .string($0) })),
                                           ("environment", .string(environment))]
        body += extra
        let response = try client().call("POST", "/v1/account/api-keys", key: admin, json: .object(JSONObject(body)))
        guard response.status == 201, let id = response.data?["id"]?.stringValue, let key = response.data?["key"]?.stringValue
        else { throw TestClientError.io("key creation failed: \(response.status) \(response.text)") }
        return (id, key)
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
