import Foundation
import Auth
import PostgresStore
import Testing
@testable import Gateway

/// Console sessions end to end (docs/API.md "Console"): the cookie, CSRF, expiry, revocation,
/// sign-out everywhere, and a key winning over a cookie. Real gateways, real sockets, real PostgreSQL.
@Suite struct ConsoleSessionTests {
    let gateway = TestGateway.shared

    /// A tenant with a high limit (the plan's per-minute limit is tenant-wide) and its admin key.
    func tenant() throws -> (orgID: String, key: String) {
        let tenant = try gateway.createTenant()
        let patched = try gateway.client().call(
            "PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
            json: ["limits": ["rate_limit_per_minute": 100_000]])
        #expect(patched.status == 200)
        return tenant
    }

    /// Signs in with `credential`; returns the response, the cookie pair (`mg_session=…`) and the CSRF token.
    func signIn(_ credential: String, port: Int? = nil, headers: [(String, String)] = [])
        throws -> (response: TestResponse, cookie: String, csrf: String) {
        let client = TestHTTPClient(port: port ?? gateway.port)
        let response = try client.call("POST", "/console/session", key: credential, headers: headers)
        let setCookie = response.header("Set-Cookie") ?? ""
        let cookie = String(setCookie.split(separator: ";").first ?? "")
        return (response, cookie, response.data?["csrf_token"]?.stringValue ?? "")
    }

    func withCookie(_ cookie: String, csrf: String? = nil) -> [(String, String)] {
        var headers = [("Cookie", "theme=dark; \(cookie)")]
        if let csrf { headers.append(("X-CSRF-Token", csrf)) }
        return headers
    }

    @Test func signingInWithAnAdminKeySetsAnHttpOnlyStrictCookieAndDescribesTheSession() throws {
        let tenant = try tenant()
        let (response, cookie, csrf) = try signIn(tenant.key)
        #expect(response.status == 201)
        #expect(response.header("Location") == "/console/session")
        #expect(response.header("Cache-Control") == "no-store")
        let setCookie = try #require(response.header("Set-Cookie"))
        let attributes = Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(attributes.contains("HttpOnly"))
        #expect(attributes.contains("SameSite=Strict"))
        #expect(attributes.contains("Path=/"))
        #expect(attributes.contains("Max-Age=43200"))
        #expect(!attributes.contains("Secure"), "plain HTTP from an untrusted peer: no Secure flag")
        #expect(cookie.hasPrefix("mg_session=mgs_"))
        #expect(!setCookie.contains(tenant.key))
        let data = try #require(response.data)
        #expect(data["kind"]?.stringValue == "tenant")
        #expect(data["tenant_id"]?.stringValue == tenant.orgID)
        #expect(data["environment"]?.stringValue == "live")
        #expect(csrf.count == 64)
        let expiresAt = try #require(data["expires_at"]?.stringValue.flatMap(UTCDate.parseTimestamp))
        #expect(abs(expiresAt.timeIntervalSinceNow - 12 * 3600) < 120)
        // Only the token's hash is stored.
        let token = String(cookie.dropFirst("mg_session=".count))
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: TestGateway.databaseURL))
        defer { pool.close() }
        let rows = try pool.query(
            """
            SELECT count(*) FROM console_sessions s JOIN api_keys a ON a.key_hash = s.key_hash
             WHERE a.org_id = $1 AND (s.token_hash = $2 OR s.token_hash = sha256($2))
            """, [.text(tenant.orgID), .bytea(Array(token.utf8))])
        #expect(rows.first?.int(0) == 1, "the row is found by the token's SHA-256, never by the token")
        // The session reads back on GET, with the same CSRF token.
        let current = try gateway.client().request("GET", "/console/session", headers: withCookie(cookie))
        #expect(current.status == 200)
        #expect(current.data?["csrf_token"]?.stringValue == csrf)
    }

    @Test func signingInCountsAsOneRequestOfTheKey() throws {
        let tenant = try tenant()
        #expect(try signIn(tenant.key).response.status == 201)
        let counted = try eventually(timeout: .seconds(5)) {
            let usage = try gateway.client().call("GET", "/v1/usage", key: tenant.key)
            return usage.data?["by_endpoint"]?["POST /console/session"] == 1
        }
        #expect(counted, "the sign-in shows in by_endpoint as one request of the key")
    }

    @Test func signInIsSecureOnlyOverHTTPSFromATrustedProxy() throws {
        let proxied = try TestGateway { $0.trustedProxies = [CIDR("127.0.0.1/32")].compactMap { $0 } }
        defer { proxied.stop() }
        let tenant = try tenant()
        let https = try signIn(tenant.key, port: proxied.port, headers: [("X-Forwarded-Proto", "https")])
        #expect(https.response.status == 201)
        #expect(https.response.header("Set-Cookie")?.hasSuffix("; Secure") == true)
        let plain = try signIn(tenant.key, port: proxied.port, headers: [("X-Forwarded-Proto", "http")])
        #expect(plain.response.header("Set-Cookie")?.contains("Secure") == false)
        // An untrusted peer cannot claim HTTPS.
        let untrusted = try signIn(tenant.key, headers: [("X-Forwarded-Proto", "https")])
        #expect(untrusted.response.header("Set-Cookie")?.contains("Secure") == false)
    }

    @Test func signInRefusesKeysWithoutAdminScopeBadKeysAndBodies() throws {
        let tenant = try tenant()
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read", "write"])
        let refused = try signIn(reader.key)
        #expect(refused.response.status == 403)
        #expect(refused.response.errorCode == "insufficient_scope")
        #expect(refused.response.header("Set-Cookie") == nil)
        let bad = try signIn("mem_live_" + String(repeating: "x", count: 40))
        #expect(bad.response.status == 401)
        #expect(bad.response.errorCode == "invalid_api_key")
        let none = try gateway.client().call("POST", "/console/session")
        #expect(none.status == 401)
        #expect(none.errorCode == "missing_api_key")
        let withBody = try gateway.client().call("POST", "/console/session", key: tenant.key, json: ["key": "x"])
        #expect(withBody.status == 400)
        #expect(withBody.errorCode == "invalid_request")
    }

    @Test func theCookieActsAsItsKeyAndWritesNeedTheCSRFToken() throws {
        let tenant = try tenant()
        let (_, cookie, csrf) = try signIn(tenant.key)
        let client = gateway.client()
        let account = try client.request("GET", "/v1/account", headers: withCookie(cookie))
        #expect(account.status == 200)
        #expect(account.data?["id"]?.stringValue == tenant.orgID)
        #expect(account.header("RateLimit-Limit") == "100000")

        let body = JSONValue.object(JSONObject([("text", .string("written through the console"))])).jsonBytes
        let json = [("Content-Type", "application/json")]
        let missing = try client.request("POST", "/v1/memories", headers: withCookie(cookie) + json, body: body)
        #expect(missing.status == 403)
        #expect(missing.errorCode == "invalid_csrf_token")
        let wrong = try client.request("POST", "/v1/memories", headers: withCookie(cookie, csrf: String(repeating: "0", count: 64)) + json, body: body)
        #expect(wrong.status == 403)
        #expect(wrong.errorCode == "invalid_csrf_token")
        // A form post (another origin's page) fails on the token before its body is looked at.
        let form = try client.request("POST", "/v1/account/api-keys",
                                      headers: withCookie(cookie) + [("Content-Type", "application/x-www-form-urlencoded")],
                                      body: Array("name=evil&scopes=admin".utf8))
        #expect(form.status == 403)
        #expect(form.errorCode == "invalid_csrf_token")
        let written = try client.request("POST", "/v1/memories", headers: withCookie(cookie, csrf: csrf) + json, body: body)
        #expect(written.status == 201)
        let id = try #require(written.data?["id"]?.stringValue)
        // Recorded as the key's own request.
        let history = try client.call("GET", "/v1/memories/\(id)/history", key: tenant.key)
        #expect(history.data?["versions"]?[0]?["key_prefix"]?.stringValue == String(tenant.key.prefix(12)))
        // Other tenants' data stays out of reach.
        let other = try self.tenant()
        let foreign = try client.call("POST", "/v1/memories", key: other.key, json: ["text": "other tenant"])
        let foreignID = try #require(foreign.data?["id"]?.stringValue)
        #expect(try client.request("GET", "/v1/memories/\(foreignID)", headers: withCookie(cookie)).status == 404)
    }

    @Test func aRequestCarryingAKeyIsJudgedByTheKeyAlone() throws {
        let tenant = try tenant()
        let (_, cookie, _) = try signIn(tenant.key)
        let client = gateway.client()
        let bad = try client.call("GET", "/v1/account", key: "mem_live_" + String(repeating: "y", count: 40), headers: withCookie(cookie))
        #expect(bad.status == 401)
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        // No CSRF token needed with a key, and the key's scopes decide (not the session's admin key).
        let write = try client.call("POST", "/v1/memories", key: reader.key, json: ["text": "x"], headers: withCookie(cookie))
        #expect(write.status == 403)
        #expect(write.errorCode == "insufficient_scope")
        let writer = try gateway.createKey(admin: tenant.key, scopes: ["write"])
        let written = try client.call("POST", "/v1/memories", key: writer.key, json: ["text": "x"], headers: withCookie(cookie))
        #expect(written.status == 201)
        // The cookie alone keeps working.
        #expect(try client.request("GET", "/v1/account", headers: withCookie(cookie)).status == 200)
    }

    @Test func revokingTheKeyEndsItsSessionsAtOnceOnEveryInstance() throws {
        let tenant = try tenant()
        let second = try gateway.createKey(admin: tenant.key, scopes: ["admin", "read"])
        let (_, cookie, _) = try signIn(second.key)
        let other = try TestGateway()
        defer { other.stop() }
        #expect(try other.client().request("GET", "/v1/account", headers: withCookie(cookie)).status == 200,
                "a session made on one instance works on another")
        let revoked = try gateway.client().call("DELETE", "/v1/account/api-keys/\(second.id)", key: tenant.key)
        #expect(revoked.status == 200)
        let started = ContinuousClock.now
        let ended = try eventually(timeout: .seconds(1)) {
            try other.client().request("GET", "/v1/account", headers: withCookie(cookie)).status == 401
        }
        #expect(ended, "refused within 1 s (took \(ContinuousClock.now - started))")
        #expect(try gateway.client().request("GET", "/console/session", headers: withCookie(cookie)).status == 401)
    }

    @Test func signingOutEndsEverySessionOfTheKeyAndNeedsTheCSRFToken() throws {
        let tenant = try tenant()
        let first = try signIn(tenant.key)
        let second = try signIn(tenant.key)
        let client = gateway.client()
        let noToken = try client.request("DELETE", "/console/session", headers: withCookie(first.cookie))
        #expect(noToken.status == 403)
        #expect(noToken.errorCode == "invalid_csrf_token")
        let out = try client.request("DELETE", "/console/session", headers: withCookie(first.cookie, csrf: first.csrf))
        #expect(out.status == 200)
        #expect(out.data?["sessions_ended"] == 2)
        #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(try client.request("GET", "/v1/account", headers: withCookie(first.cookie)).status == 401)
        #expect(try client.request("GET", "/v1/account", headers: withCookie(second.cookie)).status == 401)
        // The key itself still works, and can end its sessions too.
        let third = try signIn(tenant.key)
        let byKey = try client.call("DELETE", "/console/session", key: tenant.key)
        #expect(byKey.status == 200)
        #expect(byKey.data?["sessions_ended"] == 1)
        #expect(try client.request("GET", "/v1/account", headers: withCookie(third.cookie)).status == 401)
    }

    @Test func anExpiredSessionIsRefused() throws {
        let tenant = try tenant()
        let (_, cookie, _) = try signIn(tenant.key)
        #expect(try gateway.client().request("GET", "/v1/account", headers: withCookie(cookie)).status == 200)
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: TestGateway.databaseURL))
        defer { pool.close() }
        _ = try pool.query(
            """
            UPDATE console_sessions s SET expires_at = clock_timestamp() - interval '1 second'
              FROM api_keys a WHERE a.key_hash = s.key_hash AND a.org_id = $1
            """, [.text(tenant.orgID)])
        let refused = try gateway.client().request("GET", "/v1/account", headers: withCookie(cookie))
        #expect(refused.status == 401)
        #expect(refused.errorCode == "invalid_api_key")
        #expect(try gateway.client().request("GET", "/console/session", headers: withCookie(cookie)).status == 401)
    }

    @Test func malformedOrForgedCookiesAreRefusedWithoutCrash() throws {
        let client = gateway.client()
        for value in ["", "x", "mgs_" + String(repeating: "a", count: 43), "mgs_" + String(repeating: "é", count: 43),
                      String(repeating: "A", count: 4000)] {
            let response = try client.request("GET", "/v1/account", headers: [("Cookie", "mg_session=\(value)")])
            #expect(response.status == 401, "cookie \(value.prefix(20))")
        }
        #expect(try client.request("GET", "/healthz").status == 200)
    }

    @Test func anOperatorSessionOpensOperatorRoutesOnlyAndWritesNeedTheCSRFToken() throws {
        let (response, cookie, csrf) = try signIn(TestGateway.operatorToken)
        #expect(response.status == 201)
        #expect(response.data?["kind"]?.stringValue == "operator")
        #expect(response.data?["tenant_id"] == .null)
        let client = gateway.client()
        #expect(try client.request("GET", "/v1/admin/tenants", headers: withCookie(cookie)).status == 200)
        #expect(try client.request("GET", "/v1/account", headers: withCookie(cookie)).status == 401)
        let tenant = try tenant()
        let patchBody = JSONValue.object(JSONObject([("plan", .string("starter"))])).jsonBytes
        let json = [("Content-Type", "application/json")]
        let refused = try client.request("PATCH", "/v1/admin/tenants/\(tenant.orgID)", headers: withCookie(cookie) + json, body: patchBody)
        #expect(refused.status == 403)
        #expect(refused.errorCode == "invalid_csrf_token")
        let patched = try client.request("PATCH", "/v1/admin/tenants/\(tenant.orgID)", headers: withCookie(cookie, csrf: csrf) + json, body: patchBody)
        #expect(patched.status == 200)
        #expect(patched.data?["plan"]?.stringValue == "starter")
        // A tenant session never opens operator routes.
        let tenantSession = try signIn(tenant.key)
        #expect(try client.request("GET", "/v1/admin/tenants", headers: withCookie(tenantSession.cookie)).status == 401)
    }

    @Test func anOperatorSessionEndsWhenTheOperatorTokenChanges() throws {
        let (_, cookie, _) = try signIn(TestGateway.operatorToken)
        let rotated = try TestGateway { $0.operatorToken = TestGateway.operatorToken + "-rotated" }
        defer { rotated.stop() }
        #expect(try rotated.client().request("GET", "/v1/admin/tenants", headers: withCookie(cookie)).status == 401)
        #expect(try gateway.client().request("GET", "/v1/admin/tenants", headers: withCookie(cookie)).status == 200)
    }

    @Test func theConsoleIsServedWithItsSecurityHeadersAndNoInlineCode() throws {
        let client = gateway.client()
        let page = try client.request("GET", "/console")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.header("Content-Security-Policy") == "default-src 'self'; frame-ancestors 'none'")
        #expect(page.header("X-Content-Type-Options") == "nosniff")
        let html = page.text
        #expect(html.contains("<script src=\"/console/console.js\" defer></script>"))
        #expect(html.range(of: "<script>", options: .caseInsensitive) == nil, "no inline script")
        #expect(html.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]) == nil, "no inline handler")
        #expect(html.range(of: #"\sstyle\s*="#, options: [.regularExpression, .caseInsensitive]) == nil, "no inline style")
        #expect(!html.contains("http://") && !html.contains("https://"), "no external asset")
        let script = try client.request("GET", "/console/console.js")
        #expect(script.status == 200)
        #expect(script.header("Content-Type") == "text/javascript; charset=utf-8")
        #expect(script.header("Content-Security-Policy") == "default-src 'self'; frame-ancestors 'none'")
        #expect(!script.text.contains("innerHTML") && !script.text.contains("localStorage") && !script.text.contains("document.cookie"))
        let style = try client.request("GET", "/console/console.css")
        #expect(style.header("Content-Type") == "text/css; charset=utf-8")
        #expect(try client.request("GET", "/console/../Package.swift").status == 404)
        #expect(try client.request("GET", "/console/nothing.js").status == 404)
    }
}
