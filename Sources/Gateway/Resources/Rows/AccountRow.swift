import PostgresStore

/// A tenant with its effective plan limits (overrides applied), as read by ``selectList``:
/// what `GET /v1/account` shows.
struct AccountRow: Sendable, Equatable {
    /// The select list over `tenants t JOIN plans p ON p.name = t.plan`.
    static let selectList = """
        t.org_id AS org_id, t.name AS name, t.plan AS plan,
        coalesce(t.rate_limit_override, p.rate_limit_per_minute) AS rate_limit_per_minute,
        coalesce(t.monthly_quota_override, p.monthly_request_quota) AS monthly_request_quota,
        coalesce(t.max_memories_override, p.max_memories) AS max_memories, gw_time(t.created_at) AS created_at,
        coalesce(t.max_storage_override, p.max_storage_mb) AS max_storage_mb
        """

    /// The tenant's id, name and plan name.
    var orgID: String, name: String, plan: String
    /// The effective limits.
    var rateLimitPerMinute: Int64, monthlyRequestQuota: Int64, maxMemories: Int64, maxStorageMB: Int64
    /// `gw_time` text of the tenant's creation.
    var createdAt: String

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        orgID = row.string("org_id") ?? ""
        name = row.string("name") ?? ""
        plan = row.string("plan") ?? ""
        rateLimitPerMinute = row.int("rate_limit_per_minute") ?? 0
        monthlyRequestQuota = row.int("monthly_request_quota") ?? 0
        maxMemories = row.int("max_memories") ?? 0
        maxStorageMB = row.int("max_storage_mb") ?? 0
        createdAt = row.string("created_at") ?? ""
    }
}
