import Foundation
import Testing
@testable import Gateway

/// One gateway for the memory and space suites; every test makes its own tenant.
enum MemoryTestGateway {
    static let shared: TestGateway = {
        do { return try TestGateway() } catch { fatalError("cannot start the test gateway: \(error)") }
    }()
}

/// A fresh tenant with its admin key (read/write/delete/admin, live) and its own connection.
struct MemoryTestTenant {
    let orgID: String
    let key: String
    let client: TestHTTPClient

    init(plan: String = "professional") throws {
        let gateway = MemoryTestGateway.shared
        (orgID, key) = try gateway.createTenant(plan: plan)
        client = gateway.client()
    }

    /// Calls with this tenant's key unless `key` says otherwise.
    @discardableResult
    func call(_ method: String, _ path: String, _ json: JSONValue? = nil, key: String? = nil) throws -> TestResponse {
        try client.call(method, path, key: key ?? self.key, json: json)
    }

    /// Creates a memory; requires a 201 and returns its object.
    @discardableResult
    func create(_ body: JSONValue) throws -> JSONValue {
        let response = try call("POST", "/v1/memories", body)
        guard response.status == 201, let data = response.data else {
            throw TestClientError.io("create failed: \(response.status) \(response.text)")
        }
        return data
    }

    /// A key of this tenant with `scopes` in `environment`.
    func key(scopes: [String] = ["read", "write", "delete"], environment: String = "live") throws -> String {
        try MemoryTestGateway.shared.createKey(admin: key, scopes: scopes, environment: environment).key
    }
}

/// Field names of a 400's `details`.
func detailFields(_ response: TestResponse) -> [String] {
    response.json?["error"]?["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
}

/// `POST`, `GET`, `PUT`, `DELETE` of single memories: validation limits, ids, versions, `as_of`,
/// history, isolation between tenants and environments.
@Suite struct MemoriesTests {
    @Test func createsAMemoryWithLocationAndTheContractShape() throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/memories", ["text": "likes tea", "metadata": ["mood": "calm", "n": 3]])
        #expect(response.status == 201)
        let memory = try #require(response.data)
        let id = try #require(memory["id"]?.stringValue)
        #expect(id.hasPrefix("mem_") && id.count == 24)
        #expect(response.header("Location") == "/v1/memories/\(id)")
        #expect(response.header("Cache-Control") == "no-store")
        #expect(response.header("RateLimit-Limit") != nil)
        #expect(memory.objectValue?.keys == ["id", "text", "metadata", "space_id", "source", "version", "created_at", "updated_at",
                                               "expires_at"])
        #expect(memory["expires_at"] == .null)
        #expect(memory["text"] == "likes tea")
        #expect(memory["metadata"] == ["mood": "calm", "n": 3])
        #expect(memory["space_id"] == .null)
        #expect(memory["source"] == "api")
        #expect(memory["version"] == 1)
        let created = try #require(memory["created_at"]?.stringValue)
        #expect(created.count == 24 && created.hasSuffix("Z"))
        #expect(memory["updated_at"]?.stringValue == created)

        let fetched = try tenant.call("GET", "/v1/memories/\(id)")
        #expect(fetched.status == 200)
        #expect(fetched.data == memory)
        let head = try tenant.call("HEAD", "/v1/memories/\(id)")
        #expect(head.status == 200)
    }

    @Test func defaultsMetadataToAnEmptyObject() throws {
        let tenant = try MemoryTestTenant()
        let memory = try tenant.create(["text": "x"])
        #expect(memory["metadata"] == [:])
        let withNull = try tenant.create(["text": "y", "metadata": nil])
        #expect(withNull["metadata"] == [:])
    }

    @Test func textLimitsCountUnicodeScalars() throws {
        let tenant = try MemoryTestTenant()
        let exact = String(repeating: "é", count: 50_000)
        let ok = try tenant.call("POST", "/v1/memories", ["text": .string(exact)])
        #expect(ok.status == 201)
        #expect(ok.data?["text"]?.stringValue == exact)
        let over = try tenant.call("POST", "/v1/memories", ["text": .string(exact + "a")])
        #expect(over.status == 400)
        #expect(over.errorCode == "invalid_request")
        #expect(detailFields(over) == ["text"])
        for body: JSONValue in [["text": ""], [:], ["text": 5], ["text": nil], ["metadata": ["a": 1]], ["text": "a\u{0}b"]] {
            let response = try tenant.call("POST", "/v1/memories", body)
            #expect(response.status == 400, "\(body)")
            #expect(detailFields(response).contains("text"), "\(body)")
        }
    }

    @Test func metadataLimits() throws {
        let tenant = try MemoryTestTenant()
        func keys(_ count: Int) -> JSONValue {
            .object(JSONObject((0..<count).map { ("k\($0)", JSONValue.int($0)) }))
        }
        #expect(try tenant.call("POST", "/v1/memories", ["text": "t", "metadata": keys(64)]).status == 201)
        let tooMany = try tenant.call("POST", "/v1/memories", ["text": "t", "metadata": keys(65)])
        #expect(tooMany.status == 400)
        #expect(detailFields(tooMany) == ["metadata"])

        // {"k":"…"} is 8 bytes plus the string.
        let fits: JSONValue = ["k": .string(String(repeating: "a", count: 16 * 1024 - 8))]
        #expect(fits.jsonBytes.count == 16 * 1024)
        #expect(try tenant.call("POST", "/v1/memories", ["text": "t", "metadata": fits]).status == 201)
        let tooBig: JSONValue = ["k": .string(String(repeating: "a", count: 16 * 1024 - 7))]
        let big = try tenant.call("POST", "/v1/memories", ["text": "t", "metadata": tooBig])
        #expect(big.status == 400)
        #expect(detailFields(big) == ["metadata"])

        let scalars: JSONValue = ["s": "x", "n": 1.5, "b": false, "z": nil, "list": ["a", 1, true, nil]]
        let stored = try tenant.create(["text": "t", "metadata": scalars])
        #expect(stored["metadata"] == scalars)
        for bad: JSONValue in [["nested": ["a": 1]], ["list": [["a": 1]]], ["list": [[1]]], "string", [1, 2]] {
            let response = try tenant.call("POST", "/v1/memories", ["text": "t", "metadata": bad])
            #expect(response.status == 400, "\(bad)")
            #expect(detailFields(response) == ["metadata"], "\(bad)")
        }
    }

    @Test func memoryIDRulesAndConflicts() throws {
        let tenant = try MemoryTestTenant()
        let longest = String(repeating: "a", count: 127) + "Z"
        let created = try tenant.call("POST", "/v1/memories", ["text": "t", "memory_id": .string(longest)])
        #expect(created.status == 201)
        #expect(created.header("Location") == "/v1/memories/\(longest)")
        #expect(try tenant.call("GET", "/v1/memories/\(longest)").status == 200)
        #expect(try tenant.call("POST", "/v1/memories", ["text": "t", "memory_id": "my_id-1"]).status == 201)

        let taken = try tenant.call("POST", "/v1/memories", ["text": "other", "memory_id": "my_id-1"])
        #expect(taken.status == 409)
        #expect(taken.errorCode == "conflict")
        #expect(try tenant.call("GET", "/v1/memories/my_id-1").data?["text"] == "t")
        // A refused write leaves nothing behind, not even the space it named.
        let takenWithSpace = try tenant.call("POST", "/v1/memories", ["text": "o", "memory_id": "my_id-1", "space_id": "fresh"])
        #expect(takenWithSpace.status == 409)
        #expect(try tenant.call("GET", "/v1/spaces/fresh").status == 404)

        for bad in [String(repeating: "a", count: 129), "has space", "dot.ted", "", "count", "batch", "export", "ü"] {
            let response = try tenant.call("POST", "/v1/memories", ["text": "t", "memory_id": .string(bad)])
            #expect(response.status == 400, "\(bad)")
            #expect(detailFields(response) == ["memory_id"], "\(bad)")
        }
        let wrongType = try tenant.call("POST", "/v1/memories", ["text": "t", "memory_id": 12])
        #expect(wrongType.status == 400)
    }

    @Test func reportsEveryInvalidFieldAtOnce() throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/memories", ["text": "", "metadata": 3, "memory_id": "a b", "space_id": "x y"])
        #expect(response.status == 400)
        #expect(Set(detailFields(response)) == ["text", "metadata", "memory_id", "space_id"])
        let malformed = try tenant.client.request(
            "POST", "/v1/memories", headers: [("Authorization", "Bearer \(tenant.key)"), ("Content-Type", "application/json")],
            body: Array("{\"text\":".utf8))
        #expect(malformed.status == 400)
        #expect(detailFields(malformed) == ["body"])
    }

    @Test func spaceIDCreatesTheSpaceOnFirstUse() throws {
        let tenant = try MemoryTestTenant()
        let memory = try tenant.create(["text": "t", "space_id": "work"])
        #expect(memory["space_id"] == "work")
        let space = try tenant.call("GET", "/v1/spaces/work")
        #expect(space.status == 200)
        #expect(space.data?["name"] == "work")
        #expect(space.data?["memory_count"] == 1)
        let tooLong = try tenant.call("POST", "/v1/memories", ["text": "t", "space_id": .string(String(repeating: "s", count: 65))])
        #expect(tooLong.status == 400)
        #expect(detailFields(tooLong) == ["space_id"])
    }

    @Test func unknownMemoriesAreNotFound() throws {
        let tenant = try MemoryTestTenant()
        for (method, path) in [("GET", "/v1/memories/nope"), ("GET", "/v1/memories/nope/history"),
                               ("DELETE", "/v1/memories/nope")] {
            let response = try tenant.call(method, path)
            #expect(response.status == 404, "\(method) \(path)")
            #expect(response.errorCode == "not_found")
        }
        let put = try tenant.call("PUT", "/v1/memories/nope", ["text": "x"])
        #expect(put.status == 404)
    }

    @Test func updateReplacesBumpsVersionAndKeepsHistory() throws {
        let tenant = try MemoryTestTenant()
        let first = try tenant.create(["text": "v1", "metadata": ["a": 1], "memory_id": "m1", "space_id": "s"])
        let second = try tenant.call("PUT", "/v1/memories/m1", ["text": "v2"])
        #expect(second.status == 200)
        #expect(second.data?["text"] == "v2")
        #expect(second.data?["metadata"] == ["a": 1])
        #expect(second.data?["version"] == 2)
        #expect(second.data?["space_id"] == "s")
        #expect(second.data?["created_at"] == first["created_at"])
        let third = try tenant.call("PUT", "/v1/memories/m1", ["metadata": ["b": true]])
        #expect(third.data?["text"] == "v2")
        #expect(third.data?["metadata"] == ["b": true])
        #expect(third.data?["version"] == 3)

        let history = try tenant.call("GET", "/v1/memories/m1/history")
        #expect(history.status == 200)
        let versions = try #require(history.data?["versions"]?.arrayValue)
        #expect(versions.map { $0["version"] } == [3, 2, 1])
        #expect(versions.map { $0["text"] } == ["v2", "v2", "v1"])
        #expect(versions.map { $0["is_current"] } == [true, false, false])
        #expect(versions[0]["superseded_at"] == .null)
        #expect(versions[0].objectValue?.keys == ["version", "text", "metadata", "valid_from", "superseded_at", "is_current", "request_id", "key_prefix"])
        #expect(versions[1]["superseded_at"] == versions[0]["valid_from"])
        #expect(versions[2]["superseded_at"] == versions[1]["valid_from"])
        #expect(versions[2]["valid_from"] == first["created_at"])
        #expect(versions[0]["valid_from"] == third.data?["updated_at"])
        #expect(versions.allSatisfy { $0["key_prefix"]?.stringValue == String(tenant.key.prefix(12)) })
        #expect(versions.allSatisfy { $0["request_id"]?.stringValue?.hasPrefix("req_") == true })
        #expect(versions[0]["request_id"]?.stringValue == third.json?["meta"]?["request_id"]?.stringValue)
    }

    @Test func updateStoresTheRequestIDOfEachVersion() throws {
        let tenant = try MemoryTestTenant()
        _ = try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "a", "memory_id": "r"],
                                   headers: [("X-Request-ID", "lb-create-1")])
        _ = try tenant.client.call("PUT", "/v1/memories/r", key: tenant.key, json: ["text": "b"],
                                   headers: [("X-Request-ID", "lb-update-2")])
        let versions = try #require(try tenant.call("GET", "/v1/memories/r/history").data?["versions"]?.arrayValue)
        #expect(versions.map { $0["request_id"] } == ["lb-update-2", "lb-create-1"])
    }

    @Test func updateValidation() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "t", "memory_id": "u"])
        for body: JSONValue in [[:], ["space_id": "x"], ["text": nil, "metadata": nil]] {
            let response = try tenant.call("PUT", "/v1/memories/u", body)
            #expect(response.status == 400, "\(body)")
        }
        let long = try tenant.call("PUT", "/v1/memories/u", ["text": .string(String(repeating: "a", count: 50_001))])
        #expect(long.status == 400)
        #expect(detailFields(long) == ["text"])
        let nested = try tenant.call("PUT", "/v1/memories/u", ["metadata": ["a": ["b": 1]]])
        #expect(detailFields(nested) == ["metadata"])
        #expect(try tenant.call("GET", "/v1/memories/u").data?["version"] == 1)
    }

    @Test func concurrentUpdatesKeepVersionsConsecutive() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "start", "memory_id": "busy"])
        let writers = 8
        DispatchQueue.concurrentPerform(iterations: writers) { index in
            let client = MemoryTestGateway.shared.client()
            _ = try? client.call("PUT", "/v1/memories/busy", key: tenant.key, json: ["text": .string("writer \(index)")])
        }
        let current = try tenant.call("GET", "/v1/memories/busy")
        #expect(current.data?["version"] == .int(writers + 1))
        let versions = try #require(try tenant.call("GET", "/v1/memories/busy/history").data?["versions"]?.arrayValue)
        #expect(versions.compactMap { $0["version"]?.intValue } == Array((1...(writers + 1)).reversed()))
        for (newer, older) in zip(versions, versions.dropFirst()) {
            #expect(older["superseded_at"] == newer["valid_from"])
        }
    }

    @Test func asOfShowsTheVersionCurrentAtThatInstant() throws {
        let tenant = try MemoryTestTenant()
        let first = try tenant.create(["text": "one", "memory_id": "t"])
        let created = try #require(first["updated_at"]?.stringValue)
        Thread.sleep(forTimeInterval: 0.01)  // so the versions do not share a millisecond
        let second = try #require(try tenant.call("PUT", "/v1/memories/t", ["text": "two"]).data)
        let updated = try #require(second["updated_at"]?.stringValue)
        #expect(updated > created)

        let atCreation = try tenant.call("GET", "/v1/memories/t?as_of=\(created)")
        #expect(atCreation.status == 200)
        #expect(atCreation.data?["text"] == "one")
        #expect(atCreation.data?["version"] == 1)
        #expect(atCreation.data?["updated_at"]?.stringValue == created)
        let atUpdate = try tenant.call("GET", "/v1/memories/t?as_of=\(updated)")
        #expect(atUpdate.data?["text"] == "two")
        #expect(atUpdate.data?["version"] == 2)
        // An offset, percent-encoded or not (an unencoded `+` arrives as a space).
        let offsetForm = created.replacingOccurrences(of: "Z", with: "+00:00")
        #expect(try tenant.call("GET", "/v1/memories/t?as_of=\(offsetForm)").data?["version"] == 1)
        let encoded = offsetForm.replacingOccurrences(of: "+", with: "%2B")
        #expect(try tenant.call("GET", "/v1/memories/t?as_of=\(encoded)").data?["version"] == 1)
        let later = try tenant.call("GET", "/v1/memories/t?as_of=2999-01-01T00:00:00Z")
        #expect(later.data?["version"] == 2)
        // An offset form of the same instant.
        let date = try #require(UTCDate.parseTimestamp(created))
        let justBefore = UTCDate.timestamp(date.addingTimeInterval(-0.0015))
        let before = try tenant.call("GET", "/v1/memories/t?as_of=\(justBefore)")
        #expect(before.status == 404)
        #expect(before.errorCode == "not_found")
        #expect(try tenant.call("GET", "/v1/memories/t?as_of=2000-01-01T00:00:00%2B02:00").status == 404)

        for bad in ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01", ""] {
            let response = try tenant.call("GET", "/v1/memories/t?as_of=\(bad)")
            #expect(response.status == 400, "\(bad)")
            #expect(detailFields(response) == ["as_of"], "\(bad)")
        }
        #expect(try tenant.call("GET", "/v1/memories/nope?as_of=\(created)").status == 404)
    }

    @Test func deleteRemovesTheMemoryAndItsHistory() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "a", "memory_id": "d"])
        try tenant.call("PUT", "/v1/memories/d", ["text": "b"])
        let deleted = try tenant.call("DELETE", "/v1/memories/d")
        #expect(deleted.status == 200)
        #expect(deleted.data == ["id": "d", "deleted": true])
        #expect(try tenant.call("GET", "/v1/memories/d").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/d/history").status == 404)
        #expect(try tenant.call("DELETE", "/v1/memories/d").status == 404)
        // The id is free again, and starts over at version 1 with a fresh history.
        let again = try tenant.create(["text": "c", "memory_id": "d"])
        #expect(again["version"] == 1)
        let versions = try tenant.call("GET", "/v1/memories/d/history").data?["versions"]?.arrayValue
        #expect(versions?.count == 1)
    }

    @Test func deleteForgetsIdempotentReplaysOfTheMemory() throws {
        let tenant = try MemoryTestTenant()
        let headers = [("Idempotency-Key", "create-once")]
        let first = try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "a", "memory_id": "idem"], headers: headers)
        #expect(first.status == 201)
        let replay = try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "a", "memory_id": "idem"], headers: headers)
        #expect(replay.header("Idempotent-Replayed") == "true")
        #expect(try tenant.call("DELETE", "/v1/memories/idem").status == 200)
        let fresh = try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "a", "memory_id": "idem"], headers: headers)
        #expect(fresh.status == 201)
        #expect(fresh.header("Idempotent-Replayed") == nil)
        #expect(try tenant.call("GET", "/v1/memories/idem").status == 200)
    }

    @Test func anotherTenantCannotSeeOrChangeAMemory() throws {
        let alice = try MemoryTestTenant()
        let bob = try MemoryTestTenant()
        try alice.create(["text": "secret", "memory_id": "shared-id"])
        #expect(try bob.call("GET", "/v1/memories/shared-id").status == 404)
        #expect(try bob.call("GET", "/v1/memories/shared-id?as_of=2999-01-01T00:00:00Z").status == 404)
        #expect(try bob.call("GET", "/v1/memories/shared-id/history").status == 404)
        #expect(try bob.call("PUT", "/v1/memories/shared-id", ["text": "mine"]).status == 404)
        #expect(try bob.call("DELETE", "/v1/memories/shared-id").status == 404)
        #expect(try bob.call("GET", "/v1/memories").data?["memories"]?.arrayValue?.isEmpty == true)
        #expect(try bob.call("GET", "/v1/memories/count").data?["count"] == 0)
        #expect(try bob.call("DELETE", "/v1/memories?confirm=true").data?["deleted"] == 0)
        // The same id is free for another tenant.
        #expect(try bob.call("POST", "/v1/memories", ["text": "bob's", "memory_id": "shared-id"]).status == 201)
        let mine = try alice.call("GET", "/v1/memories/shared-id")
        #expect(mine.data?["text"] == "secret")
        #expect(mine.data?["version"] == 1)
    }

    @Test func testKeysSeeOnlyTestMemories() throws {
        let tenant = try MemoryTestTenant()
        let testKey = try tenant.key(environment: "test")
        try tenant.create(["text": "live one", "memory_id": "env-id", "space_id": "live-space"])
        #expect(try tenant.call("GET", "/v1/memories/env-id", key: testKey).status == 404)
        #expect(try tenant.call("PUT", "/v1/memories/env-id", ["text": "x"], key: testKey).status == 404)
        #expect(try tenant.call("DELETE", "/v1/memories/env-id", key: testKey).status == 404)
        #expect(try tenant.call("GET", "/v1/memories", key: testKey).data?["memories"]?.arrayValue?.isEmpty == true)
        #expect(try tenant.call("GET", "/v1/spaces/live-space", key: testKey).status == 404)
        let testMemory = try tenant.call("POST", "/v1/memories", ["text": "test one", "memory_id": "env-id"], key: testKey)
        #expect(testMemory.status == 201)
        #expect(try tenant.call("GET", "/v1/memories/env-id", key: testKey).data?["text"] == "test one")
        #expect(try tenant.call("GET", "/v1/memories/env-id").data?["text"] == "live one")
        #expect(try tenant.call("GET", "/v1/memories/count", key: testKey).data?["count"] == 1)
        let export = try tenant.call("GET", "/v1/memories/export", key: testKey)
        #expect(export.text.split(separator: "\n").count == 1)
        #expect(export.text.contains("test one"))
    }

    @Test func scopesAreEnforced() throws {
        let tenant = try MemoryTestTenant()
        let reader = try tenant.key(scopes: ["read"])
        try tenant.create(["text": "t", "memory_id": "sc"])
        #expect(try tenant.call("GET", "/v1/memories/sc", key: reader).status == 200)
        let write = try tenant.call("POST", "/v1/memories", ["text": "x"], key: reader)
        #expect(write.status == 403)
        #expect(write.errorCode == "insufficient_scope")
        #expect(try tenant.call("DELETE", "/v1/memories/sc", key: reader).status == 403)
    }

    @Test func hardMemoryQuotaRefusesWholeWrites() throws {
        let tenant = try MemoryTestTenant(plan: "free")
        // Free plan: 1,000 memories, 10 requests per minute.
        let items = JSONValue.array((0..<999).map { .object(JSONObject([("text", .string("m\($0)"))])) })
        let batch = try tenant.call("POST", "/v1/memories/batch", ["memories": items])
        #expect(batch.status == 201)
        let overBatch = try tenant.call("POST", "/v1/memories/batch", ["memories": [["text": "a"], ["text": "b"]]])
        #expect(overBatch.status == 429)
        #expect(overBatch.errorCode == "quota_exceeded")
        #expect(try tenant.call("POST", "/v1/memories", ["text": "the last one"]).status == 201)
        let over = try tenant.call("POST", "/v1/memories", ["text": "one too many"])
        #expect(over.status == 429)
        #expect(over.errorCode == "quota_exceeded")
        #expect(over.json?["error"]?["retry_after"] == .null)
        #expect(over.header("Retry-After") == nil)
        // Test memories never count.
        let testKey = try tenant.key(environment: "test")
        #expect(try tenant.call("POST", "/v1/memories", ["text": "test"], key: testKey).status == 201)
    }
}
