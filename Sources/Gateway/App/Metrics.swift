import Foundation
import PostgresStore
import Synchronization

/// Prometheus counters of this instance. Labels are route templates and statuses only: no tenant
/// ids (their number is unbounded).
final class Metrics: Sendable {
    static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct RouteStatus: Hashable {
        var route: String
        var status: Int
    }

    /// Counted by the worker threads, sharded so they do not contend for one lock.
    private struct Counts {
        var requests: [RouteStatus: Int] = [:]
        var buckets = [Int](repeating: 0, count: Metrics.bucketBounds.count)
        var latencyCount = 0
        var latencySum = 0.0
        var rateLimited = 0

        mutating func add(_ other: Counts) {
            for (key, count) in other.requests { requests[key, default: 0] += count }
            for index in buckets.indices { buckets[index] += other.buckets[index] }
            latencyCount += other.latencyCount
            latencySum += other.latencySum
            rateLimited += other.rateLimited
        }
    }

    private struct FlushState {
        var lastFlushLag = 0.0
        var flushFailures = 0
    }

    private let counts = ThreadSharded { Counts() }
    private let flushes = Mutex(FlushState())

    func record(route: String, status: Int, since start: ContinuousClock.Instant) {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        let key = RouteStatus(route: route, status: status)
        let bucket = Metrics.bucketBounds.firstIndex { elapsed <= $0 }
        counts.withCurrent { counts in
            counts.requests[key, default: 0] += 1
            counts.latencyCount += 1
            counts.latencySum += elapsed
            if let bucket { counts.buckets[bucket] += 1 }
        }
    }

    func recordRateLimited() {
        counts.withCurrent { $0.rateLimited += 1 }
    }

    func recordFlush(lagSeconds: Double, failed: Bool) {
        flushes.withLock {
            $0.lastFlushLag = lagSeconds
            if failed { $0.flushFailures += 1 }
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    func render(pool: PoolStatistics, admissionQueries: Int) -> String {
        var snapshot = Counts()
        counts.forEach { snapshot.add($0) }
        let flush = flushes.withLock { $0 }
        var out = "# HELP gateway_requests_total Requests answered, by route template and status.\n"
        out += "# TYPE gateway_requests_total counter\n"
        let requests = snapshot.requests.sorted { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }
        for (key, count) in requests {
            out += "gateway_requests_total{route=\"\(escape(key.route))\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP gateway_request_duration_seconds Time from a complete request head to the response.\n"
        out += "# TYPE gateway_request_duration_seconds histogram\n"
        var cumulative = 0
        for (index, bound) in Metrics.bucketBounds.enumerated() {
            cumulative += snapshot.buckets[index]
            out += "gateway_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "gateway_request_duration_seconds_bucket{le=\"+Inf\"} \(snapshot.latencyCount)\n"
        out += "gateway_request_duration_seconds_sum \(snapshot.latencySum)\n"
        out += "gateway_request_duration_seconds_count \(snapshot.latencyCount)\n"
        out += "# HELP gateway_rate_limited_total Requests refused by the rate limiter or a quota.\n"
        out += "# TYPE gateway_rate_limited_total counter\ngateway_rate_limited_total \(snapshot.rateLimited)\n"
        out += "# HELP gateway_admission_queries_total Admission decisions sent to PostgreSQL (refusals remembered locally are not).\n"
        out += "# TYPE gateway_admission_queries_total counter\ngateway_admission_queries_total \(admissionQueries)\n"
        out += "# HELP gateway_db_pool_connections Database pool connections by state.\n"
        out += "# TYPE gateway_db_pool_connections gauge\n"
        out += "gateway_db_pool_connections{state=\"size\"} \(pool.size)\n"
        out += "gateway_db_pool_connections{state=\"in_use\"} \(pool.inUse)\n"
        out += "gateway_db_pool_connections{state=\"idle\"} \(pool.idle)\n"
        out += "# HELP gateway_db_pool_waiting Requests waiting for a database connection.\n"
        out += "# TYPE gateway_db_pool_waiting gauge\ngateway_db_pool_waiting \(pool.waiting)\n"
        out += "# HELP gateway_usage_flush_lag_seconds Age of the oldest count in the last usage flush.\n"
        out += "# TYPE gateway_usage_flush_lag_seconds gauge\ngateway_usage_flush_lag_seconds \(flush.lastFlushLag)\n"
        out += "# HELP gateway_usage_flush_failures_total Usage flushes that failed and were retried.\n"
        out += "# TYPE gateway_usage_flush_failures_total counter\ngateway_usage_flush_failures_total \(flush.flushFailures)\n"
        out += "# HELP gateway_build_info Build information.\n# TYPE gateway_build_info gauge\n"
        out += "gateway_build_info{version=\"\(GatewayVersion.current)\"} 1\n"
        return out
    }

    private func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

enum GatewayVersion {
    static let current = "1.0.0"
}
