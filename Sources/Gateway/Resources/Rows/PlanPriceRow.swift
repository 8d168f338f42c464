import PostgresStore

/// The requests of a period with the plan's prices, as read by ``selectList``: what
/// `GET /v1/usage/projection` extrapolates.
struct PlanPriceRow: Sendable, Equatable {
    /// The select list over `tenants t JOIN plans p`; `$1` org, `$2` environment, `$3`/`$4` the
    /// period's first and last day.
    static let selectList = """
        (SELECT coalesce(sum(u.requests), 0) FROM usage_counters u
          WHERE u.org_id = $1 AND u.env = $2 AND u.day BETWEEN $3::date AND $4::date)::bigint AS requests,
        p.price_cents AS price_cents, p.overage_cents_per_1000 AS overage_cents_per_1000, p.hard_quota AS hard_quota
        """

    /// Requests counted in the period so far.
    var requests: Int64
    /// The plan's base price and overage price per 1000 requests, in cents.
    var priceCents: Int64, overageCentsPer1000: Int64
    /// Whether the plan's quota is hard; `nil` if unknown.
    var isHardQuota: Bool?

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        requests = row.int("requests") ?? 0
        priceCents = row.int("price_cents") ?? 0
        overageCentsPer1000 = row.int("overage_cents_per_1000") ?? 0
        isHardQuota = row.bool("hard_quota")
    }
}
