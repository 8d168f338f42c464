import Foundation
import Testing
@testable import Gateway

/// `GET /metrics`: Prometheus text with routes, statuses, latency, refusals and the pool.
@Suite struct MetricsTests {
    @Test func countsRequestsByRouteTemplateAndStatus() throws {
        let gateway = try TestGateway()
        defer { gateway.stop() }
        let tenant = try gateway.createTenant(plan: "free")
        let client = gateway.client()
        for _ in 0..<3 { _ = try client.call("GET", "/v1/memories/some-id", key: tenant.key) }
        for _ in 0..<10 { _ = try client.call("GET", "/v1/account", key: tenant.key) }
        let metrics = try client.request("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        let text = metrics.text
        #expect(text.contains("gateway_requests_total{route=\"GET /v1/memories/{id}\",status=\"404\"} 3"))
        #expect(text.contains("gateway_requests_total{route=\"GET /v1/account\",status=\"200\"} 7"))
        #expect(text.contains("gateway_requests_total{route=\"GET /v1/account\",status=\"429\"} 3"))
        #expect(text.contains("gateway_rate_limited_total 3"))
        #expect(text.contains("gateway_request_duration_seconds_count "))
        #expect(text.contains("gateway_db_pool_connections{state=\"size\"} 6"))
        #expect(!text.contains(tenant.orgID))
    }
}
