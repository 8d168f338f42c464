import Foundation
import Testing
@testable import Gateway

/// `GET /v1/memories`, `/count` and `DELETE /v1/memories?confirm=true`: filters, paging, cursors,
/// erasure.
@Suite struct MemoriesListTests {
    private func ids(_ response: TestResponse) -> [String] {
        response.data?["memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    /// Creates `count` memories in one batch with ids `prefix000`…; returns the ids in request order.
    @discardableResult
    private func seed(_ tenant: MemoryTestTenant, _ count: Int, prefix: String, extra: [(String, JSONValue)] = []) throws -> [String] {
        let ids = (0..<count).map { prefix + String(format: "%03d", $0) }
        let items = JSONValue.array(ids.map { .object(JSONObject([("text", .string("text \($0)")), ("memory_id", .string($0))] + extra)) })
        let response = try tenant.call("POST", "/v1/memories/batch", ["memories": items])
        guard response.status == 201 else { throw TestClientError.io("seed failed: \(response.text)") }
        return ids
    }

    @Test func listsNewestFirstWithPaging() throws {
        let tenant = try MemoryTestTenant()
        var created: [String] = []
        for index in 0..<5 {
            created.append(try #require(try tenant.create(["text": .string("m\(index)")])["id"]?.stringValue))
        }
        let all = try tenant.call("GET", "/v1/memories")
        #expect(all.status == 200)
        #expect(all.data?.objectValue?.keys == ["memories", "page", "per_page", "has_more", "next_cursor"])
        #expect(all.data?["page"] == 1)
        #expect(all.data?["per_page"] == 50)
        #expect(all.data?["has_more"] == false)
        #expect(all.data?["next_cursor"] == .null)
        let listed = ids(all)
        #expect(Set(listed) == Set(created))
        // Newest first by (created_at DESC, memory_id DESC).
        let memories = try #require(all.data?["memories"]?.arrayValue)
        let keys = memories.map { ($0["created_at"]?.stringValue ?? "") + " " + ($0["id"]?.stringValue ?? "") }
        #expect(keys == keys.sorted(by: >))

        let page1 = try tenant.call("GET", "/v1/memories?per_page=2")
        #expect(ids(page1) == Array(listed[0..<2]))
        #expect(page1.data?["has_more"] == true)
        #expect(page1.data?["next_cursor"]?.stringValue != nil)
        let page3 = try tenant.call("GET", "/v1/memories?per_page=2&page=3")
        #expect(ids(page3) == [listed[4]])
        #expect(page3.data?["page"] == 3)
        #expect(page3.data?["has_more"] == false)
        #expect(page3.data?["next_cursor"] == .null)
        #expect(ids(try tenant.call("GET", "/v1/memories?per_page=2&page=4")).isEmpty)
        #expect(try tenant.call("GET", "/v1/memories?per_page=100").status == 200)
    }

    @Test(arguments: ["per_page=0", "per_page=101", "per_page=abc", "per_page=", "page=0", "page=-1", "page=x", "page=1.5"])
    func rejectsInvalidPaging(_ query: String) throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("GET", "/v1/memories?\(query)")
        #expect(response.status == 400)
        #expect(response.errorCode == "invalid_request")
        #expect(detailFields(response) == [String(query.prefix { $0 != "=" })])
    }

    @Test func cursorPagingIsStableUnderInserts() throws {
        let tenant = try MemoryTestTenant()
        let original = Set(try seed(tenant, 120, prefix: "orig"))
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let path = cursor.map { "/v1/memories?per_page=25&cursor=\($0)" } ?? "/v1/memories?per_page=25"
            let response = try tenant.call("GET", path)
            #expect(response.status == 200)
            if cursor != nil { #expect(response.data?["page"] == .null) }
            seen += ids(response)
            cursor = response.data?["next_cursor"]?.stringValue
            #expect((response.data?["has_more"] == true) == (cursor != nil))
            // Newer memories arrive between pages; they sort before the cursor and never show up.
            try seed(tenant, 3, prefix: "new\(pages)_")
            pages += 1
        } while cursor != nil && pages < 20
        #expect(pages == 5)
        #expect(seen.count == 120)
        #expect(Set(seen) == original)
    }

    @Test func cursorsAreBoundToTheirTenantAndEnvironment() throws {
        let alice = try MemoryTestTenant()
        let bob = try MemoryTestTenant()
        try seed(alice, 3, prefix: "a")
        try seed(bob, 3, prefix: "b")
        let cursor = try #require(try alice.call("GET", "/v1/memories?per_page=1").data?["next_cursor"]?.stringValue)
        let foreign = try bob.call("GET", "/v1/memories?cursor=\(cursor)")
        #expect(foreign.status == 400)
        #expect(detailFields(foreign) == ["cursor"])
        let testKey = try alice.key(environment: "test")
        #expect(try alice.call("GET", "/v1/memories?cursor=\(cursor)", key: testKey).status == 400)
        for bad in ["garbage", "AAAA", String(repeating: "x", count: 2000)] {
            let response = try alice.call("GET", "/v1/memories?cursor=\(bad)")
            #expect(response.status == 400)
            #expect(detailFields(response) == ["cursor"])
        }
        #expect(try alice.call("GET", "/v1/memories?cursor=\(cursor)&page=2").status == 400)
        let next = try alice.call("GET", "/v1/memories?per_page=5&cursor=\(cursor)")
        #expect(ids(next) == ["a001", "a000"])
    }

    @Test func filtersBySpaceSourceAndUpdatedSince() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "w1", "space_id": "work", "memory_id": "w1"])
        try tenant.create(["text": "w2", "space_id": "work", "memory_id": "w2"])
        try tenant.create(["text": "h1", "space_id": "home", "memory_id": "h1"])
        try tenant.create(["text": "n1", "memory_id": "n1"])
        #expect(Set(ids(try tenant.call("GET", "/v1/memories?space_id=work"))) == ["w1", "w2"])
        #expect(try tenant.call("GET", "/v1/memories/count?space_id=work").data?["count"] == 2)
        #expect(ids(try tenant.call("GET", "/v1/memories?space_id=none")).isEmpty)
        #expect(ids(try tenant.call("GET", "/v1/memories?source=api")).count == 4)
        #expect(ids(try tenant.call("GET", "/v1/memories?source=extraction")).isEmpty)
        let badSource = try tenant.call("GET", "/v1/memories?source=bogus")
        #expect(badSource.status == 400)
        #expect(detailFields(badSource) == ["source"])
        #expect(try tenant.call("GET", "/v1/memories/count?source=bogus").status == 400)
        #expect(try tenant.call("GET", "/v1/memories?space_id=a%20b").status == 400)

        Thread.sleep(forTimeInterval: 0.01)
        let updated = try #require(try tenant.call("PUT", "/v1/memories/h1", ["text": "h1 again"]).data)
        let since = try #require(updated["updated_at"]?.stringValue)
        #expect(ids(try tenant.call("GET", "/v1/memories?updated_since=\(since)")) == ["h1"])
        #expect(try tenant.call("GET", "/v1/memories/count?updated_since=\(since)").data?["count"] == 1)
        #expect(try tenant.call("GET", "/v1/memories/count?updated_since=2999-01-01T00:00:00Z").data?["count"] == 0)
        let badSince = try tenant.call("GET", "/v1/memories?updated_since=today")
        #expect(badSince.status == 400)
        #expect(detailFields(badSince) == ["updated_since"])
        #expect(try tenant.call("GET", "/v1/memories?updated_since=today&source=x&per_page=0").json?["error"]?["details"]?.arrayValue?.count == 3)
    }

    @Test func metadataFiltersMatchStringsAndTheScalarsTheySpell() throws {
        let tenant = try MemoryTestTenant()
        let rows: [(String, JSONValue)] = [
            ("num3", ["score": 3, "kind": "a"]),
            ("str3", ["score": "3", "kind": "b"]),
            ("num4", ["score": 4, "kind": "a"]),
            ("dec3", ["score": 3.0]),
            ("btrue", ["flag": true]),
            ("strue", ["flag": "true"]),
            ("bfalse", ["flag": false]),
            ("null", ["x": nil]),
            ("snull", ["x": "null"]),
            ("tags", ["tags": ["red", 3]]),
            ("plain", ["note": "hello world", "score": "03"]),
        ]
        for (id, metadata) in rows {
            try tenant.create(["text": .string(id), "memory_id": .string(id), "metadata": metadata])
        }
        func matches(_ query: String) throws -> Set<String> {
            let response = try tenant.call("GET", "/v1/memories?\(query)")
            #expect(response.status == 200, "\(query)")
            return Set(ids(response))
        }
        #expect(try matches("metadata.score=3") == ["num3", "str3", "dec3"])
        #expect(try matches("metadata.score=03") == ["plain"])
        #expect(try matches("metadata.score=4") == ["num4"])
        #expect(try matches("metadata.kind=a") == ["num3", "num4"])
        #expect(try matches("metadata.score=3&metadata.kind=a") == ["num3"])
        #expect(try matches("metadata.score=3&metadata.kind=c").isEmpty)
        #expect(try matches("metadata.flag=true") == ["btrue", "strue"])
        #expect(try matches("metadata.flag=false") == ["bfalse"])
        #expect(try matches("metadata.x=null") == ["null", "snull"])
        #expect(try matches("metadata.note=hello%20world") == ["plain"])
        #expect(try matches("metadata.note=hello+world") == ["plain"])
        #expect(try matches("metadata.note=hello").isEmpty)
        #expect(try matches("metadata.missing=3").isEmpty)
        #expect(try matches("metadata.tags=red") == ["tags"])
        #expect(try matches("metadata.tags=3") == ["tags"])
        #expect(try tenant.call("GET", "/v1/memories/count?metadata.score=3").data?["count"] == 3)
        #expect(try tenant.call("GET", "/v1/memories/count?metadata.flag=true&metadata.x=null").data?["count"] == 0)
    }

    @Test func countMatchesTheFilters() throws {
        let tenant = try MemoryTestTenant()
        #expect(try tenant.call("GET", "/v1/memories/count").data == ["count": 0])
        try seed(tenant, 7, prefix: "c", extra: [("space_id", "s1")])
        try seed(tenant, 4, prefix: "d")
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 11)
        #expect(try tenant.call("GET", "/v1/memories/count?space_id=s1").data?["count"] == 7)
        #expect(try tenant.call("HEAD", "/v1/memories/count").status == 200)
    }

    @Test func erasureNeedsConfirmation() throws {
        let tenant = try MemoryTestTenant()
        try seed(tenant, 2, prefix: "e")
        for query in ["", "?confirm=false", "?confirm=1", "?space_id=x"] {
            let response = try tenant.call("DELETE", "/v1/memories\(query)")
            #expect(response.status == 400, "\(query)")
            #expect(detailFields(response).contains("confirm"))
        }
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 2)
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true&source=nope").status == 400)
        let reader = try tenant.key(scopes: ["read", "write"])
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true", key: reader).status == 403)
    }

    @Test func erasureByFiltersDeletesHistoryAndIsAudited() throws {
        let tenant = try MemoryTestTenant()
        try seed(tenant, 5, prefix: "work", extra: [("space_id", "work"), ("metadata", ["team": "x"])])
        try seed(tenant, 3, prefix: "home", extra: [("space_id", "home"), ("metadata", ["team": "x"])])
        try tenant.call("PUT", "/v1/memories/work000", ["text": "edited"])

        let erased = try tenant.call("DELETE", "/v1/memories?confirm=true&space_id=work")
        #expect(erased.status == 200)
        #expect(erased.data == ["deleted": 5])
        #expect(try tenant.call("GET", "/v1/memories/work000/history").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 3)
        // The id can be reused without old versions resurfacing.
        try tenant.create(["text": "new", "memory_id": "work000"])
        #expect(try tenant.call("GET", "/v1/memories/work000/history").data?["versions"]?.arrayValue?.count == 1)

        let events = try #require(try tenant.call("GET", "/v1/account/audit-log").data?["events"]?.arrayValue)
        let event = try #require(events.first { $0["action"] == "memories.erased" })
        #expect(event["target"] == ["type": "memories", "id": "work"])
        #expect(event["details"] == ["deleted": 5])
        #expect(event["actor_key_prefix"]?.stringValue == String(tenant.key.prefix(12)))
        #expect(event["request_id"]?.stringValue == erased.json?["meta"]?["request_id"]?.stringValue)

        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true&metadata.team=x&space_id=home").data == ["deleted": 3])
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true").data == ["deleted": 1])
        let all = try #require(try tenant.call("GET", "/v1/account/audit-log").data?["events"]?.arrayValue)
        let erasures = all.filter { $0["action"] == "memories.erased" }
        #expect(erasures.count == 3)
        #expect(erasures.first?["target"] == ["type": "memories", "id": nil])
        #expect(erasures.first?["details"] == ["deleted": 1])
    }

    @Test func erasureByUpdatedBeforeIsExclusive() throws {
        let tenant = try MemoryTestTenant()
        let old = try tenant.create(["text": "old", "memory_id": "old"])
        Thread.sleep(forTimeInterval: 0.01)
        let new = try tenant.create(["text": "new", "memory_id": "new"])
        let cut = try #require(new["updated_at"]?.stringValue)
        #expect(cut > (old["updated_at"]?.stringValue ?? ""))
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true&updated_before=\(cut)").data == ["deleted": 1])
        #expect(ids(try tenant.call("GET", "/v1/memories")) == ["new"])
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true&updated_before=bad").status == 400)
    }

    @Test func erasureForgetsReplaysShowingErasedMemories() throws {
        let tenant = try MemoryTestTenant()
        let headers = [("Idempotency-Key", "k-erase")]
        let body: JSONValue = ["text": "a", "memory_id": "gone", "space_id": "tmp"]
        #expect(try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: body, headers: headers).status == 201)
        #expect(try tenant.call("DELETE", "/v1/memories?confirm=true&space_id=tmp").data == ["deleted": 1])
        let retry = try tenant.client.call("POST", "/v1/memories", key: tenant.key, json: body, headers: headers)
        #expect(retry.status == 201)
        #expect(retry.header("Idempotent-Replayed") == nil)
        #expect(try tenant.call("GET", "/v1/memories/gone").status == 200)
    }
}
