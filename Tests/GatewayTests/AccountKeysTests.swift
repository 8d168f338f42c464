import Foundation
import Testing
@testable import Gateway

/// `/v1/account` and `/v1/account/api-keys`, end to end.
@Suite struct AccountKeysTests {
    let gateway = TestGateway.shared

    @Test func accountShowsPlanAndBillingPeriod() throws {
        let tenant = try gateway.createTenant(plan: "starter")
        let response = try gateway.client().call("GET", "/v1/account", key: tenant.key)
        #expect(response.status == 200)
        let data = try #require(response.data)
        #expect(data["id"]?.stringValue == tenant.orgID)
        #expect(data["plan"]?["name"]?.stringValue == "starter")
        #expect(data["plan"]?["rate_limit_per_minute"]?.intValue == 60)
        #expect(data["plan"]?["monthly_request_quota"]?.intValue == 100_000)
        #expect(data["plan"]?["max_memories"]?.intValue == 50_000)
        #expect(data["billing_period"]?["start"]?.stringValue?.hasSuffix("-01") == true)
        #expect(response.header("Cache-Control") == "no-store")
        #expect(response.header("RateLimit-Limit") == "60")
    }

    @Test func createdKeyIsShownOnceAndWorks() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let created = try client.call("POST", "/v1/account/api-keys", key: tenant.key,
                                      json: ["name": "reader", "scopes": ["read"], "environment": "live"])
        #expect(created.status == 201)
        let data = try #require(created.data)
        let key = try #require(data["key"]?.stringValue)
        let id = try #require(data["id"]?.stringValue)
        #expect(key.hasPrefix("mem_live_"))
        #expect(key.count >= 41)
        #expect(data["key_prefix"]?.stringValue == String(key.prefix(12)))
        #expect(created.header("Location") == "/v1/account/api-keys/\(id)")
        #expect(data["rate_limit_per_minute"] == .null)
        #expect(data["allowed_ips"] == .null)

        let listed = try client.call("GET", "/v1/account/api-keys", key: tenant.key)
        #expect(listed.status == 200)
        #expect(!listed.text.contains(key))
        #expect(listed.data?["api_keys"]?.arrayValue?.count == 2)
        let one = try client.call("GET", "/v1/account/api-keys/\(id)", key: tenant.key)
        #expect(one.data?["key"] == nil)
        #expect(one.data?["name"]?.stringValue == "reader")

        #expect(try client.call("GET", "/v1/account", key: key).status == 200)
        // read only: writing is 403 naming the scope
        let denied = try client.call("POST", "/v1/account/api-keys", key: key, json: ["name": "x", "scopes": ["read"]])
        #expect(denied.status == 403)
        #expect(denied.errorCode == "insufficient_scope")
        #expect(denied.json?["error"]?["message"]?.stringValue?.contains("admin") == true)
    }

    @Test(arguments: [
        (#"{"scopes":["read"]}"#, "name"),
        (#"{"name":"","scopes":["read"]}"#, "name"),
        (#"{"name":"x","scopes":[]}"#, "scopes"),
        (#"{"name":"x","scopes":["read","root"]}"#, "scopes"),
        (#"{"name":"x","scopes":["read"],"environment":"prod"}"#, "environment"),
        (#"{"name":"x","scopes":["read"],"expires_at":"2001-01-01T00:00:00Z"}"#, "expires_at"),
        (#"{"name":"x","scopes":["read"],"expires_at":"tomorrow"}"#, "expires_at"),
        (#"{"name":"x","scopes":["read"],"rate_limit_per_minute":0}"#, "rate_limit_per_minute"),
        (#"{"name":"x","scopes":["read"],"rate_limit_per_minute":301}"#, "rate_limit_per_minute"),
        (#"{"name":"x","scopes":["read"],"allowed_ips":["300.1.1.1"]}"#, "allowed_ips"),
    ])
    func keyCreationValidates(body: String, field: String) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().request(
            "POST", "/v1/account/api-keys",
            headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array(body.utf8))
        #expect(response.status == 400)
        #expect(response.errorCode == "invalid_request")
        let fields = response.json?["error"]?["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
        #expect(fields.contains(field))
    }

    @Test func revokedKeyStopsWorkingAndLastAdminKeyIsKept() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let keys = try client.call("GET", "/v1/account/api-keys", key: tenant.key)
        let adminID = try #require(keys.data?["api_keys"]?[0]?["id"]?.stringValue)
        let last = try client.call("DELETE", "/v1/account/api-keys/\(adminID)", key: tenant.key)
        #expect(last.status == 409)

        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        #expect(try client.call("GET", "/v1/account", key: reader.key).status == 200)
        let revoked = try client.call("DELETE", "/v1/account/api-keys/\(reader.id)", key: tenant.key)
        #expect(revoked.status == 200)
        let revokedAt = try #require(revoked.data?["revoked_at"]?.stringValue)
        #expect(revoked.data?["id"]?.stringValue == reader.id)
        let refused = try client.call("GET", "/v1/account", key: reader.key)
        #expect(refused.status == 401)
        #expect(refused.errorCode == "invalid_api_key")
        #expect(refused.header("WWW-Authenticate") == "Bearer realm=\"memory-gateway\"")
        let again = try client.call("DELETE", "/v1/account/api-keys/\(reader.id)", key: tenant.key)
        #expect(again.status == 200)
        #expect(again.data?["revoked_at"]?.stringValue == revokedAt)
        #expect(try client.call("POST", "/v1/account/api-keys/\(reader.id)/rotate", key: tenant.key, json: [:]).status == 409)

        // With a second admin key the first can go.
        let second = try gateway.createKey(admin: tenant.key, scopes: ["admin"])
        #expect(try client.call("DELETE", "/v1/account/api-keys/\(adminID)", key: second.key).status == 200)
        #expect(try client.call("GET", "/v1/account/api-keys", key: tenant.key).status == 401)
    }

    @Test func rotationCopiesSettingsAndEndsTheOldKey() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let old = try gateway.createKey(admin: tenant.key, scopes: ["read", "write"],
                                        extra: [("rate_limit_per_minute", 100), ("allowed_ips", ["127.0.0.1", "::1"])])
        let rotated = try client.call("POST", "/v1/account/api-keys/\(old.id)/rotate", key: tenant.key,
                                      json: ["grace_seconds": 0])
        #expect(rotated.status == 201)
        let data = try #require(rotated.data)
        let newKey = try #require(data["key"]?.stringValue)
        #expect(data["rotated_from"]?["id"]?.stringValue == old.id)
        #expect(data["scopes"]?.arrayValue == ["read", "write"])
        #expect(data["rate_limit_per_minute"]?.intValue == 100)
        #expect(data["allowed_ips"]?.arrayValue?.count == 2)
        #expect(rotated.header("Location") == "/v1/account/api-keys/\(data["id"]?.stringValue ?? "")")
        #expect(try client.call("GET", "/v1/account", key: old.key).status == 401)
        #expect(try client.call("GET", "/v1/account", key: newKey).status == 200)

        let audit = try client.call("GET", "/v1/account/audit-log", key: tenant.key)
        let actions = audit.data?["events"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []
        #expect(actions.prefix(2) == ["api_key.rotated", "api_key.created"])
        let rotatedEvent = try #require(audit.data?["events"]?[0])
        #expect(rotatedEvent["target"]?["id"]?.stringValue == old.id)
        #expect(rotatedEvent["target"]?["type"]?.stringValue == "api_key")
        #expect(rotatedEvent["details"]?["new_key_id"]?.stringValue == data["id"]?.stringValue)
        #expect(rotatedEvent["actor_key_prefix"]?.stringValue == String(tenant.key.prefix(12)))
    }

    @Test func rotationWithGraceKeepsTheOldKeyForAWhile() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let old = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let rotated = try client.call("POST", "/v1/account/api-keys/\(old.id)/rotate", key: tenant.key, json: [:])
        #expect(rotated.status == 201)
        let expires = try #require(rotated.data?["rotated_from"]?["expires_at"]?.stringValue)
        let date = try #require(UTCDate.parseTimestamp(expires))
        #expect(abs(date.timeIntervalSinceNow - 86_400) < 60)
        #expect(try client.call("GET", "/v1/account", key: old.key).status == 200)
        let bad = try client.call("POST", "/v1/account/api-keys/\(old.id)/rotate", key: tenant.key, json: ["grace_seconds": 604_801])
        #expect(bad.status == 400)
    }

    @Test func expiredKeyIsInvalid() throws {
        let tenant = try gateway.createTenant()
        let soon = UTCDate.timestamp(Date().addingTimeInterval(1.5))
        let key = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("expires_at", .string(soon))])
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/account", key: key.key).status == 200)
        #expect(try eventually(timeout: .seconds(4)) { try client.call("GET", "/v1/account", key: key.key).status == 401 })
    }

    @Test func allowedIPsRefuseOtherAddresses() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let elsewhere = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("allowed_ips", ["10.0.0.0/8", "2001:db8::/32"])])
        let refused = try client.call("GET", "/v1/account", key: elsewhere.key)
        #expect(refused.status == 403)
        #expect(refused.errorCode == "ip_not_allowed")
        // An attacker's X-Forwarded-For from an untrusted peer changes nothing.
        let spoofed = try client.call("GET", "/v1/account", key: elsewhere.key, headers: [("X-Forwarded-For", "10.1.2.3")])
        #expect(spoofed.status == 403)
        let local = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("allowed_ips", ["127.0.0.0/8"])])
        #expect(try client.call("GET", "/v1/account", key: local.key).status == 200)
    }

    @Test func testKeysSeeTheirOwnEnvironment() throws {
        let tenant = try gateway.createTenant()
        let test = try gateway.createKey(admin: tenant.key, scopes: ["read"], environment: "test")
        #expect(test.key.hasPrefix("mem_test_"))
        let account = try gateway.client().call("GET", "/v1/account", key: test.key)
        #expect(account.data?["environment"]?.stringValue == "test")
    }

    @Test func otherTenantsKeysAreNotFound() throws {
        let a = try gateway.createTenant()
        let b = try gateway.createTenant()
        let keyOfA = try gateway.createKey(admin: a.key, scopes: ["read"])
        let client = gateway.client()
        #expect(try client.call("GET", "/v1/account/api-keys/\(keyOfA.id)", key: b.key).status == 404)
        #expect(try client.call("DELETE", "/v1/account/api-keys/\(keyOfA.id)", key: b.key).status == 404)
        #expect(try client.call("POST", "/v1/account/api-keys/\(keyOfA.id)/rotate", key: b.key, json: [:]).status == 404)
        #expect(try client.call("GET", "/v1/account", key: keyOfA.key).status == 200)
    }
}
