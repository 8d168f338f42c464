import Foundation
import Testing
@testable import Gateway

/// `POST /mcp` end to end over real sockets: the JSON-RPC surface, the tools as second front door
/// to the REST handlers (scopes, limits, usage, idempotency), statelessness across two instances.
@Suite struct MCPEndpointTests {
    let first = UsageGateways.first
    let second = UsageGateways.second

    /// A professional tenant whose limit no test reaches (the limiter is tested with a key limit).
    func tenant() throws -> (orgID: String, key: String) {
        let tenant = try first.createTenant(plan: "professional")
        let patched = try UsageGateways.operatorPatch(tenant.orgID, ["limits": ["rate_limit_per_minute": 100_000]])
        #expect(patched.status == 200)
        return tenant
    }

    /// Sends one JSON-RPC message (or any JSON) to `/mcp`.
    func post(_ body: JSONValue, key: String?, on gateway: TestGateway? = nil,
              headers: [(String, String)] = [("MCP-Protocol-Version", "2025-06-18")]) throws -> TestResponse {
        var all = headers
        all.append(("Accept", "application/json, text/event-stream"))
        return try (gateway ?? first).client().call("POST", "/mcp", key: key, json: body, headers: all)
    }

    func request(_ method: String, _ params: JSONValue = .object(JSONObject()), id: JSONValue = 1) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "method": .string(method), "params": params]
    }

    /// Calls a tool; returns the JSON-RPC `result`.
    func call(_ tool: String, _ arguments: JSONValue, key: String, on gateway: TestGateway? = nil,
              headers: [(String, String)] = []) throws -> JSONValue? {
        let response = try post(request("tools/call", ["name": .string(tool), "arguments": arguments]), key: key,
                                on: gateway, headers: headers + [("MCP-Protocol-Version", "2025-06-18")])
        #expect(response.status == 200, "\(tool): \(response.text)")
        return response.json?["result"]
    }

    func errorText(_ result: JSONValue?) -> String {
        result?["content"]?[0]?["text"]?.stringValue ?? ""
    }

    @Test func initializeNegotiatesTheVersionAndKeepsNoSession() throws {
        let tenant = try tenant()
        let params: JSONValue = ["protocolVersion": "2025-06-18", "capabilities": [:],
                                 "clientInfo": ["name": "test", "version": "1"]]
        let response = try post(request("initialize", params), key: tenant.key, headers: [])
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Mcp-Session-Id") == nil)
        let result = response.json?["result"]
        #expect(response.json?["id"] == 1)
        #expect(result?["protocolVersion"] == "2025-06-18")
        #expect(result?["capabilities"]?["tools"] != nil)
        #expect(result?["serverInfo"]?["name"] == "memory-gateway")

        let older = try post(request("initialize", ["protocolVersion": "2025-03-26"], id: "a"), key: tenant.key, headers: [])
        #expect(older.json?["result"]?["protocolVersion"] == "2025-03-26")
        #expect(older.json?["id"] == "a")
        // A version the server does not speak: it answers with the latest it does.
        let unknown = try post(request("initialize", ["protocolVersion": "2099-01-01"]), key: tenant.key, headers: [])
        #expect(unknown.json?["result"]?["protocolVersion"] == "2025-06-18")
        // The initialized notification is accepted with 202 and no body.
        let initialized = try post(["jsonrpc": "2.0", "method": "notifications/initialized"], key: tenant.key)
        #expect(initialized.status == 202)
        #expect(initialized.body.isEmpty)
    }

    @Test func aMissingOrBadKeyIsHTTP401WithWWWAuthenticate() throws {
        let bad = "mem_live_" + String(repeating: "x", count: 32)
        for key in [nil, bad, "not-a-key"] {
            for body in [request("initialize", ["protocolVersion": "2025-06-18"]),
                         request("tools/call", ["name": "memory_get", "arguments": ["id": "m1"]]),
                         request("tools/list"),
                         ["jsonrpc": "2.0", "method": "notifications/initialized"] as JSONValue] {
                let response = try post(body, key: key)
                #expect(response.status == 401, "\(String(describing: key)) \(body)")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
                #expect(response.errorCode == (key == nil ? "missing_api_key" : "invalid_api_key"))
            }
        }
        // A bad key with arguments the endpoint itself refuses is still 401, not a tool error.
        let refused = try post(request("tools/call", ["name": "memory_get", "arguments": ["nope": 1]]), key: bad)
        #expect(refused.status == 401)
    }

    @Test func toolsListShowsOnlyTheToolsTheKeysScopesAllow() throws {
        let tenant = try tenant()
        let cases: [([String], [String])] = [
            (["read"], ["memory_search", "memory_get", "memory_list"]),
            (["write"], ["memory_store", "memory_update", "memory_extract"]),
            (["delete"], ["memory_delete"]),
            (["admin"], []),
            (["read", "write", "delete"], ["memory_search", "memory_get", "memory_list", "memory_store",
                                           "memory_update", "memory_extract", "memory_delete"]),
        ]
        for (scopes, expected) in cases {
            let key = try first.createKey(admin: tenant.key, scopes: scopes)
            let response = try post(request("tools/list"), key: key.key)
            let tools = response.json?["result"]?["tools"]?.arrayValue ?? []
            #expect(tools.compactMap { $0["name"]?.stringValue } == expected, "\(scopes)")
            for tool in tools {
                #expect(tool["inputSchema"]?["type"] == "object")
                #expect(tool["inputSchema"]?["properties"]?.objectValue != nil)
                #expect(tool["description"]?.stringValue?.isEmpty == false)
            }
        }
        // A listing takes no token and is not counted.
        let usage = try first.client().call("GET", "/v1/usage", key: tenant.key).data
        #expect(usage?["by_endpoint"]?["MCP tools/list"] == nil)
    }

    @Test func everyToolRunsItsRESTTwinAndIsCountedUnderItsName() throws {
        let tenant = try tenant()
        let key = tenant.key
        let stored = try call("memory_store", ["text": "User prefers Python for data work",
                                               "metadata": ["topic": "language"], "space_id": "prefs"], key: key)
        #expect(stored?["isError"] == false)
        let id = try #require(stored?["structuredContent"]?["id"]?.stringValue)
        #expect(stored?["structuredContent"]?["space_id"] == "prefs")
        let storedText = try #require(stored?["content"]?[0]?["text"]?.stringValue)
        #expect(try JSONParser.parse(storedText) == stored?["structuredContent"])

        // memory_get returns exactly what GET /v1/memories/{id} returns as data (on the other instance).
        let got = try call("memory_get", ["id": .string(id)], key: key, on: second)
        let rest = try first.client().call("GET", "/v1/memories/\(id)", key: key)
        #expect(got?["structuredContent"] == rest.data)
        #expect(got?["_meta"]?["request_id"]?.stringValue?.isEmpty == false)

        let listed = try call("memory_list", ["space_id": "prefs"], key: key)
        #expect(listed?["structuredContent"]?["memories"]?.arrayValue?.count == 1)

        let found = try call("memory_search", ["query": "python data", "relevance_threshold": 0.1], key: key)
        #expect(found?["structuredContent"]?["memories"]?[0]?["id"]?.stringValue == id)

        let updated = try call("memory_update", ["id": .string(id), "text": "User prefers Rust now"], key: key)
        #expect(updated?["structuredContent"]?["version"] == 2)

        let extracted = try call("memory_extract", ["content": "User lives in Lisbon. User has a cat."], key: key)
        #expect(extracted?["structuredContent"]?["memories_created"] == 2)

        let deleted = try call("memory_delete", ["id": .string(id)], key: key)
        #expect(deleted?["structuredContent"]?["deleted"] == true)
        #expect(try first.client().call("GET", "/v1/memories/\(id)", key: key).status == 404)

        let names = ["memory_store", "memory_get", "memory_list", "memory_search", "memory_update",
                     "memory_extract", "memory_delete"]
        let counted = try eventually(timeout: .seconds(3)) {
            let usage = try first.client().call("GET", "/v1/usage", key: key).data
            return names.allSatisfy { usage?["by_endpoint"]?["MCP \($0)"]?.intValue == 1 }
        }
        #expect(counted)
    }

    @Test func refusalsAndFailuresAreIsErrorResultsCarryingTheEnvelopesCode() throws {
        let tenant = try tenant()
        let reader = try first.createKey(admin: tenant.key, scopes: ["read"])
        let scope = try call("memory_store", ["text": "sneaky"], key: reader.key)
        #expect(scope?["isError"] == true)
        #expect(errorText(scope).hasPrefix("insufficient_scope:"))
        #expect(errorText(scope).contains("write"))
        #expect(try first.client().call("GET", "/v1/memories/count", key: tenant.key).data?["count"] == 0)

        let missing = try call("memory_get", ["id": "nowhere"], key: tenant.key)
        #expect(missing?["isError"] == true)
        #expect(errorText(missing).hasPrefix("not_found:"))

        let empty = try call("memory_store", ["text": ""], key: tenant.key)
        #expect(errorText(empty).hasPrefix("invalid_request:"))
        #expect(empty?["structuredContent"]?["error"]?["details"]?[0]?["field"] == "text")

        // REST field names are shown as the tool's argument names.
        let search = try call("memory_search", ["query": 42], key: tenant.key)
        #expect(search?["isError"] == true)
        #expect(search?["structuredContent"]?["error"]?["details"]?[0]?["field"] == "query")

        let unknown = try call("memory_store", ["text": "a", "spaceId": "x"], key: tenant.key)
        #expect(unknown?["isError"] == true)
        #expect(errorText(unknown).contains("spaceId"))
        let route = try call("memory_get", ["id": "count"], key: tenant.key)
        #expect(errorText(route).hasPrefix("invalid_request:"))
        let typed = try call("memory_delete", ["id": 7], key: tenant.key)
        #expect(errorText(typed).hasPrefix("invalid_request:"))
    }

    @Test func aRateLimitedCallIsAnIsErrorResultWithItsRetryTime() throws {
        let tenant = try tenant()
        let key = try first.createKey(admin: tenant.key, scopes: ["read", "write"], extra: [("rate_limit_per_minute", 2)])
        #expect(try call("memory_store", ["text": "one"], key: key.key)?["isError"] == false)
        #expect(try call("memory_list", [:], key: key.key, on: second)?["isError"] == false)
        let refused = try call("memory_store", ["text": "three"], key: key.key)
        #expect(refused?["isError"] == true)
        #expect(errorText(refused).hasPrefix("rate_limit_exceeded:"))
        #expect((refused?["structuredContent"]?["error"]?["retry_after"]?.intValue ?? 0) >= 1)
        #expect(try first.client().call("GET", "/v1/memories/count", key: tenant.key).data?["count"] == 1)
        let counted = try eventually(timeout: .seconds(3)) {
            try first.client().call("GET", "/v1/usage", key: tenant.key).data?["rate_limited"]?.intValue == 1
        }
        #expect(counted)
    }

    @Test func anIdempotencyKeyReplaysAToolCallInsteadOfRepeatingIt() throws {
        let tenant = try tenant()
        let headers = [("Idempotency-Key", "store-once-\(UInt32.random(in: 0...UInt32.max))")]
        let firstCall = try call("memory_store", ["text": "only once"], key: tenant.key, headers: headers)
        let again = try call("memory_store", ["text": "only once"], key: tenant.key, on: second, headers: headers)
        #expect(firstCall?["structuredContent"]?["id"] != nil)
        #expect(again?["structuredContent"]?["id"] == firstCall?["structuredContent"]?["id"])
        #expect(again?["_meta"]?["idempotent_replayed"] == true)
        #expect(try first.client().call("GET", "/v1/memories/count", key: tenant.key).data?["count"] == 1)
        let conflict = try call("memory_store", ["text": "another"], key: tenant.key, headers: headers)
        #expect(errorText(conflict).hasPrefix("idempotency_conflict:"))
    }

    @Test func jsonRPCErrorsFollowTheSpecification() throws {
        let tenant = try tenant()
        let client = first.client()
        let auth = [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")]
        let parse = try client.request("POST", "/mcp", headers: auth, body: Array("{\"jsonrpc\":".utf8))
        #expect(parse.status == 400)
        #expect(parse.json?["error"]?["code"] == -32700)
        #expect(parse.json?["id"] == .null)

        let unknownMethod = try post(request("resources/list", id: 9), key: tenant.key)
        #expect(unknownMethod.status == 200)
        #expect(unknownMethod.json?["error"]?["code"] == -32601)
        #expect(unknownMethod.json?["id"] == 9)

        let unknownTool = try post(request("tools/call", ["name": "memory_forget"]), key: tenant.key)
        #expect(unknownTool.json?["error"]?["code"] == -32602)
        let notRPC = try post(["hello": "world"], key: tenant.key)
        #expect(notRPC.status == 400)
        #expect(notRPC.json?["error"]?["code"] == -32600)
        let ping = try post(request("ping", id: "p"), key: tenant.key)
        #expect(ping.json?["result"] == .object(JSONObject()))

        let badVersion = try post(request("tools/list"), key: tenant.key, headers: [("MCP-Protocol-Version", "1999-01-01")])
        #expect(badVersion.status == 400)

        // Batches: part of 2025-03-26 (also when no version header is sent), not of 2025-06-18.
        let batch: JSONValue = [request("ping", id: 1), ["jsonrpc": "2.0", "method": "notifications/initialized"],
                                request("tools/call", ["name": "memory_store", "arguments": ["text": "in a batch"]], id: 2),
                                "junk"]
        let refused = try post(batch, key: tenant.key)
        #expect(refused.status == 400)
        let answered = try post(batch, key: tenant.key, headers: [("MCP-Protocol-Version", "2025-03-26")])
        #expect(answered.status == 200)
        let answers = answered.json?.arrayValue ?? []
        #expect(answers.count == 3)
        #expect(answers.first?["id"] == 1)
        #expect(answers.dropFirst().first?["result"]?["isError"] == false)
        #expect(answers.last?["error"]?["code"] == -32600)
        let unversioned = try post([request("initialize", ["protocolVersion": "2025-03-26"])], key: tenant.key, headers: [])
        #expect(unversioned.json?[0]?["error"]?["code"] == -32600)
        let onlyNotifications = try post([["jsonrpc": "2.0", "method": "notifications/initialized"]], key: tenant.key,
                                         headers: [])
        #expect(onlyNotifications.status == 202)

        let get = try client.request("GET", "/mcp", headers: auth)
        #expect(get.status == 405)
        #expect(get.header("Allow") == "POST")
        let text = try client.request("POST", "/mcp", headers: [("Authorization", "Bearer \(tenant.key)"),
                                                                ("Content-Type", "text/plain")], body: Array("{}".utf8))
        #expect(text.status == 415)
    }
}
