import PostgresStore

extension Usage.HistoryDay {
    /// The select list of one history day over `generate_series(...) AS d(day)` left-joined to
    /// `usage_counters u`, grouped by `d.day`.
    static let selectList = """
        to_char(d.day, 'YYYY-MM-DD') AS date, coalesce(sum(u.requests), 0)::bigint AS requests,
        coalesce(sum(u.rate_limited), 0)::bigint AS rate_limited, coalesce(sum(u.errors), 0)::bigint AS errors
        """

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        self.init(date: row.string("date") ?? "", requests: row.int("requests") ?? 0,
                  rateLimited: row.int("rate_limited") ?? 0, errors: row.int("errors") ?? 0)
    }
}
