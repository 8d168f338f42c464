import Foundation
import PostgresStore
import Synchronization

/// Counts requests in memory and flushes them as one batched upsert per interval (and on
/// shutdown), so counting costs no round trip per request. A crash loses at most the counts of
/// the last interval of that instance. Also carries keys' `last_used_at` and fires usage alerts.
final class UsageRecorder: Sendable {
    struct CounterKey: Hashable, Sendable {
        var orgID: String
        var env: String
        var day: String
        var keyID: String
        var endpoint: String
    }

    struct Counts: Sendable {
        var requests = 0
        var rateLimited = 0
        var errors = 0
    }

    /// What one shard has counted since the last flush.
    private struct Shard {
        var counts: [CounterKey: Counts] = [:]
        var lastUsed: [String: (orgID: String, keyID: String, at: Date)] = [:]
        var touchedOrgs: Set<String> = []
        var oldest: ContinuousClock.Instant?

        mutating func merge(_ other: Shard) {
            for (key, value) in other.counts {
                counts[key, default: Counts()].requests += value.requests
                counts[key, default: Counts()].rateLimited += value.rateLimited
                counts[key, default: Counts()].errors += value.errors
            }
            for (id, value) in other.lastUsed where (lastUsed[id]?.at ?? .distantPast) < value.at { lastUsed[id] = value }
            touchedOrgs.formUnion(other.touchedOrgs)
            if let theirs = other.oldest, oldest.map({ theirs < $0 }) ?? true { oldest = theirs }
        }
    }

    /// Worker threads count into different shards, so they do not contend for one lock on every
    /// request; a flush merges them.
    private let shards = ThreadSharded { Shard() }
    private let isStopped = Mutex(false)

    private let pool: PostgresPool
    private let metrics: Metrics
    private let interval: Duration
    private let clock: @Sendable () -> Date
    private let flushLock = Mutex(())
    private let wakeup = NSCondition()

    init(pool: PostgresPool, metrics: Metrics, interval: Duration, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.metrics = metrics
        self.interval = interval
        self.clock = clock
    }

    /// An admitted request. It counts as a request unless it ended in a 5xx (not billed); every
    /// 4xx and 5xx counts in `errors`.
    func recordRequest(principal: Principal, endpoint: String, status: Int) {
        let now = clock()
        let key = CounterKey(orgID: principal.orgID, env: principal.env, day: UTCDate.day(now),
                             keyID: principal.keyID, endpoint: endpoint)
        shards.withCurrent { shard in
            if status < 500 { shard.counts[key, default: Counts()].requests += 1 }
            if status >= 400 { shard.counts[key, default: Counts()].errors += 1 }
            shard.lastUsed[principal.keyID] = (principal.orgID, principal.keyID, now)
            if principal.isLive { shard.touchedOrgs.insert(principal.orgID) }
            if shard.oldest == nil { shard.oldest = .now }
        }
    }

    /// A request refused by the limiter or the monthly quota.
    func recordRateLimited(principal: Principal, endpoint: String) {
        let key = CounterKey(orgID: principal.orgID, env: principal.env, day: UTCDate.day(clock()),
                             keyID: principal.keyID, endpoint: endpoint)
        shards.withCurrent { shard in
            shard.counts[key, default: Counts()].rateLimited += 1
            if shard.oldest == nil { shard.oldest = .now }
        }
    }

    /// Starts the background flusher.
    func start() {
        let thread = Thread { [self] in self.flushLoop() }
        thread.name = "usage-flush"
        thread.start()
    }

    /// Stops the flusher after a last flush.
    /// Stops the flusher after a last flush, retried for up to `finalFlushDeadline` while
    /// PostgreSQL does not answer (a shutdown during an outage should not lose the counts).
    func stop(finalFlushDeadline: Duration = .seconds(10)) {
        isStopped.withLock { $0 = true }
        wakeup.lock()
        wakeup.signal()
        wakeup.unlock()
        let deadline = ContinuousClock.now + finalFlushDeadline
        flush()
        while hasPendingCounts, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            flush()
        }
        if hasPendingCounts {
            Log.error("usage counts could not be written before exit; they are lost")
        }
    }

    /// Whether counts are waiting to be written.
    private var hasPendingCounts: Bool {
        var pending = false
        shards.forEach { shard in
            if !shard.counts.isEmpty { pending = true }
        }
        return pending
    }

    private func flushLoop() {
        var lastAlertCheck = ContinuousClock.now
        var pendingAlertOrgs: Set<String> = []
        while true {
            wakeup.lock()
            _ = wakeup.wait(until: Date(timeIntervalSinceNow: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18))
            wakeup.unlock()
            if isStopped.withLock({ $0 }) { return }
            pendingAlertOrgs.formUnion(flush())
            if ContinuousClock.now - lastAlertCheck >= .seconds(2), !pendingAlertOrgs.isEmpty {
                lastAlertCheck = .now
                if (try? UsageAlerts.check(pool: pool, orgIDs: Array(pendingAlertOrgs), now: clock())) != nil {
                    pendingAlertOrgs.removeAll()
                }
            }
        }
    }

    /// Writes what was counted; on failure the counts are kept for the next attempt.
    /// Returns the live orgs that had traffic.
    @discardableResult
    func flush() -> Set<String> {
        flushLock.withLock { _ in
            var taken = Shard()
            shards.forEach { shard in
                taken.merge(shard)
                shard = Shard()
            }
            let (counts, lastUsed, touched, oldest) = (taken.counts, taken.lastUsed, taken.touchedOrgs, taken.oldest)
            guard !counts.isEmpty || !lastUsed.isEmpty else { return [] }
            do {
                try write(counts: counts, lastUsed: Array(lastUsed.values))
                let lag = oldest.map { instant -> Double in
                    let (s, a) = (ContinuousClock.now - instant).components
                    return Double(s) + Double(a) / 1e18
                } ?? 0
                metrics.recordFlush(lagSeconds: lag, failed: false)
                return touched
            } catch {
                metrics.recordFlush(lagSeconds: 0, failed: true)
                Log.error("usage flush failed; will retry", ["error": "\(error)"])
                shards.withFirst { $0.merge(taken) }
                return []
            }
        }
    }

    private func write(counts: [CounterKey: Counts], lastUsed: [(orgID: String, keyID: String, at: Date)]) throws {
        try pool.transaction { connection in
            if !counts.isEmpty {
                // Every instance upserts in the same (primary key) order, so two flushes touching
                // the same rows cannot deadlock (a key's rows can span two days at midnight).
                let entries = counts.sorted {
                    ($0.key.orgID, $0.key.env, $0.key.day, $0.key.keyID, $0.key.endpoint)
                        < ($1.key.orgID, $1.key.env, $1.key.day, $1.key.keyID, $1.key.endpoint)
                }
                _ = try connection.query(
                    """
                    INSERT INTO usage_counters AS u (org_id, env, day, key_id, endpoint, requests, rate_limited, errors)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::date[], $4::text[], $5::text[],
                                         $6::text[]::bigint[], $7::text[]::bigint[], $8::text[]::bigint[])
                    ON CONFLICT (org_id, env, day, key_id, endpoint) DO UPDATE
                       SET requests = u.requests + excluded.requests,
                           rate_limited = u.rate_limited + excluded.rate_limited,
                           errors = u.errors + excluded.errors
                    """,
                    [
                        .textArray(entries.map(\.key.orgID)), .textArray(entries.map(\.key.env)),
                        .textArray(entries.map(\.key.day)), .textArray(entries.map(\.key.keyID)),
                        .textArray(entries.map(\.key.endpoint)),
                        .textArray(entries.map { String($0.value.requests) }),
                        .textArray(entries.map { String($0.value.rateLimited) }),
                        .textArray(entries.map { String($0.value.errors) }),
                    ])
            }
            if !lastUsed.isEmpty {
                let sorted = lastUsed.sorted { ($0.orgID, $0.keyID) < ($1.orgID, $1.keyID) }
                _ = try connection.query(
                    """
                    UPDATE api_keys a SET last_used_at = greatest(a.last_used_at, v.at)
                      FROM unnest($1::text[], $2::text[], $3::text[]::timestamptz[]) AS v(org_id, key_id, at)
                     WHERE a.org_id = v.org_id AND a.key_id = v.key_id
                    """,
                    [.textArray(sorted.map(\.orgID)), .textArray(sorted.map(\.keyID)),
                     .textArray(sorted.map { UTCDate.timestamp($0.at) })])
            }
        }
    }
}
