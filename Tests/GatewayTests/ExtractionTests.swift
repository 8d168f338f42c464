import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// `StatementSplitter`: lines, sentences, conversation speakers.
@Suite struct ExtractionSplitterTests {
    @Test func splitsLinesThenSentencesKeepingPunctuation() {
        let content = "I like tea. I live in Paris!  Do I?Yes\r\nSecond line\rThird.\n\n   \n  Wow!! Really?! Ok.  "
        #expect(StatementSplitter.statements(in: content, conversation: false) == [
            "I like tea.", "I live in Paris!", "Do I?Yes", "Second line", "Third.", "Wow!!", "Really?!", "Ok.",
        ])
        #expect(StatementSplitter.statements(in: "Pi is 3.14 today. e.g. this", conversation: false)
                == ["Pi is 3.14 today.", "e.g.", "this"])
        #expect(StatementSplitter.statements(in: " \n\t ", conversation: false).isEmpty)
        #expect(StatementSplitter.statements(in: "Tab.\tNext", conversation: false) == ["Tab.", "Next"])
    }

    @Test func conversationKeepsOnlyTheUsersLines() {
        let content = """
            User: I like tea. I hate coffee.
            Assistant: Noted: tea.
            HUMAN : I live in Paris
            me:   Call me Al!
            no label here
            Bob: I am Bob
            Userx: not a user
            user:
            """
        #expect(StatementSplitter.statements(in: content, conversation: true) == [
            "I like tea.", "I hate coffee.", "I live in Paris", "Call me Al!",
        ])
    }
}

/// `POST /v1/query/extract` end to end.
@Suite struct ExtractionTests {
    let gateway = TestGateway.shared

    func tenant(plan: String = "professional") throws -> (seed: QuerySeed, key: String) {
        let tenant = try gateway.createTenant(plan: plan)
        return (QuerySeed(gateway: gateway, orgID: tenant.orgID), tenant.key)
    }

    func extract(_ key: String, _ body: [(String, JSONValue)]) throws -> TestResponse {
        try gateway.client().call("POST", "/v1/query/extract", key: key, json: .object(JSONObject(body)))
    }

    func texts(_ response: TestResponse) -> [String] {
        response.data?["extracted_memories"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
    }

    @Test func createsOneMemoryPerStatement() throws {
        let (seed, key) = try tenant()
        let response = try extract(key, [("content", "I like tea. I live in Paris!\nMy dog is Rex")])
        #expect(response.status == 201)
        #expect(response.header("Location") == nil)
        let data = try #require(response.data)
        #expect(data["memories_created"] == 3)
        #expect(data["duplicates_skipped"] == 0)
        #expect(texts(response) == ["I like tea.", "I live in Paris!", "My dog is Rex"])
        let ids = data["memory_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(ids.count == 3)
        #expect(ids.allSatisfy { $0.hasPrefix("mem_") })
        #expect(data["extracted_memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ids)
        let stored = try seed.stored()
        #expect(Set(stored.map(\.id)) == Set(ids))
        #expect(stored.allSatisfy { $0.source == "extraction" && $0.space == nil && $0.metadata == "{}" })
        #expect(stored.allSatisfy { $0.keyPrefix == String(key.prefix(12)) })
        #expect(stored.allSatisfy { $0.requestID == response.header("X-Request-ID") })
        // The new memories are searchable.
        let found = try gateway.client().call("POST", "/v1/query", key: key, json: ["context": "Paris"])
        #expect(found.data?["memories"]?[0]?["text"] == "I live in Paris!")
    }

    @Test func conversationModeKeepsTheUsersLines() throws {
        let (_, key) = try tenant()
        let content = "User: I love jazz.\nAssistant: Great, jazz it is.\nHuman: My cat is Tom\nnarration line\nME: Bye!"
        let response = try extract(key, [("content", .string(content)), ("content_type", "conversation")])
        #expect(response.status == 201)
        #expect(texts(response) == ["I love jazz.", "My cat is Tom", "Bye!"])
        let asText = try extract(key, [("content", "Assistant: Great, jazz it is."), ("content_type", "text")])
        #expect(texts(asText) == ["Assistant: Great, jazz it is."])
    }

    @Test func duplicatesAreSkippedIgnoringCaseSpaceAndPunctuation() throws {
        let (seed, key) = try tenant()
        try seed.insert("existing", "I like  TEA")
        let response = try extract(key, [("content", "i like tea! I like tea.\nMy  car is RED. my car is red\nNew fact.")])
        #expect(response.status == 201)
        #expect(texts(response) == ["My  car is RED.", "New fact."])
        #expect(response.data?["duplicates_skipped"] == 3)
        #expect(response.data?["memories_created"] == 2)
        let again = try extract(key, [("content", "new FACT!!! My car, is red")])
        #expect(again.data?["memories_created"] == 0)
        #expect(again.data?["duplicates_skipped"] == 2)
        #expect(again.data?["memory_ids"]?.arrayValue?.isEmpty == true)
        #expect(again.data?["extracted_memories"]?.arrayValue?.isEmpty == true)
        #expect(try seed.stored().count == 3)
    }

    @Test func dedupeIsScopedToTheSpace() throws {
        let (seed, key) = try tenant()
        let first = try extract(key, [("content", "Shared fact."), ("space_id", "alpha"), ("metadata", ["topic": "x", "n": 2])])
        #expect(first.data?["memories_created"] == 1)
        let other = try extract(key, [("content", "Shared fact."), ("space_id", "beta")])
        #expect(other.data?["memories_created"] == 1)
        let none = try extract(key, [("content", "Shared fact.")])
        #expect(none.data?["memories_created"] == 1)
        let repeatAlpha = try extract(key, [("content", "shared fact"), ("space_id", "alpha")])
        #expect(repeatAlpha.data?["memories_created"] == 0)
        #expect(repeatAlpha.data?["duplicates_skipped"] == 1)
        let repeatNone = try extract(key, [("content", "SHARED FACT")])
        #expect(repeatNone.data?["memories_created"] == 0)
        let stored = try seed.stored()
        #expect(stored.count == 3)
        let alpha = try #require(stored.first { $0.space == "alpha" })
        #expect(alpha.metadata.contains("\"topic\": \"x\"") && alpha.metadata.contains("\"n\": 2"))
        let spaces = try seed.pool.query("SELECT space_id FROM spaces WHERE org_id = $1 ORDER BY space_id",
                                         [.text(seed.orgID)]).compactMap { $0.string(0) }
        #expect(spaces == ["alpha", "beta"])
    }

    @Test func environmentsAndTenantsDoNotShareDedupe() throws {
        let (seed, key) = try tenant()
        let testKey = try gateway.createKey(admin: key, scopes: ["write"], environment: "test")
        #expect(try extract(key, [("content", "Same words.")]).data?["memories_created"] == 1)
        #expect(try extract(testKey.key, [("content", "Same words.")]).data?["memories_created"] == 1)
        let (_, otherKey) = try tenant()
        #expect(try extract(otherKey, [("content", "Same words.")]).data?["memories_created"] == 1)
        #expect(try seed.stored(env: "test").count == 1)
        #expect(try seed.stored().count == 1)
    }

    @Test func contentAndStatementLimits() throws {
        let (_, key) = try tenant()
        let line = String(repeating: "a", count: 39_999)
        let maximal = Array(repeating: line, count: 5).enumerated().map { "\($0.offset)\($0.element)" }.joined(separator: "\n")
        #expect(maximal.unicodeScalars.count == 200_004)
        let trimmed = String(maximal.unicodeScalars.prefix(200_000))
        let accepted = try extract(key, [("content", .string(trimmed))])
        #expect(accepted.status == 201)
        #expect(accepted.data?["memories_created"] == 5)
        let tooLong = try extract(key, [("content", .string(trimmed + "b"))])
        #expect(tooLong.status == 400)
        #expect(tooLong.json?["error"]?["details"]?[0]?["field"] == "content")
        let statement = String(repeating: "b", count: 50_001)
        let longStatement = try extract(key, [("content", .string("Short one.\n" + statement))])
        #expect(longStatement.status == 400)
        #expect(longStatement.errorCode == "invalid_request")
        let exactly = try extract(key, [("content", .string(String(repeating: "c", count: 50_000)))])
        #expect(exactly.status == 201)
        // Multibyte characters count as one each.
        let accented = try extract(key, [("content", .string(String(repeating: "é", count: 50_000)))])
        #expect(accented.status == 201)
    }

    @Test func validation() throws {
        let (_, key) = try tenant()
        let cases: [([(String, JSONValue)], String)] = [
            ([], "content"),
            ([("content", "")], "content"),
            ([("content", 7)], "content"),
            ([("content", "x"), ("content_type", "html")], "content_type"),
            ([("content", "x"), ("content_type", 1)], "content_type"),
            ([("content", "x"), ("space_id", "no spaces")], "space_id"),
            ([("content", "x"), ("metadata", "flat")], "metadata"),
            ([("content", "x"), ("metadata", ["nested": ["a": 1]])], "metadata"),
        ]
        for (body, field) in cases {
            let response = try extract(key, body)
            #expect(response.status == 400, "\(field)")
            let fields = response.json?["error"]?["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(fields.contains(field), "\(field): \(response.text)")
        }
        let nothing = try extract(key, [("content", "Assistant: hello"), ("content_type", "conversation")])
        #expect(nothing.status == 201)
        #expect(nothing.data?["memories_created"] == 0)
        #expect(nothing.data?["duplicates_skipped"] == 0)
    }

    @Test func needsTheWriteScope() throws {
        let tenant = try gateway.createTenant()
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let refused = try extract(reader.key, [("content", "A fact.")])
        #expect(refused.status == 403)
        #expect(refused.errorCode == "insufficient_scope")
    }

    @Test func hardQuotaRefusesTheWholeExtraction() throws {
        let (seed, key) = try tenant(plan: "free")
        // The free plan stores 1,000 live memories.
        _ = try seed.pool.query(
            "INSERT INTO memories (org_id, env, memory_id, text) SELECT $1, 'live', 'q' || g, 'filler ' || g FROM generate_series(1, 998) AS g",
            [.text(seed.orgID)])
        let refused = try extract(key, [("content", "One. Two. Three.")])
        #expect(refused.status == 429)
        #expect(refused.errorCode == "quota_exceeded")
        #expect(refused.json?["error"]?["retry_after"] == .null)
        #expect(try seed.stored().count == 998)
        let fits = try extract(key, [("content", "One. Two. filler 5")])
        #expect(fits.status == 201)
        #expect(fits.data?["memories_created"] == 2)
        #expect(fits.data?["duplicates_skipped"] == 1)
    }
}
