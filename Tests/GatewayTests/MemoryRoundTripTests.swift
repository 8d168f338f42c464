import Foundation
import Synchronization
import Testing
@testable import Gateway

/// The import and export paths together, and paging while others write.
@Suite struct MemoryRoundTripTests {
    let gateway = TestGateway.shared

    @Test func exportEraseImportRoundTripsExactly() throws {
        let tenant = try gateway.createTenant()
        let client = gateway.client()
        let texts = ["plain ascii", "emoji 🎉🧠 and CJK 记忆 and RTL שלום", "quotes \" and \\ backslash\nnewline",
                     String(repeating: "é", count: 5000)]
        var items: [JSONValue] = []
        for (index, text) in texts.enumerated() {
            items.append(.object(JSONObject([
                ("text", .string(text)), ("memory_id", .string("rt-\(index)")),
                ("metadata", .object(JSONObject([("n", .int(index)), ("tag", .string("t\(index)")), ("ok", .bool(true)),
                                                 ("list", .array([.int(1), .string("two"), .null]))]))),
                ("space_id", index % 2 == 0 ? .string("even") : .null),
            ])))
        }
        #expect(try client.call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(items)]).status == 201)

        func export() throws -> [JSONValue] {
            let response = try client.call("GET", "/v1/memories/export", key: tenant.key)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/x-ndjson")
            return try response.text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        }
        let before = try export().sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        #expect(before.count == texts.count)

        let erased = try client.call("DELETE", "/v1/memories?confirm=true", key: tenant.key)
        #expect(erased.data?["deleted"]?.intValue == texts.count)
        #expect(try export().isEmpty)

        let reimport: [JSONValue] = before.map { memory in
            var item = JSONObject()
            item["text"] = memory["text"]
            item["memory_id"] = memory["id"]
            item["metadata"] = memory["metadata"]
            if let space = memory["space_id"], space != .null { item["space_id"] = space }
            return .object(item)
        }
        #expect(try client.call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(reimport)]).status == 201)
        let after = try export().sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        #expect(after.count == before.count)
        for (old, new) in zip(before, after) {
            for field in ["id", "text", "metadata", "space_id", "source", "version"] {
                #expect(old[field] == new[field], "\(field) of \(old["id"]?.stringValue ?? "")")
            }
        }
    }

    @Test func cursorWalkOver250WhileOthersInsert() throws {
        let tenant = try gateway.createTenant()
        let items: [JSONValue] = (0..<250).map { .object(JSONObject([("text", .string("seed \($0)")), ("memory_id", .string("s\($0)"))])) }
        #expect(try gateway.client().call("POST", "/v1/memories/batch", key: tenant.key, json: ["memories": .array(items)]).status == 201)
        let stop = Atomic<Bool>(false)
        let writer = Thread {
            let client = self.gateway.client()
            var index = 0
            while !stop.load(ordering: .relaxed) {
                _ = try? client.call("POST", "/v1/memories", key: tenant.key, json: ["text": .string("new \(index)")])
                index += 1
            }
        }
        writer.start()
        defer { stop.store(true, ordering: .relaxed) }
        var seen: [String] = []
        var cursor: String?
        let client = gateway.client()
        repeat {
            let query = cursor.map { "?per_page=17&cursor=\($0)" } ?? "?per_page=17"
            let page = try client.call("GET", "/v1/memories\(query)", key: tenant.key)
            #expect(page.status == 200)
            seen += page.data?["memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            cursor = page.data?["next_cursor"]?.stringValue
        } while cursor != nil
        stop.store(true, ordering: .relaxed)
        #expect(Set(seen).count == seen.count)  // each memory once
        let seeded = Set((0..<250).map { "s\($0)" })
        #expect(seeded.isSubset(of: Set(seen)))  // every memory that existed when the walk began
    }
}
