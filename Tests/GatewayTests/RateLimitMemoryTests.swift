import Foundation
import Testing
@testable import Gateway

/// A locally remembered refusal never outlasts the limiter bucket.
@Suite struct RateLimitMemoryTests {
    let gateway = TestGateway.shared

    @Test func aRemembered429NeverOutlastsTheBucket() throws {
        let tenant = try gateway.createTenant()
        let key = try gateway.createKey(admin: tenant.key, scopes: ["read"], extra: [("rate_limit_per_minute", 60)])
        let client = gateway.client()
        var refused: TestResponse?
        for _ in 0..<70 {
            let response = try client.call("GET", "/v1/account", key: key.key)
            if response.status == 429 { refused = response; break }
        }
        let first = try #require(refused)
        #expect(first.header("Retry-After") == "1")
        // One request per second refills: within 1.1 s one is admitted again, never refused locally.
        Thread.sleep(forTimeInterval: 1.05)
        #expect(try client.call("GET", "/v1/account", key: key.key).status == 200)
    }
}
