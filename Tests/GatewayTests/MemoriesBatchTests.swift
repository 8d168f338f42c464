import Foundation
import Testing
@testable import Gateway

/// `POST /v1/memories/batch` (import) and `GET /v1/memories/export` (NDJSON).
@Suite struct MemoriesBatchTests {
    private func items(_ pairs: [(String?, String)]) -> JSONValue {
        .array(pairs.map { id, text in
            var object = JSONObject([("text", JSONValue.string(text))])
            if let id { object["memory_id"] = .string(id) }
            return .object(object)
        })
    }

    private func count(_ tenant: MemoryTestTenant) throws -> Int? {
        try tenant.call("GET", "/v1/memories/count").data?["count"]?.intValue
    }

    @Test func createsEveryItemInRequestOrder() throws {
        let tenant = try MemoryTestTenant()
        let body: JSONValue = ["memories": [
            ["text": "first", "memory_id": "b1", "metadata": ["k": 1], "space_id": "imp"],
            ["text": "second"],
            ["text": "third", "memory_id": "b3"],
        ]]
        let response = try tenant.call("POST", "/v1/memories/batch", body)
        #expect(response.status == 201)
        #expect(response.header("Location") == nil)
        let data = try #require(response.data)
        #expect(data.objectValue?.keys == ["created", "updated", "skipped", "memory_ids"])
        #expect(data["created"] == 3)
        #expect(data["updated"] == 0)
        #expect(data["skipped"] == 0)
        let ids = (data["memory_ids"]?.arrayValue ?? []).compactMap { $0.stringValue }
        #expect(ids.count == 3)
        #expect(ids[0] == "b1" && ids[2] == "b3" && ids[1].hasPrefix("mem_"))
        let first = try tenant.call("GET", "/v1/memories/b1").data
        #expect(first?["metadata"] == ["k": 1])
        #expect(first?["space_id"] == "imp")
        #expect(first?["source"] == "api")
        #expect(try tenant.call("GET", "/v1/spaces/imp").data?["memory_count"] == 1)
    }

    @Test func validatesTheEnvelopeAndEveryItem() throws {
        let tenant = try MemoryTestTenant()
        for body: JSONValue in [[:], ["memories": []], ["memories": "x"], ["memories": nil]] {
            let response = try tenant.call("POST", "/v1/memories/batch", body)
            #expect(response.status == 400, "\(body)")
            #expect(detailFields(response) == ["memories"], "\(body)")
        }
        let tooMany = try tenant.call("POST", "/v1/memories/batch", ["memories": items(Array(repeating: (nil, "t"), count: 1_001))])
        #expect(tooMany.status == 400)
        #expect(detailFields(tooMany) == ["memories"])

        let mixed: JSONValue = ["memories": [
            ["text": "fine"],
            ["text": ""],
            "not an object",
            ["text": "ok", "memory_id": "count"],
            ["text": "ok", "metadata": ["a": ["b": 1]], "space_id": "a b"],
        ], "on_conflict": "explode"]
        let response = try tenant.call("POST", "/v1/memories/batch", mixed)
        #expect(response.status == 400)
        #expect(Set(detailFields(response)) == ["on_conflict", "memories[1].text", "memories[2]", "memories[3].memory_id",
                                                "memories[4].metadata", "memories[4].space_id"])
        #expect(try count(tenant) == 0)
        let exactly = try tenant.call("POST", "/v1/memories/batch", ["memories": items(Array(repeating: (nil, "t"), count: 1_000))])
        #expect(exactly.status == 201)
        #expect(exactly.data?["created"] == 1_000)
    }

    @Test func conflictOnErrorWritesNothing() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "original", "memory_id": "taken"])
        for policy: JSONValue? in [nil, "error"] {
            var body = JSONObject([("memories", items([("new1", "a"), ("taken", "b"), (nil, "c")]))])
            if let policy { body["on_conflict"] = policy }
            let response = try tenant.call("POST", "/v1/memories/batch", .object(body))
            #expect(response.status == 409)
            #expect(response.errorCode == "conflict")
            #expect(detailFields(response) == ["memories[1].memory_id"])
        }
        #expect(try count(tenant) == 1)
        #expect(try tenant.call("GET", "/v1/memories/new1").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/taken").data?["text"] == "original")
    }

    @Test func skipLeavesExistingMemoriesAlone() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "original", "memory_id": "taken"])
        let response = try tenant.call("POST", "/v1/memories/batch", [
            "memories": items([("new1", "a"), ("taken", "b"), ("new2", "c")]), "on_conflict": "skip",
        ])
        #expect(response.status == 201)
        #expect(response.data?["created"] == 2)
        #expect(response.data?["updated"] == 0)
        #expect(response.data?["skipped"] == 1)
        #expect(response.data?["memory_ids"] == ["new1", "new2"])
        let kept = try tenant.call("GET", "/v1/memories/taken").data
        #expect(kept?["text"] == "original")
        #expect(kept?["version"] == 1)
    }

    @Test func updateReplacesAndVersionsExistingMemories() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "original", "memory_id": "taken", "metadata": ["keep": true], "space_id": "s1"])
        try tenant.create(["text": "other", "memory_id": "taken2"])
        let response = try tenant.call("POST", "/v1/memories/batch", [
            "memories": [
                ["text": "replaced", "memory_id": "taken"],
                ["text": "brand new", "memory_id": "fresh"],
                ["text": "replaced 2", "memory_id": "taken2", "metadata": ["m": 2], "space_id": "s2"],
            ],
            "on_conflict": "update",
        ])
        #expect(response.status == 201)
        #expect(response.data?["created"] == 1)
        #expect(response.data?["updated"] == 2)
        #expect(response.data?["skipped"] == 0)
        #expect(response.data?["memory_ids"] == ["taken", "fresh", "taken2"])
        let taken = try tenant.call("GET", "/v1/memories/taken").data
        #expect(taken?["text"] == "replaced")
        #expect(taken?["version"] == 2)
        #expect(taken?["metadata"] == ["keep": true])
        #expect(taken?["space_id"] == "s1")
        let taken2 = try tenant.call("GET", "/v1/memories/taken2").data
        #expect(taken2?["metadata"] == ["m": 2])
        #expect(taken2?["space_id"] == "s2")
        let versions = try #require(try tenant.call("GET", "/v1/memories/taken/history").data?["versions"]?.arrayValue)
        #expect(versions.map { $0["text"] } == ["replaced", "original"])
        #expect(versions[1]["superseded_at"] == versions[0]["valid_from"])
    }

    @Test(arguments: ["error", "skip", "update"])
    func duplicatesWithinARequestKeepTheFirstOccurrence(_ policy: String) throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/memories/batch", [
            "memories": items([("dup", "first"), ("x", "x"), ("dup", "second"), ("dup", "third")]),
            "on_conflict": .string(policy),
        ])
        #expect(response.status == 201)
        #expect(response.data?["created"] == 2)
        #expect(response.data?["updated"] == 0)
        #expect(response.data?["skipped"] == 2)
        #expect(response.data?["memory_ids"] == ["dup", "x"])
        let memory = try tenant.call("GET", "/v1/memories/dup").data
        #expect(memory?["text"] == "first")
        #expect(memory?["version"] == 1)
    }

    @Test func exportStreamsNDJSON() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "one", "memory_id": "e1", "space_id": "s"])
        try tenant.create(["text": "two", "memory_id": "e2", "metadata": ["k": "v"]])
        try tenant.call("PUT", "/v1/memories/e2", ["text": "two again"])
        try tenant.create(["text": "three", "memory_id": "e3"])

        let response = try tenant.call("GET", "/v1/memories/export")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/x-ndjson")
        #expect(response.header("Cache-Control") == "no-store")
        #expect(response.header("RateLimit-Limit") != nil)
        #expect(response.header("RateLimit-Policy") != nil)
        #expect(response.header("X-Request-ID") != nil)
        #expect(response.text.hasSuffix("\n"))
        let lines = response.text.split(separator: "\n").map { try? JSONParser.parse(String($0)) }
        #expect(lines.count == 3)
        #expect(lines.map { $0?["id"] } == ["e3", "e2", "e1"])
        #expect(lines[1]?["text"] == "two again")
        #expect(lines[1]?["version"] == 2)
        #expect(lines[1]?.objectValue?.keys == ["id", "text", "metadata", "space_id", "source", "version", "created_at", "updated_at",
                                                 "expires_at"])
        #expect(lines[1]?["versions"] == nil)
        // Each line is the memory object GET shows.
        #expect(lines[1] == (try tenant.call("GET", "/v1/memories/e2").data))

        let head = try tenant.call("HEAD", "/v1/memories/export")
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == "application/x-ndjson")
        #expect(try tenant.call("GET", "/v1/memories/count").status == 200)  // the connection is still usable

        let withHistory = try tenant.call("GET", "/v1/memories/export?include_history=true&space_id=s")
        let single = withHistory.text.split(separator: "\n")
        #expect(single.count == 1)
        let history = try tenant.call("GET", "/v1/memories/export?include_history=true")
        let parsed = history.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        #expect(parsed.count == 3)
        let versions = try #require(parsed[1]["versions"]?.arrayValue)
        #expect(versions.map { $0["version"] } == [2, 1])
        #expect(.array(versions) == (try tenant.call("GET", "/v1/memories/e2/history").data?["versions"]))
        #expect(parsed[0]["versions"]?.arrayValue?.count == 1)
    }

    @Test func exportValidatesBeforeStreaming() throws {
        let tenant = try MemoryTestTenant()
        for query in ["source=bogus", "include_history=yes", "updated_since=x", "space_id=a%20b"] {
            let response = try tenant.call("GET", "/v1/memories/export?\(query)")
            #expect(response.status == 400, "\(query)")
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.errorCode == "invalid_request")
        }
        let empty = try tenant.call("GET", "/v1/memories/export")
        #expect(empty.status == 200)
        #expect(empty.body.isEmpty)
    }

    @Test func exportCrossesFetchBatches() throws {
        let tenant = try MemoryTestTenant()
        for round in 0..<2 {
            let pairs: [(String?, String)] = (0..<600).map { (String(format: "r\(round)_%03d", $0), "memory \($0)") }
            #expect(try tenant.call("POST", "/v1/memories/batch", ["memories": items(pairs)]).status == 201)
        }
        try tenant.call("PUT", "/v1/memories/r0_000", ["text": "edited"])
        let response = try tenant.call("GET", "/v1/memories/export?include_history=true")
        let lines = response.text.split(separator: "\n")
        #expect(lines.count == 1_200)
        let ids = lines.compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue }
        #expect(Set(ids).count == 1_200)
        let edited = lines.compactMap { try? JSONParser.parse(String($0)) }.first { $0["id"] == "r0_000" }
        #expect(edited?["versions"]?.arrayValue?.count == 2)
        let filtered = try tenant.call("GET", "/v1/memories/export?updated_since=\(try #require(try tenant.call("GET", "/v1/memories/r0_000").data?["updated_at"]?.stringValue))")
        #expect(filtered.text.split(separator: "\n").count == 1)
    }
}
