import Foundation
import PostgresStore

/// `GET /v1/account`.
enum Account {
    static func get(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            """
            SELECT \(TenantRow.selectList)
              FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1
            """,
            [.text(context.tenant.orgID)])
        guard let account = rows.first.map(TenantRow.init) else { throw APIError.notFound("account") }
        let bounds = UTCDate.monthBounds(Date())
        var plan = JSONObject()
        plan["name"] = .string(account.plan)
        plan["rate_limit_per_minute"] = .int(account.rateLimitPerMinute)
        plan["monthly_request_quota"] = .int(account.monthlyRequestQuota)
        plan["max_memories"] = .int(account.maxMemories)
        plan["max_storage_mb"] = .int(account.maxStorageMB)
        var data = JSONObject()
        data["id"] = .string(account.orgID)
        data["name"] = .string(account.name)
        data["plan"] = .object(plan)
        data["billing_period"] = .object(JSONObject([("start", .string(UTCDate.format(bounds.start))),
                                                     ("end", .string(UTCDate.format(bounds.end)))]))
        data["environment"] = .string(context.tenant.env)
        data["created_at"] = .string(account.createdAt)
        return APIResponse(json: .object(data))
    }
}
