import Foundation
import PostgresStore

/// Records, once per period, when a tenant's live usage first reaches 80% and 100% of its
/// monthly request quota or of its memory limit, and queues a `usage.alert` webhook event for
/// each, in the same statement.
enum UsageAlerts {
    static func check(pool: PostgresPool, orgIDs: [String], now: Date) throws {
        let period = UTCDate.format(UTCDate.monthBounds(now).start)
        _ = try pool.query(
            """
            WITH orgs AS (
                SELECT t.org_id, coalesce(t.monthly_quota_override, p.monthly_request_quota) AS quota,
                       coalesce(t.max_memories_override, p.max_memories) AS max_memories
                  FROM tenants t JOIN plans p ON p.name = t.plan
                 WHERE t.org_id = ANY ($1::text[])
            ), measured AS (
                SELECT o.org_id, o.quota, o.max_memories,
                       (SELECT coalesce(sum(u.requests), 0) FROM usage_counters u
                         WHERE u.org_id = o.org_id AND u.env = 'live'
                           AND u.day >= $2::date AND u.day < ($2::date + interval '1 month')) AS requests,
                       (SELECT count(*) FROM memories m WHERE m.org_id = o.org_id AND m.env = 'live'
                                                                 AND \(MemoryObject.isLive())) AS memories
                  FROM orgs o
            ), inserted AS (
            INSERT INTO usage_alerts (org_id, period, metric, threshold_percent, reached_at)
            SELECT m.org_id, $2::date, x.metric, x.threshold, gw_now()
              FROM measured m
             CROSS JOIN LATERAL (VALUES ('requests', 80, m.requests, m.quota), ('requests', 100, m.requests, m.quota),
                                        ('memories', 80, m.memories, m.max_memories), ('memories', 100, m.memories, m.max_memories))
                   AS x(metric, threshold, value, lim)
             WHERE x.lim > 0 AND x.value * 100 >= x.lim * x.threshold
            ON CONFLICT DO NOTHING
            RETURNING org_id, metric, threshold_percent, reached_at
            )
            -- The same decision queues the usage.alert webhook event (live: alerts are on live usage).
            SELECT gw_webhook_enqueue(
                       i.org_id, 'live', 'usage.alert', ARRAY[gw_random_id('evt')],
                       ARRAY[json_build_object(
                           'type', 'usage.alert', 'timestamp', gw_time(i.reached_at),
                           'data', json_build_object('metric', i.metric, 'threshold_percent', i.threshold_percent,
                                                     'reached_at', gw_time(i.reached_at)))::text])
              FROM inserted i
            """,
            [.textArray(orgIDs), .text(period)])
    }
}
