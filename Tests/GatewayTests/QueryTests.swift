import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// Writes memories straight into the tables (independent of the memory CRUD routes) for query
/// and extraction tests.
struct QuerySeed {
    let gateway: TestGateway
    let orgID: String
    var env = "live"

    var pool: PostgresPool { gateway.running.services.pool }

    /// Inserts a memory; `ageDays` moves created_at/updated_at into the past.
    @discardableResult
    func insert(_ id: String, _ text: String, metadata: String = "{}", space: String? = nil, ageDays: Double = 0,
                env: String? = nil) throws -> String {
        _ = try pool.query(
            """
            INSERT INTO memories (org_id, env, memory_id, text, metadata, space_id, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6::text,
                    gw_now() - make_interval(secs => $7::float8 * 86400), gw_now() - make_interval(secs => $7::float8 * 86400))
            """,
            [.text(orgID), .text(env ?? self.env), .text(id), .text(text), .jsonb(metadata),
             space.map { .text($0) } ?? .null, .double(ageDays)])
        return id
    }

    /// Rows of this tenant's memories: (id, text, metadata, space, source, request_id, key_prefix), oldest first.
    func stored(env: String? = nil) throws -> [(id: String, text: String, metadata: String, space: String?,
                                                source: String, requestID: String?, keyPrefix: String?)] {
        try pool.query(
            """
            SELECT memory_id, text, metadata::text, space_id, source, request_id, key_prefix FROM memories
             WHERE org_id = $1 AND env = $2 ORDER BY created_at, memory_id
            """, [.text(orgID), .text(env ?? self.env)]).map { row in
            (row.string(0) ?? "", row.string(1) ?? "", row.string(2) ?? "", row.string(3), row.string(4) ?? "",
             row.string(5), row.string(6))
        }
    }
}

/// `POST /v1/query`: validation, scoring rules, filters, hybrid search, temporal boost, languages,
/// `as_of`, `below_threshold`, isolation.
@Suite struct QueryTests {
    let gateway = TestGateway.shared

    /// A new tenant: a seeder for its live memories and its admin key (which may also query: the
    /// tenant's first key carries read/write/delete/admin).
    func tenant(plan: String = "professional") throws -> (seed: QuerySeed, key: String) {
        let tenant = try gateway.createTenant(plan: plan)
        return (QuerySeed(gateway: gateway, orgID: tenant.orgID), tenant.key)
    }

    func query(_ key: String, _ body: [(String, JSONValue)]) throws -> TestResponse {
        try gateway.client().call("POST", "/v1/query", key: key, json: .object(JSONObject(body)))
    }

    func memories(_ response: TestResponse) -> [JSONValue] {
        response.data?["memories"]?.arrayValue ?? []
    }

    func ids(_ response: TestResponse) -> [String] {
        memories(response).compactMap { $0["id"]?.stringValue }
    }

    func score(_ response: TestResponse, _ id: String) -> Double? {
        memories(response).first { $0["id"]?.stringValue == id }?["relevance_score"]?.doubleValue
    }

    @Test func fullMatchesScoreAtLeastHalfPartialBelowNoneNever() throws {
        let (seed, key) = try tenant()
        try seed.insert("all", "I love Python programming in the evening")
        try seed.insert("two", "Python programming is fun")
        try seed.insert("one", "A python is a snake")
        try seed.insert("none", "Gardening tips for spring")
        let response = try query(key, [("context", "love python programming"), ("relevance_threshold", 0)])
        #expect(response.status == 200)
        #expect(response.data?["query_context"] == "love python programming")
        #expect(Set(ids(response)) == ["all", "two", "one"])
        #expect(ids(response).first == "all")
        let all = try #require(score(response, "all"))
        let two = try #require(score(response, "two"))
        let one = try #require(score(response, "one"))
        #expect(all >= 0.5 && all <= 1)
        #expect(two > 0 && two < 0.5)
        #expect(one > 0 && one < 0.5)
        #expect(two > one)
        // Roughly proportional to the share held: 2/3 and 1/3 of 0.5.
        #expect(abs(two - 0.5 * 2 / 3) < 0.05)
        #expect(abs(one - 0.5 / 3) < 0.05)
        #expect(response.data?["below_threshold"] == nil)
        // Sorted best first.
        let scores = memories(response).compactMap { $0["relevance_score"]?.doubleValue }
        #expect(scores == scores.sorted(by: >))
    }

    @Test func defaultThresholdKeepsOnlyFullMatches() throws {
        let (seed, key) = try tenant()
        try seed.insert("all", "Python programming")
        try seed.insert("some", "Python snakes")
        let response = try query(key, [("context", "python programming")])
        #expect(ids(response) == ["all"])
        let high = try query(key, [("context", "python programming"), ("relevance_threshold", 1)])
        #expect(ids(high).isEmpty)
    }

    @Test func stopWordsOnlyReturnNothing() throws {
        let (seed, key) = try tenant()
        try seed.insert("a", "the and of it is what")
        let response = try query(key, [("context", "the and of"), ("relevance_threshold", 0), ("hybrid_search", true)])
        #expect(response.status == 200)
        #expect(ids(response).isEmpty)
        #expect(response.data?["query_context"] == "the and of")
    }

    @Test func websearchOperatorsInfluenceRankingOnly() throws {
        let (seed, key) = try tenant()
        try seed.insert("py", "Python programming")
        try seed.insert("java", "Java programming")
        let negated = try query(key, [("context", "-python")])
        #expect(ids(negated) == ["py"])
        #expect((score(negated, "py") ?? 0) >= 0.5)
        let phrase = try query(key, [("context", "\"programming python\""), ("relevance_threshold", 0)])
        #expect(ids(phrase).first == "py")
        let or = try query(key, [("context", "python OR java"), ("relevance_threshold", 0)])
        #expect(Set(ids(or)) == ["py", "java"])
        // `or` is a stop word: python and java are the terms, each memory holds one.
        #expect(memories(or).allSatisfy { ($0["relevance_score"]?.doubleValue ?? 1) < 0.5 })
        // A match of the websearch query ranks above an equal coverage that contradicts it.
        let ranked = try query(key, [("context", "python -java"), ("relevance_threshold", 0)])
        #expect(ids(ranked) == ["py", "java"])
        #expect(memories(ranked).allSatisfy { ($0["relevance_score"]?.doubleValue ?? 1) < 0.5 })
        // The negated word is still a term: the Java memory holds every term.
        let negatedTerm = try query(key, [("context", "programming -java")])
        #expect(ids(negatedTerm) == ["java"])
    }

    @Test func awkwardContextsNeverFail() throws {
        let (seed, key) = try tenant()
        try seed.insert("m", "O'Reilly wrote about C:\\path and 50% of a|b & !c")
        let contexts = ["O'Reilly", "'; DROP TABLE memories; --", "a\\b", "!!!", "& | ! ( ) : *", "\"unclosed",
                        "path:*", "日本語のテキスト", "emoji 🎉 party", "c:\\path"]
        for context in contexts {
            for hybrid in [false, true] {
                let response = try query(key, [("context", .string(context)), ("hybrid_search", .bool(hybrid)),
                                               ("relevance_threshold", 0), ("count_below_threshold", true)])
                #expect(response.status == 200, "\(context): \(response.text)")
                #expect(response.data?["query_context"] == .string(context))
            }
        }
        #expect(ids(try query(key, [("context", "O'Reilly")])) == ["m"])
    }

    @Test func maxMemoriesLimitsBestFirst() throws {
        let (seed, key) = try tenant()
        for index in 0..<5 { try seed.insert("m\(index)", "coffee note \(index)") }
        try seed.insert("best", "coffee coffee coffee")
        let response = try query(key, [("context", "coffee"), ("max_memories", 2)])
        #expect(ids(response).count == 2)
        #expect(ids(response).first == "best")
        let all = try query(key, [("context", "coffee")])
        #expect(ids(all).count == 6)
    }

    @Test func equalScoresPutNewerFirst() throws {
        let (seed, key) = try tenant()
        try seed.insert("old", "tea time", ageDays: 10)
        try seed.insert("new", "tea time", ageDays: 1)
        try seed.insert("mid", "tea time", ageDays: 5)
        let response = try query(key, [("context", "tea")])
        #expect(ids(response) == ["new", "mid", "old"])
    }

    @Test func spaceAndFiltersNarrowTheSearch() throws {
        let (seed, key) = try tenant()
        try seed.insert("work", "meeting on monday", metadata: #"{"kind":"work","tags":["a","b"],"n":3}"#, space: "office")
        try seed.insert("home", "meeting on monday", metadata: #"{"kind":"home"}"#, space: "house")
        try seed.insert("loose", "meeting on monday")
        let inSpace = try query(key, [("context", "meeting"), ("space_id", "office")])
        #expect(ids(inSpace) == ["work"])
        #expect(memories(inSpace).first?["space_id"] == "office")
        let filtered = try query(key, [("context", "meeting"), ("filters", ["kind": "home"])])
        #expect(ids(filtered) == ["home"])
        let byArray = try query(key, [("context", "meeting"), ("filters", ["tags": ["b"], "n": 3])])
        #expect(ids(byArray) == ["work"])
        let none = try query(key, [("context", "meeting"), ("filters", ["kind": "work"]), ("space_id", "house")])
        #expect(ids(none).isEmpty)
        let empty = try query(key, [("context", "meeting"), ("filters", [:])])
        #expect(ids(empty).count == 3)
    }

    @Test func itemShapeAndIncludeMetadata() throws {
        let (seed, key) = try tenant()
        try seed.insert("m1", "sailing lessons", metadata: #"{"level":"beginner"}"#)
        let with = try query(key, [("context", "sailing")])
        let item = try #require(memories(with).first)
        #expect(item["id"] == "m1")
        #expect(item["text"] == "sailing lessons")
        #expect(item["metadata"]?["level"] == "beginner")
        #expect(item["space_id"] == .null)
        #expect(item["created_at"]?.stringValue?.hasSuffix("Z") == true)
        #expect(item["relevance_score"]?.doubleValue != nil)
        let without = try query(key, [("context", "sailing"), ("include_metadata", false)])
        let bare = try #require(memories(without).first)
        if case .object(let object) = bare {
            #expect(object["metadata"] == nil)
            #expect(object["id"] == "m1")
        } else {
            Issue.record("memory is not an object")
        }
    }

    @Test func hybridSearchMatchesMisspellings() throws {
        let (seed, key) = try tenant()
        try seed.insert("py", "I write Python every day")
        let plain = try query(key, [("context", "pyhton"), ("relevance_threshold", 0)])
        #expect(ids(plain).isEmpty)
        let hybrid = try query(key, [("context", "pyhton"), ("hybrid_search", true)])
        #expect(ids(hybrid) == ["py"])
        #expect((score(hybrid, "py") ?? 0) >= 0.5)
        let exact = try query(key, [("context", "python"), ("hybrid_search", true)])
        #expect((score(exact, "py") ?? 0) > (score(hybrid, "py") ?? 1))
        let unrelated = try query(key, [("context", "zebra"), ("hybrid_search", true), ("relevance_threshold", 0)])
        #expect(ids(unrelated).isEmpty)
    }

    @Test func temporalBoostFavoursRecentButKeepsFullMatchesAboveHalf() throws {
        let (seed, key) = try tenant()
        try seed.insert("ancient", "bicycle repair shop", ageDays: 400)
        try seed.insert("old", "bicycle repair", ageDays: 60)
        try seed.insert("new", "bicycle repair", ageDays: 0)
        for boost in [0.0, 0.3, 1.0] {
            let response = try query(key, [("context", "bicycle repair"), ("temporal_boost", .double(boost))])
            #expect(Set(ids(response)) == ["ancient", "old", "new"])
            #expect(memories(response).allSatisfy { ($0["relevance_score"]?.doubleValue ?? 0) >= 0.5 })
            #expect(memories(response).allSatisfy { ($0["relevance_score"]?.doubleValue ?? 2) <= 1 })
        }
        let boosted = try query(key, [("context", "bicycle repair"), ("temporal_boost", 1)])
        #expect(ids(boosted) == ["new", "old", "ancient"])
        #expect((score(boosted, "new") ?? 0) > (score(boosted, "old") ?? 1))
        // A partial match stays below 0.5 even when brand new.
        try seed.insert("partial", "bicycle", ageDays: 0)
        let partial = try query(key, [("context", "bicycle repair"), ("temporal_boost", 1), ("relevance_threshold", 0)])
        let value = try #require(score(partial, "partial"))
        #expect(value > 0 && value < 0.5)
    }

    @Test func languageIsValidated() throws {
        let (seed, key) = try tenant()
        try seed.insert("m", "The Who played loudly")
        let unknown = try query(key, [("context", "who"), ("language", "klingon")])
        #expect(unknown.status == 400)
        #expect(unknown.errorCode == "invalid_request")
        #expect(unknown.json?["error"]?["details"]?[0]?["field"] == "language")
        let injection = try query(key, [("context", "who"), ("language", "english'; DROP TABLE memories; --")])
        #expect(injection.status == 400)
        // english drops "the" and "who" as stop words; simple keeps every word.
        let english = try query(key, [("context", "the who"), ("relevance_threshold", 0)])
        #expect(ids(english).isEmpty)
        let simple = try query(key, [("context", "the who"), ("language", "simple")])
        #expect(simple.status == 200)
        #expect(ids(simple) == ["m"])
        let german = try query(key, [("context", "played"), ("language", "german")])
        #expect(german.status == 200)
        let explicit = try query(key, [("context", "played"), ("language", "english")])
        #expect(ids(explicit) == ["m"])
    }

    @Test func asOfSearchesTheVersionsCurrentThen() throws {
        let (seed, key) = try tenant()
        try seed.insert("m", "favourite colour is green", ageDays: 0)
        // Version 1 ("blue") was current from 10 days ago until 2 days ago; the row is version 2.
        _ = try seed.pool.query(
            """
            INSERT INTO memory_versions (org_id, env, memory_id, version, text, metadata, space_id, source, created_at,
                                         valid_from, superseded_at)
            VALUES ($1, 'live', 'm', 1, 'favourite colour is blue', '{}', NULL, 'api', gw_now() - interval '10 days',
                    gw_now() - interval '10 days', gw_now() - interval '2 days')
            """, [.text(seed.orgID)])
        _ = try seed.pool.query(
            "UPDATE memories SET version = 2, created_at = gw_now() - interval '10 days', updated_at = gw_now() - interval '2 days' WHERE org_id = $1 AND memory_id = 'm'",
            [.text(seed.orgID)])
        let timeRows = try seed.pool.query(
            "SELECT gw_time(gw_now() - interval '5 days'), gw_time(gw_now() - interval '2 days'), gw_time(gw_now() - interval '20 days')")
        let fiveDaysAgo = try #require(timeRows.first?.string(0))
        let switchTime = try #require(timeRows.first?.string(1))
        let beforeCreation = try #require(timeRows.first?.string(2))

        #expect(ids(try query(key, [("context", "blue")])).isEmpty)
        #expect(ids(try query(key, [("context", "green")])) == ["m"])
        let past = try query(key, [("context", "blue"), ("as_of", .string(fiveDaysAgo))])
        #expect(ids(past) == ["m"])
        #expect(memories(past).first?["text"] == "favourite colour is blue")
        #expect(ids(try query(key, [("context", "green"), ("as_of", .string(fiveDaysAgo))])).isEmpty)
        // Inclusive at valid_from: at the switch the new version is current.
        #expect(ids(try query(key, [("context", "green"), ("as_of", .string(switchTime))])) == ["m"])
        #expect(ids(try query(key, [("context", "blue"), ("as_of", .string(switchTime))])).isEmpty)
        #expect(ids(try query(key, [("context", "colour"), ("as_of", .string(beforeCreation))])).isEmpty)
        let simple = try query(key, [("context", "blue"), ("as_of", .string(fiveDaysAgo)), ("language", "simple"),
                                     ("hybrid_search", true)])
        #expect(ids(simple) == ["m"])
    }

    @Test func belowThresholdOnlyWhenAsked() throws {
        let (seed, key) = try tenant()
        try seed.insert("full", "red apples")
        try seed.insert("half", "red cars")
        try seed.insert("other", "blue cars")
        let plain = try query(key, [("context", "red apples")])
        #expect(plain.data?["below_threshold"] == nil)
        let counted = try query(key, [("context", "red apples"), ("count_below_threshold", true)])
        #expect(ids(counted) == ["full"])
        #expect(counted.data?["below_threshold"] == 1)
        let zero = try query(key, [("context", "red apples"), ("count_below_threshold", true), ("relevance_threshold", 0)])
        #expect(zero.data?["below_threshold"] == 0)
        #expect(ids(zero).count == 2)
    }

    @Test func tenantsAndEnvironmentsAreIsolated() throws {
        let (seedA, keyA) = try tenant()
        let (seedB, keyB) = try tenant()
        try seedA.insert("shared-id", "secret launch codes")
        try seedB.insert("b-only", "public launch party")
        try seedA.insert("test-mem", "launch test data", env: "test")
        let a = try query(keyA, [("context", "launch"), ("hybrid_search", true), ("relevance_threshold", 0)])
        #expect(ids(a) == ["shared-id"])
        let b = try query(keyB, [("context", "secret launch codes"), ("hybrid_search", true), ("relevance_threshold", 0)])
        #expect(ids(b) == ["b-only"])
        let testKey = try gateway.createKey(admin: keyA, scopes: ["read"], environment: "test")
        let test = try query(testKey.key, [("context", "launch"), ("relevance_threshold", 0)])
        #expect(ids(test) == ["test-mem"])
    }

    @Test func validationListsEveryBadField() throws {
        let (_, key) = try tenant()
        let cases: [([(String, JSONValue)], String)] = [
            ([], "context"),
            ([("context", "")], "context"),
            ([("context", .string(String(repeating: "a", count: 2_001)))], "context"),
            ([("context", 5)], "context"),
            ([("context", "x"), ("max_memories", 0)], "max_memories"),
            ([("context", "x"), ("max_memories", 101)], "max_memories"),
            ([("context", "x"), ("max_memories", 2.5)], "max_memories"),
            ([("context", "x"), ("relevance_threshold", 1.01)], "relevance_threshold"),
            ([("context", "x"), ("relevance_threshold", -0.1)], "relevance_threshold"),
            ([("context", "x"), ("relevance_threshold", "0.5")], "relevance_threshold"),
            ([("context", "x"), ("include_metadata", "yes")], "include_metadata"),
            ([("context", "x"), ("space_id", "bad space")], "space_id"),
            ([("context", "x"), ("filters", ["a", "b"])], "filters"),
            ([("context", "x"), ("hybrid_search", 1)], "hybrid_search"),
            ([("context", "x"), ("temporal_boost", 2)], "temporal_boost"),
            ([("context", "x"), ("language", 3)], "language"),
            ([("context", "x"), ("as_of", "yesterday")], "as_of"),
            ([("context", "x"), ("count_below_threshold", "true")], "count_below_threshold"),
        ]
        for (body, field) in cases {
            let response = try query(key, body)
            #expect(response.status == 400, "\(field)")
            #expect(response.errorCode == "invalid_request")
            let fields = response.json?["error"]?["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(fields.contains(field), "\(field): \(response.text)")
        }
        let several = try query(key, [("context", ""), ("max_memories", 0), ("temporal_boost", 9)])
        #expect(several.json?["error"]?["details"]?.arrayValue?.count == 3)
        let longest = try query(key, [("context", .string(String(repeating: "é", count: 2_000)))])
        #expect(longest.status == 200)
        let edges = try query(key, [("context", "x"), ("max_memories", 100), ("relevance_threshold", 0),
                                    ("temporal_boost", 1), ("max_memories", 1)])
        #expect(edges.status == 200)
    }

    @Test func needsTheReadScope() throws {
        let tenant = try gateway.createTenant()
        let writer = try gateway.createKey(admin: tenant.key, scopes: ["write"])
        let refused = try query(writer.key, [("context", "anything")])
        #expect(refused.status == 403)
        #expect(refused.errorCode == "insufficient_scope")
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        #expect(try query(reader.key, [("context", "anything")]).status == 200)
        let anonymous = try gateway.client().call("POST", "/v1/query", json: ["context": "x"])
        #expect(anonymous.status == 401)
    }
}
