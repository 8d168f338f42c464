import Foundation
import PostgresStore
import Synchronization

/// Prometheus counters of this instance. Labels are route templates and statuses only: no tenant
/// ids (their number is unbounded).
final class Metrics: Sendable {
    static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct State {
        var requests: [String: Int] = [:]  // "route\u{0}status"
        var buckets = [Int](repeating: 0, count: Metrics.bucketBounds.count)
        var latencyCount = 0
        var latencySum = 0.0
        var rateLimited = 0
        var lastFlushLag = 0.0
        var flushFailures = 0
    }

    private let state = Mutex(State())

    func record(route: String, status: Int, since start: ContinuousClock.Instant) {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        state.withLock { state in
            state.requests["\(route)\u{0}\(status)", default: 0] += 1
            state.latencyCount += 1
            state.latencySum += elapsed
            if let index = Metrics.bucketBounds.firstIndex(where: { elapsed <= $0 }) {
                state.buckets[index] += 1
            }
        }
    }

    func recordRateLimited() {
        state.withLock { $0.rateLimited += 1 }
    }

    func recordFlush(lagSeconds: Double, failed: Bool) {
        state.withLock {
            $0.lastFlushLag = lagSeconds
            if failed { $0.flushFailures += 1 }
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    func render(pool: PoolStatistics) -> String {
        let snapshot = state.withLock { $0 }
        var out = "# HELP gateway_requests_total Requests answered, by route template and status.\n"
        out += "# TYPE gateway_requests_total counter\n"
        for (key, count) in snapshot.requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1)
            let route = parts.first.map(String.init) ?? ""
            let status = parts.count > 1 ? String(parts[1]) : ""
            out += "gateway_requests_total{route=\"\(escape(route))\",status=\"\(status)\"} \(count)\n"
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
        out += "# HELP gateway_db_pool_connections Database pool connections by state.\n"
        out += "# TYPE gateway_db_pool_connections gauge\n"
        out += "gateway_db_pool_connections{state=\"size\"} \(pool.size)\n"
        out += "gateway_db_pool_connections{state=\"in_use\"} \(pool.inUse)\n"
        out += "gateway_db_pool_connections{state=\"idle\"} \(pool.idle)\n"
        out += "# HELP gateway_db_pool_waiting Requests waiting for a database connection.\n"
        out += "# TYPE gateway_db_pool_waiting gauge\ngateway_db_pool_waiting \(pool.waiting)\n"
        out += "# HELP gateway_usage_flush_lag_seconds Age of the oldest count in the last usage flush.\n"
        out += "# TYPE gateway_usage_flush_lag_seconds gauge\ngateway_usage_flush_lag_seconds \(snapshot.lastFlushLag)\n"
        out += "# HELP gateway_usage_flush_failures_total Usage flushes that failed and were retried.\n"
        out += "# TYPE gateway_usage_flush_failures_total counter\ngateway_usage_flush_failures_total \(snapshot.flushFailures)\n"
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
