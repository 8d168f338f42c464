import Foundation
import Testing
@testable import Gateway

/// Keys, the envelope and the headers every response carries.
@Suite struct AuthenticationTests {
    let gateway = TestGateway.shared

    @Test func missingKeyIs401WithChallenge() throws {
        let response = try gateway.client().call("GET", "/v1/memories")
        #expect(response.status == 401)
        #expect(response.errorCode == "missing_api_key")
        #expect(response.header("WWW-Authenticate") == "Bearer realm=\"memory-gateway\"")
        #expect(response.json?["success"] == .bool(false))
        #expect(response.json?["meta"]?["request_id"]?.stringValue == response.header("X-Request-ID"))
        #expect(response.header("Cache-Control") == "no-store")
    }

    @Test(arguments: ["mem_live_short", "sk_live_0123456789012345678901234567890123", "mem_live_" + String(repeating: "a", count: 40),
                      "mem_prod_" + String(repeating: "a", count: 40), "mem_live_" + String(repeating: "!", count: 40)])
    func unknownOrMalformedKeysAreOneCode(key: String) throws {
        let response = try gateway.client().call("GET", "/v1/account", key: key)
        #expect(response.status == 401)
        #expect(response.errorCode == "invalid_api_key")
        #expect(!response.text.contains(key))
    }

    @Test func xAPIKeyAliasWorksAndConflictsAre400() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/account", headers: [("X-API-Key", tenant.key)]).status == 200)
        #expect(try client.call("GET", "/v1/account", key: tenant.key, headers: [("X-API-Key", tenant.key)]).status == 200)
        let other = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let both = try client.call("GET", "/v1/account", key: tenant.key, headers: [("X-API-Key", other.key)])
        #expect(both.status == 400)
        #expect(both.errorCode == "invalid_request")
    }

    @Test func requestIDIsKeptWhenValidAndMadeOtherwise() throws {
        let client = gateway.client()
        let kept = try client.request("GET", "/healthz", headers: [("X-Request-ID", "lb-123.abc_DEF")])
        #expect(kept.header("X-Request-ID") == "lb-123.abc_DEF")
        #expect(kept.json?["meta"]?["request_id"]?.stringValue == "lb-123.abc_DEF")
        for bad in ["has space", String(repeating: "a", count: 129), "semi;colon"] {
            let made = try client.request("GET", "/healthz", headers: [("X-Request-ID", bad)])
            let id = try #require(made.header("X-Request-ID"))
            #expect(id.hasPrefix("req_"))
            #expect(id.count >= 24)
        }
        let a = try client.request("GET", "/nope").header("X-Request-ID")
        let b = try client.request("GET", "/nope").header("X-Request-ID")
        #expect(a != b)
    }

    @Test func unknownRouteIs404WithoutKeyAndWrongMethodIs405() throws {
        let client = gateway.client()
        let missing = try client.request("GET", "/v1/nothing-here")
        #expect(missing.status == 404)
        #expect(missing.errorCode == "not_found")
        let wrong = try client.request("PATCH", "/v1/memories")
        #expect(wrong.status == 405)
        #expect(wrong.errorCode == "method_not_allowed")
        let allow = try #require(wrong.header("Allow"))
        #expect(allow.contains("GET") && allow.contains("POST") && allow.contains("HEAD"))
        let options = try client.request("OPTIONS", "/v1/memories")
        #expect(options.status == 405)
    }

    @Test func headMirrorsGet() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let get = try client.call("GET", "/v1/account", key: tenant.key)
        let head = try client.call("HEAD", "/v1/account", key: tenant.key)
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(head.header("RateLimit-Limit") == get.header("RateLimit-Limit"))
        #expect(try client.request("HEAD", "/healthz").status == 200)
    }

    @Test func suspendedTenantIs403() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let patch = try client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                    json: ["suspended": true])
        #expect(patch.status == 200)
        #expect(patch.data?["suspended"] == .bool(true))
        let refused = try client.call("GET", "/v1/account", key: tenant.key)
        #expect(refused.status == 403)
        #expect(refused.errorCode == "tenant_suspended")
        _ = try client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken, json: ["suspended": false])
        #expect(try client.call("GET", "/v1/account", key: tenant.key).status == 200)
    }

    @Test func nonJSONBodyIs415AndMalformedJSONIs400() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let form = try client.request("POST", "/v1/account/api-keys",
                                      headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "text/plain")],
                                      body: Array("name=x".utf8))
        #expect(form.status == 415)
        #expect(form.errorCode == "unsupported_media_type")
        let broken = try client.request("POST", "/v1/account/api-keys",
                                        headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                                        body: Array("{\"name\": ".utf8))
        #expect(broken.status == 400)
        #expect(broken.json?["error"]?["details"]?[0]?["field"]?.stringValue == "body")
    }
}
