import PostgresStore

/// The one row of `GET /v1/usage`'s statement, as read by ``selectList``.
struct UsageSummaryRow: Sendable, Equatable {
    /// The select list over the period's counters `c` (a CTE of `usage_counters`); `$1` is the org,
    /// `$2` the environment, `$3` the period's first day.
    static let selectList = """
        (SELECT coalesce(sum(requests), 0) FROM c)::bigint AS requests,
        (SELECT coalesce(sum(rate_limited), 0) FROM c)::bigint AS rate_limited,
        (SELECT count(*) FROM memories m WHERE m.org_id = $1 AND m.env = $2 AND \(MemoryObject.isLive()))::bigint
            AS memories,
        (SELECT coalesce(json_object_agg(e.endpoint, e.n ORDER BY e.endpoint), '{}')::text
           FROM (SELECT endpoint, sum(requests)::bigint AS n FROM c GROUP BY endpoint
                 HAVING sum(requests) > 0) e) AS by_endpoint,
        (SELECT coalesce(json_agg(json_build_object(
                    'key_id', k.key_id, 'key_prefix', a.key_prefix, 'name', a.name, 'requests', k.n)
                    ORDER BY k.n DESC, k.key_id), '[]')::text
           FROM (SELECT key_id, sum(requests)::bigint AS n FROM c GROUP BY key_id
                 HAVING sum(requests) > 0) k
           LEFT JOIN api_keys a ON a.org_id = $1 AND a.key_id = k.key_id) AS by_key,
        (SELECT coalesce(json_agg(json_build_object(
                    'metric', x.metric, 'threshold_percent', x.threshold_percent,
                    'reached_at', gw_time(x.reached_at))
                    ORDER BY x.reached_at, x.metric, x.threshold_percent), '[]')::text
           FROM usage_alerts x WHERE x.org_id = $1 AND x.period = $3::date AND $2 = 'live') AS alerts,
        (coalesce((SELECT s.bytes FROM storage_usage s WHERE s.org_id = $1), 0)
         + coalesce((SELECT sum(d.bytes) FROM storage_deltas d WHERE d.org_id = $1), 0))::bigint AS storage_bytes,
        (SELECT coalesce(t.max_storage_override, p.max_storage_mb)
           FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1) AS max_storage_mb
        """

    /// Requests and rate-limited requests counted in the period.
    var requests: Int64, rateLimited: Int64
    /// Live memories stored in the environment.
    var memories: Int64
    /// `json` texts: requests by endpoint (object), by key (array), alerts reached (array).
    var byEndpoint: String?, byKey: String?, alerts: String?
    /// Stored bytes of the tenant (both environments) and its storage quota in MB.
    var storageBytes: Int64, maxStorageMB: Int64

    /// Decodes the row of a statement selecting ``selectList``.
    init(_ row: PostgresRow) {
        requests = row.int("requests") ?? 0
        rateLimited = row.int("rate_limited") ?? 0
        memories = row.int("memories") ?? 0
        byEndpoint = row.string("by_endpoint")
        byKey = row.string("by_key")
        alerts = row.string("alerts")
        storageBytes = row.int("storage_bytes") ?? 0
        maxStorageMB = row.int("max_storage_mb") ?? 0
    }
}
