import PostgresStore

extension Billing.Row {
    /// The select list of one tenant's billing figures over `tenants t`, the plan `p` in effect at
    /// the period's close and the period's live counters `u`.
    static let selectList = """
        t.org_id AS org_id, t.name AS name, p.name AS plan, p.price_cents AS price_cents,
        p.overage_cents_per_1000 AS overage_cents_per_1000, p.hard_quota AS hard_quota,
        coalesce(t.monthly_quota_override, p.monthly_request_quota) AS monthly_quota,
        coalesce(u.requests, 0)::bigint AS requests, coalesce(u.rate_limited, 0)::bigint AS rate_limited,
        (SELECT count(*) FROM memories m WHERE m.org_id = t.org_id AND m.env = 'live' AND \(MemoryObject.isLive()))::bigint
            AS memories_stored
        """

    /// Decodes a row holding ``selectList`` and prices it.
    init(_ row: PostgresRow) {
        let requests = row.int("requests") ?? 0
        let price = PlanPrice(baseCents: row.int("price_cents") ?? 0,
                              overageCentsPer1000: row.int("overage_cents_per_1000") ?? 0,
                              monthlyQuota: row.int("monthly_quota") ?? 0, isHardQuota: row.bool("hard_quota") ?? false)
        self.init(tenantID: row.string("org_id") ?? "", name: row.string("name") ?? "", plan: row.string("plan") ?? "",
                  requests: requests, rateLimited: row.int("rate_limited") ?? 0, quota: price.monthlyQuota,
                  memoriesStored: row.int("memories_stored") ?? 0, charge: .of(requests: requests, price: price))
    }
}
