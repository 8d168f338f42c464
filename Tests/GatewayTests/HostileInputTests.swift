import Foundation
import Testing

@testable import Gateway

/// Contract v1.1, "Fair use between tenants", the hostile-input rules: no body crashes the
/// process, singleton headers, a test key sees test usage only. Real gateway, real sockets,
/// real PostgreSQL.
@Suite struct HostileInputTests {
    static var gateway: TestGateway { TestGateway.shared }

    /// A professional tenant whose limits never get in the way of a test about input.
    static func roomyTenant() throws -> (orgID: String, key: String) {
        let tenant = try gateway.createTenant(name: "hostile input")
        let limits: JSONValue = ["limits": ["rate_limit_per_minute": 1_000_000, "monthly_request_quota": 1_000_000_000_000]]
        let patched = try gateway.client().call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                                json: limits)
        guard patched.status == 200 else { throw TestClientError.io("limits: \(patched.status) \(patched.text)") }
        return tenant
    }

    /// The instance still answers: the service route and an authenticated database route.
    static func expectAlive(key: String, _ comment: String) throws {
        let client = gateway.client()
        #expect(try client.request("GET", "/healthz").status == 200, "healthz after \(comment)")
        #expect(try client.call("GET", "/v1/account", key: key).status == 200, "account after \(comment)")
    }

    /// The bodies of issue 13 that killed the process (exponent arithmetic in the metadata size
    /// check; a 30-digit rate limit).
    static let crashingBodies: [(method: String, path: String, body: String)] = [
        ("POST", "/v1/memories", #"{"text":"x","metadata":{"a":0e9223372036854775807}}"#),
        ("POST", "/v1/memories", #"{"text":"x","metadata":{"a":0e-9223372036854775808}}"#),
        ("POST", "/v1/memories/batch", #"{"memories":[{"text":"x","metadata":{"a":0e9223372036854775807}}]}"#),
        ("POST", "/v1/memories/batch", #"{"memories":[{"text":"x","metadata":{"a":[1,0e-9223372036854775808]}}]}"#),
        ("POST", "/v1/query/extract", #"{"content":"The user likes tea.","metadata":{"a":0e9223372036854775807}}"#),
        ("POST", "/v1/query/extract", #"{"content":"The user likes tea.","metadata":{"a":0e-9223372036854775808}}"#),
        ("PUT", "/v1/memories/mem_missing", #"{"text":"x","metadata":{"a":1e-9223372036854775808}}"#),
        ("POST", "/v1/account/api-keys", #"{"name":"k","scopes":["read"],"rate_limit_per_minute":123456789012345678901234567890}"#),
    ]

    @Test func everyCrashingJSONBodyIsA400AndTheInstanceKeepsServing() throws {
        let tenant = try Self.roomyTenant()
        let client = Self.gateway.client()
        for (method, path, body) in Self.crashingBodies {
            let response = try client.request(
                method, path, headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                body: Array(body.utf8))
            #expect(response.status == 400, "\(method) \(path) \(body): \(response.status) \(response.text)")
            #expect(response.errorCode == "invalid_request", "\(body): \(response.text)")
            try Self.expectAlive(key: tenant.key, body)
        }
    }

    @Test func metadataNumbersThatFitAreStoredAndReadBackExactlyAsJSONBWritesThem() throws {
        let tenant = try Self.roomyTenant()
        let client = Self.gateway.client()
        // Exponents whose full expansion fits in 16 KiB are accepted; PostgreSQL writes them out.
        let body = #"{"text":"numbers","metadata":{"a":1e-300,"b":-9223372036854775808,"c":123456789012345678901234567890,"d":0e5}}"#
        let created = try client.request(
            "POST", "/v1/memories", headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.data?["id"]?.stringValue)
        let metadata = try #require(try client.call("GET", "/v1/memories/\(id)", key: tenant.key).data?["metadata"])
        #expect(metadata["b"]?.numberValue?.text == "-9223372036854775808")
        #expect(metadata["c"]?.numberValue?.text == "123456789012345678901234567890")
        #expect(metadata["a"]?.doubleValue == 1e-300)
        #expect(metadata["d"]?.doubleValue == 0)
        // One whose expansion passes the limit is refused, whatever the exponent's size.
        for exponent in ["-16384", "-99999999999999999999999999", "9223372036854775807"] {
            let big = #"{"text":"x","metadata":{"a":0e\#(exponent)}}"#
            let refused = try client.request(
                "POST", "/v1/memories", headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                body: Array(big.utf8))
            #expect(refused.status == 400, "\(big): \(refused.text)")
        }
    }

    @Test func metadataExpansionIsTotalForEveryExponent() {
        for text in ["0e9223372036854775807", "0e-9223372036854775808", "1e-99999999999999999999999999999999",
                     "-0.5E+0000000000000000000000000000001", "1e5", "1e-5"] {
            let object = JSONObject([("a", .number(JSONNumber(validatedText: text, integer: nil)))])
            let extra = Metadata.expansion(of: object)
            #expect(extra >= 0 && extra <= Metadata.maxBytes + 1, "\(text): \(extra)")
        }
        // `1e5` is stored as `100000`: 3 bytes more, estimated as at most 5 (room for a sign and a point).
        #expect(Metadata.expansion(of: JSONObject([("a", .number(JSONNumber(validatedText: "1e5", integer: nil)))])) == 5)
    }

    /// Query-string values at the edges: a clear answer, never a 500 from PostgreSQL refusing
    /// what the gateway let through.
    @Test(arguments: [
        ("/v1/usage/history?from=0000-01-01&to=0000-01-05", 400),
        ("/v1/usage/history?to=0000-01-05", 400),
        ("/v1/memories?per_page=99999999999999999999999", 400),
        ("/v1/memories?page=-9223372036854775808", 400),
        ("/v1/memories?metadata.n=0e99999999999999999999", 200),
        ("/v1/memories?metadata.n=1e-9223372036854775808", 200),
        ("/v1/memories/count?metadata.n=-0e-99999999999999", 200),
    ])
    func edgeQueryValuesGetAClearAnswer(_ target: String, _ status: Int) throws {
        let tenant = try Self.roomyTenant()
        let response = try Self.gateway.client().call("GET", target, key: tenant.key)
        #expect(response.status == status, "\(target): \(response.text)")
    }

    @Test func queryFiltersWithANumberNoMetadataCanHoldAreA400() throws {
        let tenant = try Self.roomyTenant()
        let body = #"{"context":"tea","filters":{"n":[1,{"m":0e99999999999999}]}}"#
        let response = try Self.gateway.client().request(
            "POST", "/v1/query", headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400, "\(response.text)")
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == "filters", "\(response.text)")
    }

    // MARK: Singleton headers

    static let singletons = ["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type"]

    @Test(arguments: HostileInputTests.singletons)
    func aRepeatedSingletonHeaderIsRefusedBeforeAnyKeyIsLookedAt(_ name: String) throws {
        let tenant = try Self.roomyTenant()
        let client = Self.gateway.client()
        let value: String = switch name {
        case "Authorization": "Bearer \(tenant.key)"
        case "X-API-Key": tenant.key
        case "Idempotency-Key": "same-key-1"
        default: "application/json"
        }
        var headers = [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")]
            .filter { $0.0 != name }
        // Equal values too: which of two counts must never depend on who reads them.
        headers += [(name, value), (name.lowercased(), value)]
        let response = try client.request("POST", "/v1/memories", headers: headers, body: Array(#"{"text":"dup"}"#.utf8))
        #expect(response.status == 400, "\(name): \(response.status) \(response.text)")
        #expect(response.errorCode == "invalid_request")
        #expect(response.json?["error"]?["message"]?.stringValue?.contains(name) == true, "\(response.text)")
        // Nothing was written, and no usage was counted for the key (no key was looked at).
        let count = try client.call("GET", "/v1/memories/count", key: tenant.key)
        #expect(count.data?["count"]?.intValue == 0, "\(count.text)")
    }

    @Test func twoDifferentAuthorizationHeadersDoNotLetTheSecondOverrideAProxy() throws {
        let tenant = try Self.roomyTenant()
        let response = try Self.gateway.client().request(
            "GET", "/v1/account", headers: [("Authorization", "Bearer \(tenant.key)"), ("Authorization", "Bearer mem_live_other")])
        #expect(response.status == 400)
        #expect(response.errorCode == "invalid_request")
        // One is fine.
        #expect(try Self.gateway.client().call("GET", "/v1/account", key: tenant.key).status == 200)
    }

    @Test func aRepeatedSingletonHeaderIsRefusedOnServiceAndOperatorRoutesToo() throws {
        let client = Self.gateway.client()
        let token = "Bearer \(TestGateway.operatorToken)"
        let admin = try client.request("GET", "/v1/admin/tenants", headers: [("Authorization", token), ("Authorization", token)])
        #expect(admin.status == 400)
        let health = try client.request("GET", "/healthz", headers: [("X-API-Key", "a"), ("X-API-Key", "a")])
        #expect(health.status == 400)
    }

    // MARK: Test keys see test data only

    @Test(arguments: ["/v1/usage", "/v1/usage/history", "/v1/usage/projection"])
    func aTestKeyAskingForLiveUsageIsForbidden(_ path: String) throws {
        let tenant = try Self.roomyTenant()
        let testKey = try Self.gateway.createKey(admin: tenant.key, scopes: ["read", "write", "delete", "admin"], environment: "test")
        let client = Self.gateway.client()
        let live = try client.call("GET", "\(path)?environment=live", key: testKey.key)
        #expect(live.status == 403, "\(path): \(live.text)")
        #expect(live.errorCode == "insufficient_scope")
        #expect(!live.text.contains(tenant.key.prefix(16)))
        // Its own environment stays readable, named or implied; a live key reads both.
        #expect(try client.call("GET", "\(path)?environment=test", key: testKey.key).status == 200)
        #expect(try client.call("GET", path, key: testKey.key).status == 200)
        #expect(try client.call("GET", "\(path)?environment=live", key: tenant.key).status == 200)
        #expect(try client.call("GET", "\(path)?environment=test", key: tenant.key).status == 200)
    }

    // MARK: Operator token

    @Test func serveRefusesAnOperatorTokenShorterThan32CharactersAndSaysWhy() throws {
        let short = String(repeating: "s", count: GatewayConfiguration.minimumOperatorTokenLength - 1)
        let process = Process()
        process.executableURL = GatewayProcess.executable
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "GATEWAY_OPERATOR_TOKEN": short, "DATABASE_URL": TestGateway.databaseURL, "HOST": "127.0.0.1", "PORT": "0",
        ]) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // It must exit by itself; one that serves instead is stopped and fails the test.
        let exited = eventually(timeout: .seconds(20)) { !process.isRunning }
        if !exited { process.terminate() }
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(exited, "serve started with a \(short.count)-character operator token")
        #expect(process.terminationStatus != 0)
        #expect(message.contains("GATEWAY_OPERATOR_TOKEN") && message.contains("at least 32"), "\(message)")
        #expect(!message.contains(short), "the token is never printed")
    }

    @Test func operatorTokensOf32CharactersAndMoreAreAccepted() throws {
        var configuration = GatewayConfiguration()
        configuration.operatorToken = String(repeating: "t", count: 32)
        #expect(throws: Never.self) { try configuration.validateForServing() }
        configuration.operatorToken = nil
        #expect(throws: Never.self) { try configuration.validateForServing() }
        configuration.operatorToken = "é" + String(repeating: "t", count: 30)  // 31 characters
        #expect(throws: GatewayConfiguration.ConfigurationError.self) { try configuration.validateForServing() }
    }
}
