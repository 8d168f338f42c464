import Foundation
import Testing
@testable import Gateway

/// Values are limited and compared as PostgreSQL stores them: metadata size, timestamps.
@Suite struct StoredSizeAndTimeTests {
    let gateway = TestGateway.shared

    /// jsonb writes `1e300` out as 301 digits: the 16 KiB metadata limit counts that.
    @Test func metadataNumbersAreSizedAsStored() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let members = (0..<64).map { "\"k\($0)\":1e300" }.joined(separator: ",")
        let body = Array("{\"text\":\"x\",\"metadata\":{\(members)}}".utf8)
        let response = try client.request("POST", "/v1/memories",
                                          headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                                          body: body)
        #expect(response.status == 400)
        #expect(response.json?["error"]?["details"]?[0]?["field"]?.stringValue == "metadata")
        let huge = try client.request("POST", "/v1/memories",
                                      headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
                                      body: Array(#"{"text":"x","metadata":{"a":1e1000000}}"#.utf8))
        #expect(huge.status == 400)
        #expect(huge.json?["error"]?["details"]?[0]?["field"]?.stringValue == "metadata")
        let small = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "x", "metadata": ["a": 1.5e3]])
        #expect(small.status == 201)
    }

    /// RFC 3339 allows offsets PostgreSQL does not (beyond ±15:59); far-future `as_of` must not
    /// overflow the recency arithmetic.
    @Test func timestampsAreConvertedToUTCAndFarFutureWorks() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "python rocks"]).status == 201)
        let list = try client.call("GET", "/v1/memories?updated_since=2000-01-01T00:00:00-23:59", key: tenant.key)
        #expect(list.status == 200)
        #expect(list.data?["memories"]?.arrayValue?.count == 1)
        let future = try client.call("POST", "/v1/query", key: tenant.key,
                                     json: ["context": "python", "as_of": "9999-12-31T23:59:59Z", "temporal_boost": 0.5])
        #expect(future.status == 200)
        #expect(future.data?["memories"]?.arrayValue?.count == 1)
        #expect(UTCDate.canonicalTimestamp("2026-11-25T14:00:00.1234567-23:59") == "2026-11-26T13:59:00.123456Z")
        #expect(UTCDate.canonicalTimestamp("0001-01-01T00:00:00+01:00") == nil)
    }
}
