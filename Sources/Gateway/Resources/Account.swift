import Foundation
import PostgresStore

/// `GET /v1/account`.
enum Account {
    static func get(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            """
            SELECT t.org_id, t.name, t.plan, coalesce(t.rate_limit_override, p.rate_limit_per_minute),
                   coalesce(t.monthly_quota_override, p.monthly_request_quota),
                   coalesce(t.max_memories_override, p.max_memories), gw_time(t.created_at),
                   coalesce(t.max_storage_override, p.max_storage_mb)
              FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1
            """,
            [.text(context.tenant.orgID)])
        guard let row = rows.first else { throw APIError.notFound("account") }
        let bounds = UTCDate.monthBounds(Date())
        var plan = JSONObject()
        plan["name"] = .string(row.string(2) ?? "")
        plan["rate_limit_per_minute"] = .number(JSONNumber(Int(row.int(3) ?? 0)))
        plan["monthly_request_quota"] = .number(JSONNumber(Int(row.int(4) ?? 0)))
        plan["max_memories"] = .number(JSONNumber(Int(row.int(5) ?? 0)))
        plan["max_storage_mb"] = .number(JSONNumber(Int(row.int(7) ?? 0)))
        var data = JSONObject()
        data["id"] = .string(row.string(0) ?? "")
        data["name"] = .string(row.string(1) ?? "")
        data["plan"] = .object(plan)
        data["billing_period"] = .object(JSONObject([("start", .string(UTCDate.format(bounds.start))),
                                                     ("end", .string(UTCDate.format(bounds.end)))]))
        data["environment"] = .string(context.tenant.env)
        data["created_at"] = .string(row.string(6) ?? "")
        return APIResponse(json: .object(data))
    }
}
