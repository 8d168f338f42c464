import Foundation
import Testing
import HTTPServer
@testable import Gateway

/// Every tenant route × every scope: a key with only the route's scope passes the scope check, a
/// key with any other single scope gets 403 `insufficient_scope` naming the one needed.
@Suite struct ScopeMatrixTests {
    let gateway = TestGateway.shared

    /// The tenant routes with their scope names, and a concrete path for each.
    static func tenantRoutes() -> [(method: String, path: String, scope: String)] {
        let router = Routes.make()
        return router.routes.compactMap { route in
            let path = route.template.replacingOccurrences(of: "{id}", with: "x")
            guard case .found(let value, _, _) = router.match(method: route.method, path: path),
                  case .tenant(let scope) = value.access
            else { return nil }
            return (route.method, path, scope.names.first ?? "")
        }
    }

    @Test func everyRouteNeedsExactlyItsScope() throws {
        let routes = Self.tenantRoutes()
        #expect(routes.count >= 25)
        let tenant = try gateway.createTenant()
        var keys: [String: String] = [:]
        for scope in ["read", "write", "delete", "admin"] {
            keys[scope] = try gateway.createKey(admin: tenant.key, scopes: [scope]).key
        }
        let client = gateway.client()
        for route in routes {
            for (scope, key) in keys {
                let body: JSONValue? = route.method == "POST" || route.method == "PUT" ? [:] : nil
                let response = try client.call(route.method, route.path, key: key, json: body)
                if scope == route.scope {
                    #expect(response.errorCode != "insufficient_scope", "\(route.method) \(route.path) with \(scope)")
                    #expect(response.status != 401 && response.status != 500, "\(route.method) \(route.path): \(response.status)")
                } else {
                    #expect(response.status == 403, "\(route.method) \(route.path) with \(scope): \(response.status)")
                    #expect(response.errorCode == "insufficient_scope")
                    #expect(response.json?["error"]?["message"]?.stringValue?.contains(route.scope) == true)
                }
            }
        }
    }
}

/// Keys across two instances, and where a raw key may never appear.
@Suite struct KeyPropagationTests {
    @Test func revocationReachesAWarmSecondInstanceWithinOneSecond() throws {
        let first = TestGateway.shared
        let second = try TestGateway()
        defer { second.stop() }
        let tenant = try first.createTenant()
        let reader = try first.createKey(admin: tenant.key, scopes: ["read"])
        let other = second.client()
        for _ in 0..<5 { #expect(try other.call("GET", "/v1/account", key: reader.key).status == 200) }
        #expect(try first.client().call("DELETE", "/v1/account/api-keys/\(reader.id)", key: tenant.key).status == 200)
        let revokedAt = ContinuousClock.now
        #expect(try eventually(timeout: .seconds(1)) { try other.call("GET", "/v1/account", key: reader.key).status == 401 })
        #expect(ContinuousClock.now - revokedAt < .seconds(1))
    }

    @Test func rotationWithAFewSecondsOfGraceEndsOnBothInstances() throws {
        let first = TestGateway.shared
        let second = try TestGateway()
        defer { second.stop() }
        let tenant = try first.createTenant()
        let old = try first.createKey(admin: tenant.key, scopes: ["read"])
        let rotated = try first.client().call("POST", "/v1/account/api-keys/\(old.id)/rotate", key: tenant.key,
                                              json: ["grace_seconds": 2])
        #expect(rotated.status == 201)
        #expect(try second.client().call("GET", "/v1/account", key: old.key).status == 200)
        #expect(try eventually(timeout: .seconds(4)) {
            try second.client().call("GET", "/v1/account", key: old.key).status == 401
                && first.client().call("GET", "/v1/account", key: old.key).status == 401
        })
    }

    @Test func theRawKeyIsStoredNowhere() throws {
        let gateway = TestGateway.shared
        let tenant = try gateway.createTenant()
        let created = try gateway.client().call("POST", "/v1/account/api-keys", key: tenant.key,
                                                json: ["name": "secret", "scopes": ["read"]], headers: [("Idempotency-Key", "k1")])
        let key = try #require(created.data?["key"]?.stringValue)
        #expect(try gateway.client().call("GET", "/v1/account", key: key).status == 200)
        gateway.running.services.usage.flush()
        // Every text-like column of every table of the schema, searched for the key.
        let pool = gateway.running.services.pool
        let columns = try pool.query(
            """
            SELECT table_name, column_name, data_type FROM information_schema.columns
             WHERE table_schema = current_schema() AND data_type IN ('text', 'bytea', 'jsonb', 'ARRAY', 'character varying')
            """)
        #expect(columns.count > 20)
        for column in columns {
            let table = column.string(0) ?? "", name = column.string(1) ?? ""
            // Names come from the catalog, not from input. bytea is searched as bytes (a stored
            // response body), everything else as text.
            let condition = column.string(2) == "bytea"
                ? "position(convert_to($1, 'UTF8') in \"\(name)\") > 0"
                : "position($1 in \"\(name)\"::text) > 0"
            let rows = try pool.query("SELECT count(*) FROM \"\(table)\" WHERE \(condition)", [.text(key)])
            #expect(rows.first?.int(0) == 0, "the key appears in \(table).\(name)")
        }
        // The search itself works: the key's prefix is stored, in clear, where it belongs.
        let prefix = try pool.query("SELECT count(*) FROM api_keys WHERE position($1 in key_prefix) > 0",
                                    [.text(String(key.prefix(12)))])
        #expect(prefix.first?.int(0) == 1)
    }
}
