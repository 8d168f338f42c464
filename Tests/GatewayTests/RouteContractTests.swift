import Foundation
import Testing
@testable import Gateway

/// Route-level contract details: reserved paths, compact JSON, credentials, content negotiation.
@Suite struct RouteContractTests {
    let gateway = TestGateway.shared

    /// `count`, `batch` and `export` are routes, never memory ids: other methods are 405 with
    /// the route's own Allow.
    @Test func reservedMemoryRoutesAre405() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let delete = try client.call("DELETE", "/v1/memories/count", key: tenant.key)
        #expect(delete.status == 405)
        #expect(delete.header("Allow") == "GET, HEAD")
        let get = try client.call("GET", "/v1/memories/batch", key: tenant.key)
        #expect(get.status == 405)
        #expect(get.header("Allow") == "POST")
        #expect(try client.call("POST", "/v1/memories/export", key: tenant.key, json: [:]).header("Allow") == "GET, HEAD")
    }

    @Test func queryAnswersCompactJSON() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        _ = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "python rocks", "metadata": ["a": 1]])
        let response = try client.call("POST", "/v1/query", key: tenant.key, json: ["context": "python"])
        #expect(response.status == 200)
        #expect(!response.text.contains("\" : "))
        #expect(!response.text.contains(", \""))
        #expect(response.data?["memories"]?[0]?["metadata"]?["a"]?.intValue == 1)
    }

    @Test func bearerWithoutCredentialsIsAMissingKey() throws {
        let response = try gateway.client().request("GET", "/v1/account", headers: [("Authorization", "Bearer ")])
        #expect(response.status == 401)
        #expect(response.errorCode == "missing_api_key")
    }

    @Test(arguments: [
        ("text/csv", true), ("application/json, text/csv;q=0.5", false), ("text/csv;q=0", false),
        ("text/csv;q=0.9, application/json;q=0.5", true), ("*/*", false), ("text/csv, application/json", true),
    ])
    func acceptQualitiesChooseCSV(accept: String, isCSV: Bool) throws {
        let tenant = try gateway.createTenant()
        let response = try gateway.client().call("GET", "/v1/usage/history", key: tenant.key, headers: [("Accept", accept)])
        #expect(response.status == 200)
        #expect((response.header("Content-Type")?.hasPrefix("text/csv") ?? false) == isCSV)
    }
}
