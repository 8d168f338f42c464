import Auth
import Foundation
import HTTPServer
import PostgresStore
import Testing

@testable import Gateway

/// Row decoders read their select lists by column name, and memory metadata is passed through as
/// PostgreSQL's `jsonb` text, compacted to exactly the bytes parsing and writing it would give.
@Suite struct RowDecoderTests {
    let gateway = TestGateway.shared
    var pool: PostgresPool { gateway.running.services.pool }

    /// A memory with metadata that needs escaping, spaces in strings and numbers kept as written.
    func createMemory() throws -> (orgID: String, memoryID: String) {
        let tenant = try gateway.createTenant()
        let metadata: JSONValue = [
            "zeta": ["a b", "quote \" and \\ backslash", "tab\there", "line\nbreak", "é 中 😀", "\u{1}"],
            "n": [1, try JSONParser.parse(Array("2.50".utf8)), -0.0, 1e20, -7],
            "flags": [nil, true, false],
            "": "empty key",
        ]
        let response = try gateway.client().call("POST", "/v1/memories", key: tenant.key,
                                                 json: ["text": "has  two spaces", "metadata": metadata,
                                                        "memory_id": "mem_rows", "space_id": "spc_rows"])
        #expect(response.status == 201)
        return (tenant.orgID, "mem_rows")
    }

    @Test func memoryRowReadsItsColumnsByNameWhateverTheirOrder() throws {
        let memory = try createMemory()
        let condition = "FROM memories m WHERE m.org_id = $1 AND m.memory_id = $2"
        let parameters: [PostgresValue] = [.text(memory.orgID), .text(memory.memoryID)]
        let declared = try #require(try pool.query("SELECT \(MemoryRow.selectList) \(condition)", parameters).first)
        let reversedList = MemoryRow.selectList.components(separatedBy: ", ").reversed().joined(separator: ", ")
        let reordered = try #require(
            try pool.query("SELECT 7 AS other, \(reversedList), 'x' AS more \(condition)", parameters).first)
        let row = MemoryRow(declared)
        #expect(MemoryRow(reordered) == row)
        #expect(row.id == memory.memoryID)
        #expect(row.text == "has  two spaces")
        #expect(row.spaceID == "spc_rows")
        #expect(row.version == 1)
        #expect(row.expiresAt == nil)
    }

    @Test func aMemoryIsWrittenWithTheBytesOfItsParsedForm() throws {
        let memory = try createMemory()
        let rows = try pool.query("SELECT \(MemoryRow.selectList) FROM memories m WHERE m.org_id = $1",
                                  [.text(memory.orgID)])
        let row = MemoryRow(try #require(rows.first))
        #expect(row.metadata.contains(", "))  // jsonb text output: the pass-through has spaces to drop
        #expect(row.jsonBytes == JSONValue.object(row.json).jsonBytes)
        var extended: [UInt8] = []
        row.write(into: &extended) { $0.append(contentsOf: #","versions":[]"#.utf8) }
        var expected = row.json
        expected["versions"] = .array([])
        #expect(extended == JSONValue.object(expected).jsonBytes)
    }

    @Test func theResponsesOfGetListAndHistoryCarryTheStoredMetadataCompact() throws {
        let tenant = try gateway.createTenant()
        let metadata: JSONValue = ["bb": ["x y", try JSONParser.parse(Array("2.50".utf8))], "c": "v\n", "a": 1]
        let client = gateway.client()
        let created = try client.call("POST", "/v1/memories", key: tenant.key,
                                      json: ["text": "t", "metadata": metadata, "memory_id": "m1"])
        #expect(created.status == 201)
        // jsonb orders keys (shorter first, then bytewise) and keeps the number's text.
        let expected = #""metadata":{"a":1,"c":"v\n","bb":["x y",2.50]}"#
        let updated = try client.call("PUT", "/v1/memories/m1", key: tenant.key, json: ["text": "t2"])
        let asOf = try #require(created.data?["updated_at"]?.stringValue)
        for response in [
            created, updated, try client.call("GET", "/v1/memories/m1", key: tenant.key),
            try client.call("GET", "/v1/memories/m1?as_of=\(asOf)", key: tenant.key),
            try client.call("GET", "/v1/memories", key: tenant.key),
            try client.call("GET", "/v1/memories/m1/history", key: tenant.key),
        ] {
            #expect(response.status == 200 || response.status == 201)
            #expect(String(decoding: response.body, as: UTF8.self).contains(expected))
        }
    }

    /// Random documents through PostgreSQL's `jsonb`: compacting its text gives the bytes of
    /// parsing and writing it, for every one.
    @Test func compactingJSONBTextEqualsParsingAndWriting() throws {
        var generator = SeededGenerator(state: 14)
        var documents: [String] = [
            #"{"a": 1, "b": [1, 2, {"c": "d e"}], "f": {"": " : , "}}"#, "[]", "{}", #""  spaced  ""#, "0", "-1.50e3",
            #"{"esc": "\"\\\/\b\f\n\r\t\u0001\u001f\u007f\u00e9\ud83d\ude00"}"#, "[null, true, false]",
        ]
        for _ in 0..<300 { documents.append(JSONValue.object(Self.randomObject(depth: 0, &generator)).jsonString) }
        let rows = try pool.query(
            "SELECT d::jsonb::text AS metadata FROM unnest($1::text[]) WITH ORDINALITY AS u(d, ord) ORDER BY ord",
            [.textArray(documents)])
        #expect(rows.count == documents.count)
        for row in rows {
            let text = try #require(row.string("metadata"))
            var compacted: [UInt8] = []
            JSONWriter.appendCompacting(json: text, into: &compacted)
            #expect(compacted == (try JSONParser.parse(Array(text.utf8))).jsonBytes, "\(text)")
        }
    }

    static func randomObject(depth: Int, _ generator: inout SeededGenerator) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<Int.random(in: 0...5, using: &generator) {
            object[randomString(&generator)] = randomValue(depth: depth + 1, &generator)
        }
        return object
    }

    static func randomValue(depth: Int, _ generator: inout SeededGenerator) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            let texts = ["0", "-0", "7", "2.50", "1e3", "-1.25E-7", "123456789012345678901234567890", "0.000001"]
            let text = texts.randomElement(using: &generator) ?? "0"
            return (try? JSONParser.parse(Array(text.utf8))) ?? .null
        case 3: return .string(randomString(&generator))
        case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1, &generator) })
        default: return .object(randomObject(depth: depth, &generator))
        }
    }

    /// Strings with what escaping and compaction must get right: quotes, backslashes, controls,
    /// spaces, separators and non-ASCII (no NUL: `jsonb` refuses it).
    static func randomString(_ generator: inout SeededGenerator) -> String {
        let pieces = ["a", " ", "\"", "\\", "\n", "\t", "\u{1}", "\u{1F}", "\u{7F}", ":", ",", "{", "]", "é", "中", "😀", "/", "\\\""]
        return (0..<Int.random(in: 0...6, using: &generator)).map { _ in pieces.randomElement(using: &generator) ?? "" }
            .joined()
    }

    @Test(arguments: ["read", "write", "delete", "admin"])
    func theFusedGetChecksTheScopeItsRouteDeclares(name: String) throws {
        let scope = try #require(ScopeSet(name: name))
        let request = HTTPRequest(method: "GET", target: "/v1/memories/mem_1")
        let prepared = try #require(Memories.fusedGet.prepare(request, ["id": "mem_1"], scope))
        #expect(prepared.sql.contains("'\(name)' = ANY (a.scopes)"))
        for other in ScopeSet.canonical where other.name != name {
            #expect(!prepared.sql.contains("'\(other.name)' = ANY"))
        }
    }

    @Test func theReadRoutesAdmissionConditionIsUnchanged() {
        #expect(FusedOperation.admitted(.read) == "a.outcome = 'ok' AND 'read' = ANY (a.scopes)")
        #expect(FusedOperation.admitted([.read, .write])
                    == "a.outcome = 'ok' AND 'read' = ANY (a.scopes) AND 'write' = ANY (a.scopes)")
    }
}
