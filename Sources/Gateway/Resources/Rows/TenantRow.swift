import PostgresStore

/// A tenant with its effective limits (plan values, overrides applied), as read by ``selectList``:
/// the operator API's tenant object (``json``) and what `GET /v1/account` shows.
struct TenantRow: Sendable, Equatable {
    /// The select list over `tenants t JOIN plans p ON p.name = t.plan`.
    static let selectList = """
        t.org_id AS org_id, t.name AS name, t.plan AS plan, t.suspended AS suspended,
        gw_time(t.created_at) AS created_at,
        coalesce(t.rate_limit_override, p.rate_limit_per_minute) AS rate_limit_per_minute,
        coalesce(t.monthly_quota_override, p.monthly_request_quota) AS monthly_request_quota,
        coalesce(t.max_memories_override, p.max_memories) AS max_memories,
        coalesce(t.max_storage_override, p.max_storage_mb) AS max_storage_mb
        """

    /// The tenant's id, name and plan name.
    var orgID: String, name: String, plan: String
    /// Whether the operator suspended it.
    var isSuspended: Bool
    /// `gw_time` text of its creation.
    var createdAt: String
    /// The effective limits (overrides applied).
    var rateLimitPerMinute: Int64, monthlyRequestQuota: Int64, maxMemories: Int64, maxStorageMB: Int64

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        orgID = row.string("org_id") ?? ""
        name = row.string("name") ?? ""
        plan = row.string("plan") ?? ""
        isSuspended = row.bool("suspended") ?? false
        createdAt = row.string("created_at") ?? ""
        rateLimitPerMinute = row.int("rate_limit_per_minute") ?? 0
        monthlyRequestQuota = row.int("monthly_request_quota") ?? 0
        maxMemories = row.int("max_memories") ?? 0
        maxStorageMB = row.int("max_storage_mb") ?? 0
    }

    /// The tenant object of the operator API.
    var json: JSONObject {
        var limits = JSONObject()
        limits["rate_limit_per_minute"] = .int(rateLimitPerMinute)
        limits["monthly_request_quota"] = .int(monthlyRequestQuota)
        limits["max_memories"] = .int(maxMemories)
        limits["max_storage_mb"] = .int(maxStorageMB)
        var object = JSONObject()
        object["id"] = .string(orgID)
        object["name"] = .string(name)
        object["plan"] = .string(plan)
        object["suspended"] = .bool(isSuspended)
        object["created_at"] = .string(createdAt)
        object["limits"] = .object(limits)
        return object
    }
}
