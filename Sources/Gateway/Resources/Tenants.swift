import Auth
import Foundation
import PostgresStore

/// `/v1/admin/tenants` (operator) and `memory-gateway tenant create`.
enum Tenants {
    static let plans = ["free", "starter", "professional"]

    /// The created tenant and first key: `full` shows the key, `replay` has it null.
    struct Created {
        var tenantID: String
        var full: JSONValue
        var replay: JSONValue
    }

    static func createTenant(pool: Database, body object: JSONObject, requestID: String) throws -> Created {
        var body = BodyReader(object)
        let name = body.string("name", required: true, length: 1...200)
        let plan = body.string("plan", length: 1...50) ?? "free"
        if !plans.contains(plan) { body.issues.add("plan", "must be one of free, starter, professional") }
        try body.issues.check()
        let orgID = Identifier.make(prefix: "org")
        return try pool.transaction { connection in
            _ = try connection.query("INSERT INTO tenants (org_id, name, plan) VALUES ($1, $2, $3)",
                                     [.text(orgID), .text(name ?? ""), .text(plan)])
            let created = try APIKeys.insert(connection, orgID: orgID, APIKeys.NewKey(
                name: "default admin key", scopes: ["read", "write", "delete", "admin"], environment: .live))
            let rows = try connection.query(
                "SELECT \(TenantRow.selectList) FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1", [.text(orgID)])
            guard let row = rows.first else { throw APIError.internalError }
            let tenant = TenantRow(row).json
            var replayKey = created.object
            replayKey["key"] = .null
            return Created(
                tenantID: orgID,
                full: .object(JSONObject([("tenant", .object(tenant)), ("api_key", .object(created.object))])),
                replay: .object(JSONObject([("tenant", .object(tenant)), ("api_key", .object(replayKey))])))
        }
    }

    static func create(_ context: RequestContext) throws -> APIResponse {
        let created = try createTenant(pool: context.pool, body: try context.jsonBody(), requestID: context.request.requestID)
        var response = APIResponse(status: 201, json: created.full, headers: [("Location", "/v1/admin/tenants/\(created.tenantID)")])
        response.replayData = created.replay.jsonBytes
        return response
    }

    static func list(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            "SELECT \(TenantRow.selectList) FROM tenants t JOIN plans p ON p.name = t.plan ORDER BY t.created_at, t.org_id")
        return APIResponse(json: .object(JSONObject([("tenants", .array(rows.map { .object(TenantRow($0).json) }))])))
    }

    static func get(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            "SELECT \(TenantRow.selectList) FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1",
            [.text(context.parameter("id"))])
        guard let row = rows.first else { throw APIError.notFound("tenant") }
        return APIResponse(json: .object(TenantRow(row).json))
    }

    /// PATCH `{plan?, suspended?, limits?}`; `null` in limits returns to the plan's value.
    static func update(_ context: RequestContext) throws -> APIResponse {
        let orgID = context.parameter("id")
        let object = try context.jsonBody()
        var body = BodyReader(object)
        let plan = body.string("plan", length: 1...50)
        if let plan, !plans.contains(plan) { body.issues.add("plan", "must be one of free, starter, professional") }
        let suspended = body.bool("suspended")
        // Each limit: absent = unchanged, null = back to the plan's, number = override.
        var limitChanges: [(column: String, value: Int?)] = []
        if let limitsValue = object["limits"], limitsValue != .null {
            if case .object(let limits) = limitsValue {
                for (field, column, range) in [
                    ("rate_limit_per_minute", "rate_limit_override", 1...1_000_000),
                    ("monthly_request_quota", "monthly_quota_override", 0...1_000_000_000_000),
                    ("max_memories", "max_memories_override", 0...1_000_000_000_000),
                    ("max_storage_mb", "max_storage_override", 0...1_000_000_000),
                ] {
                    guard let value = limits[field] else { continue }
                    if value == .null {
                        limitChanges.append((column, nil))
                    } else if let number = value.intValue, range.contains(number) {
                        limitChanges.append((column, number))
                    } else {
                        body.issues.add("limits.\(field)", "must be null or an integer in \(range.lowerBound)...\(range.upperBound)")
                    }
                }
            } else {
                body.issues.add("limits", "must be an object")
            }
        }
        try body.issues.check()
        let tenant: TenantRow = try context.pool.transaction { connection in
            let current = try connection.query("SELECT plan, suspended FROM tenants WHERE org_id = $1 FOR UPDATE", [.text(orgID)])
            guard let before = current.first else { throw APIError.notFound("tenant") }
            let requestID = context.request.requestID
            if let plan, plan != before.string("plan") {
                _ = try connection.query("UPDATE tenants SET plan = $2 WHERE org_id = $1", [.text(orgID), .text(plan)])
                try AuditLog.record(connection, orgID: orgID, action: "tenant.plan_changed", actorKeyPrefix: nil,
                                    targetType: "tenant", targetID: orgID,
                                    details: .object(JSONObject([("from", .string(before.string("plan") ?? "")), ("to", .string(plan))])),
                                    requestID: requestID)
            }
            if let suspended, suspended != before.bool("suspended") {
                _ = try connection.query("UPDATE tenants SET suspended = $2 WHERE org_id = $1", [.text(orgID), .bool(suspended)])
                try AuditLog.record(connection, orgID: orgID, action: suspended ? "tenant.suspended" : "tenant.unsuspended",
                                    actorKeyPrefix: nil, targetType: "tenant", targetID: orgID, requestID: requestID)
            }
            for change in limitChanges {
                // The column name comes from the fixed table above, never from the request.
                _ = try connection.query("UPDATE tenants SET \(change.column) = $2 WHERE org_id = $1",
                                         [.text(orgID), change.value.map { .int(Int64($0)) } ?? .null])
            }
            _ = try connection.query("SELECT pg_notify($1, $2)", [.text(GatewayApp.eventsChannel), .text("tenant:" + orgID)])
            let rows = try connection.query(
                "SELECT \(TenantRow.selectList) FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1", [.text(orgID)])
            guard let row = rows.first else { throw APIError.notFound("tenant") }
            return TenantRow(row)
        }
        // This instance at once (its next request must see the change); others on the NOTIFY.
        context.services.admission.changed(orgID: orgID)
        return APIResponse(json: .object(tenant.json))
    }
}
