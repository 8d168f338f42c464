import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// A tenant holding one memory per metadata shape the operators must tell apart: numbers,
/// a numeric string, strings (upper case sorts before lower case by code point), booleans,
/// null, arrays and missing keys. Every text holds "fact", so a query for it scores them all.
struct FilterFixture {
    let tenant: MemoryTestTenant

    static let memories: [(String, JSONValue)] = [
        ("n1", ["score": 1, "tag": "a", "flag": true, "at": "2026-01-01T00:00:00Z"]),
        ("n5", ["score": 5, "tag": "b", "flag": false, "at": "2026-06-01T00:00:00Z"]),
        ("n10", ["score": 10.0, "tag": "B"]),
        ("s5", ["score": "5", "tag": ["a", "c"]]),
        ("arr", ["score": [2, 20], "tag": ["x"]]),
        ("nul", ["score": nil, "tag": nil]),
        ("none", [:]),
    ]

    init() throws {
        tenant = try MemoryTestTenant()
        // The fuzz sends hundreds of requests: a negotiated limit keeps the limiter out of it.
        let raised = try tenant.client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken,
                                            json: ["limits": ["rate_limit_per_minute": 100_000]])
        guard raised.status == 200 else { throw TestClientError.io("fixture limits: \(raised.text)") }
        let items = Self.memories.map { id, metadata -> JSONValue in
            ["memory_id": .string(id), "text": .string("fact about \(id)"), "metadata": metadata]
        }
        let response = try tenant.call("POST", "/v1/memories/batch", ["memories": .array(items)])
        guard response.status == 201 else { throw TestClientError.io("fixture: \(response.text)") }
    }

    /// The ids a list with `query` returns, sorted.
    func list(_ query: String) throws -> (status: Int, ids: [String]) {
        let response = try tenant.call("GET", "/v1/memories?per_page=100&" + query)
        let ids = response.data?["memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        return (response.status, ids.sorted())
    }

    /// The ids `POST /v1/query` with `filters` returns, sorted.
    func query(_ filters: JSONValue) throws -> (status: Int, ids: [String]) {
        let response = try tenant.call("POST", "/v1/query", [
            "context": "fact", "filters": filters, "relevance_threshold": 0, "max_memories": 100,
        ])
        let ids = response.data?["memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        return (response.status, ids.sorted())
    }
}

/// Filter operators, end to end: `metadata.<key>[op]=<value>` on list, count, export and erasure,
/// and operator objects in query `filters`, with the contract's type rules.
@Suite struct MetadataFilterTests {
    @Test(arguments: [
        // Numbers compare as numbers; a numeric string and null never match a number.
        ("metadata.score[gt]=4", ["arr", "n10", "n5"]),
        ("metadata.score[gte]=5", ["arr", "n10", "n5"]),
        ("metadata.score[lt]=2", ["n1"]),
        ("metadata.score[lte]=2", ["arr", "n1"]),
        ("metadata.score[gt]=1e1", ["arr"]),
        ("metadata.score[ne]=5", ["arr", "n1", "n10"]),
        ("metadata.score[in]=1,5", ["n1", "n5"]),
        ("metadata.score[in]=10,abc", ["n10"]),
        ("metadata.score[nin]=1,5", ["arr", "n10"]),
        ("metadata.score[ne]=null", []),
        ("metadata.score[exists]=true", ["arr", "n1", "n10", "n5", "nul", "s5"]),
        ("metadata.score[exists]=false", ["none"]),
        // Strings by code point: "B" < "a" < "b" < "c" < "x"; an array matches by any element.
        ("metadata.tag[gt]=a", ["arr", "n5", "s5"]),
        ("metadata.tag[lt]=a", ["n10"]),
        ("metadata.tag[gte]=c", ["arr", "s5"]),
        ("metadata.tag[ne]=a", ["arr", "n10", "n5", "s5"]),
        ("metadata.tag[in]=a", ["n1", "s5"]),
        ("metadata.tag[nin]=a,b", ["arr", "n10", "s5"]),
        ("metadata.score[gt]=4x", ["s5"]),
        // Booleans and null as literals, never as strings.
        ("metadata.flag[ne]=true", ["n5"]),
        ("metadata.flag[in]=true,false", ["n1", "n5"]),
        ("metadata.tag[in]=null", ["nul"]),
        // RFC 3339 UTC timestamps compare in time order.
        ("metadata.at[gte]=2026-03-01T00:00:00Z", ["n5"]),
        ("metadata.at[lt]=2026-03-01T00:00:00Z", ["n1"]),
        // Several filters AND together; the v1 plain form still matches both spellings.
        ("metadata.score[gte]=1&metadata.score[lt]=10", ["arr", "n1", "n5"]),
        ("metadata.score=5", ["n5", "s5"]),
    ])
    func listFiltersWithOperators(_ query: String, _ expected: [String]) throws {
        let fixture = try FilterFixture()
        let result = try fixture.list(query)
        #expect(result.status == 200)
        #expect(result.ids == expected.sorted(), "\(query)")
        let count = try fixture.tenant.call("GET", "/v1/memories/count?" + query)
        #expect(count.data?["count"] == .int(expected.count))
    }

    @Test(arguments: [
        (["score": ["$gte": 5]] as JSONValue, ["arr", "n10", "n5"]),
        (["score": ["$gte": 1, "$lt": 5]] as JSONValue, ["arr", "n1"]),
        (["score": ["$eq": nil]] as JSONValue, ["nul"]),
        (["score": ["$eq": 10]] as JSONValue, ["n10"]),
        (["score": ["$eq": "5"]] as JSONValue, ["s5"]),
        (["score": ["$ne": 5]] as JSONValue, ["arr", "n1", "n10"]),
        (["score": ["$exists": true]] as JSONValue, ["arr", "n1", "n10", "n5", "nul", "s5"]),
        (["score": ["$exists": false]] as JSONValue, ["none"]),
        (["score": ["$lt": "6"]] as JSONValue, ["s5"]),
        (["tag": ["$in": ["a", "x"]]] as JSONValue, ["arr", "n1", "s5"]),
        (["tag": ["$nin": ["a", "b"]]] as JSONValue, ["arr", "n10", "s5"]),
        (["flag": ["$ne": false]] as JSONValue, ["n1"]),
        (["flag": false] as JSONValue, ["n5"]),
        (["tag": "a"] as JSONValue, ["n1", "s5"]),
        (["tag": ["a", "c"]] as JSONValue, ["s5"]),
        (["tag": "a", "score": 1] as JSONValue, ["n1"]),
        (["$or": [["tag": "a"], ["flag": false]]] as JSONValue, ["n1", "n5", "s5"]),
        (["$and": [["score": ["$gt": 1]], ["$not": ["flag": true]]]] as JSONValue, ["arr", "n10", "n5"]),
        (["$not": ["tag": "a"]] as JSONValue, ["arr", "n10", "n5", "none", "nul"]),
        (["$not": ["score": ["$exists": true]]] as JSONValue, ["none"]),
        (["$not": ["score": ["$ne": 5]]] as JSONValue, ["n5", "none", "nul", "s5"]),
        (["$or": [["score": ["$lt": 2]], ["$and": [["tag": ["$gte": "x"]], ["score": ["$gt": 15]]]]]] as JSONValue,
         ["arr", "n1"]),
        ([:] as JSONValue, ["arr", "n1", "n10", "n5", "none", "nul", "s5"]),
    ])
    func queryFiltersWithOperatorObjects(_ filters: JSONValue, _ expected: [String]) throws {
        let fixture = try FilterFixture()
        let result = try fixture.query(filters)
        #expect(result.status == 200)
        #expect(result.ids == expected.sorted(), "\(filters)")
    }

    @Test func asOfQueriesApplyTheFilterToPastVersions() throws {
        let fixture = try FilterFixture()
        let before = try #require(try fixture.tenant.call("GET", "/v1/memories/n1").data?["updated_at"]?.stringValue)
        #expect(try fixture.tenant.call("PUT", "/v1/memories/n1", ["metadata": ["score": 100]]).status == 200)
        let response = try fixture.tenant.call("POST", "/v1/query", [
            "context": "fact", "filters": ["score": ["$lt": 2]], "relevance_threshold": 0, "as_of": .string(before),
        ])
        #expect(response.data?["memories"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["n1"])
        #expect(try fixture.query(["score": ["$lt": 2]]).ids == [])
    }

    @Test(arguments: [
        "metadata.score[eq]=1", "metadata.score[regex]=x", "metadata.flag[gt]=true", "metadata.score[lt]=null",
        "metadata.score[exists]=yes", "metadata.score[gt]=1e999", "metadata.score[in]=1e-99999",
        "metadata.score[in]=" + Array(repeating: "1", count: 101).joined(separator: ","),
        (0...64).map { "metadata.k\($0)[gt]=1" }.joined(separator: "&"),
        (0...64).map { "metadata.k\($0)=1" }.joined(separator: "&"),
    ])
    func refusesBadQueryStringOperators(_ query: String) throws {
        let tenant = try MemoryTestTenant()
        for path in ["/v1/memories?", "/v1/memories/count?", "/v1/memories/export?", "/v1/memories?confirm=true&"] {
            let response = try tenant.call(path.contains("confirm") ? "DELETE" : "GET", path + query)
            #expect(response.status == 400, "\(path)\(query.prefix(60))")
            #expect(response.json?["error"]?["code"] == "invalid_request")
        }
    }

    @Test func acceptsSixtyFourConditionsAndEightLevels() throws {
        let tenant = try MemoryTestTenant()
        let sixtyFour = (1...64).map { "metadata.k\($0)[exists]=false" }.joined(separator: "&")
        #expect(try tenant.call("GET", "/v1/memories/count?" + sixtyFour).status == 200)
        var nested: JSONValue = ["score": ["$gt": 0]]
        for level in 1...8 { nested = level % 2 == 0 ? ["$not": nested] : ["$or": [nested, ["tag": "q"]]] }
        let deep = try tenant.call("POST", "/v1/query", ["context": "fact", "filters": nested])
        #expect(deep.status == 200, "\(deep.text)")
        let tooDeep = try tenant.call("POST", "/v1/query", ["context": "fact", "filters": ["$and": [nested]]])
        #expect(tooDeep.status == 400)
        #expect(detailFields(tooDeep).first?.hasPrefix("filters.$and") == true)
        let conditions = JSONValue.object(JSONObject((1...64).map { ("k\($0)", ["$exists": false] as JSONValue) }))
        #expect(try tenant.call("POST", "/v1/query", ["context": "fact", "filters": conditions]).status == 200)
        let many = JSONValue.object(JSONObject((1...32).map { ("k\($0)", ["$gt": 1, "$lt": 9] as JSONValue) } + [("x", 1)]))
        #expect(try tenant.call("POST", "/v1/query", ["context": "fact", "filters": many]).status == 400)
    }

    @Test(arguments: [
        ["score": ["$regex": "x"]] as JSONValue, ["$nor": [["a": 1]]] as JSONValue, ["score": ["$gt": true]] as JSONValue,
        ["score": ["$gt": nil]] as JSONValue, ["score": ["$in": []]] as JSONValue, ["score": ["$in": [[1]]]] as JSONValue,
        ["score": ["$nin": "a"]] as JSONValue, ["score": ["$exists": 1]] as JSONValue, ["$or": []] as JSONValue,
        ["$or": [1]] as JSONValue, ["$and": ["a": 1]] as JSONValue, ["$not": [:]] as JSONValue,
        ["score": ["$gt": 1, "x": 2]] as JSONValue, ["score": ["$eq": [1]]] as JSONValue,
        ["score": ["$gt": .number(JSONNumber(validatedText: "1e400", integer: nil))]] as JSONValue,
    ])
    func refusesBadOperatorObjects(_ filters: JSONValue) throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/query", ["context": "fact", "filters": filters])
        #expect(response.status == 400, "\(filters)")
        #expect(detailFields(response).first?.hasPrefix("filters") == true)
    }

    @Test func exportAndErasureTakeOperators() throws {
        let fixture = try FilterFixture()
        let export = try fixture.tenant.call("GET", "/v1/memories/export?metadata.score[gte]=5")
        #expect(export.status == 200)
        let ids = export.text.split(separator: "\n").compactMap { try? JSONParser.parse(Array($0.utf8))["id"]?.stringValue }
        #expect(ids.sorted() == ["arr", "n10", "n5"])
        let erased = try fixture.tenant.call("DELETE", "/v1/memories?confirm=true&metadata.tag[lt]=b")
        #expect(erased.data?["deleted"] == 3, "n1 (a), n10 (B), s5 ([a, c])")
        #expect(try fixture.list("").ids == ["arr", "n5", "none", "nul"])
    }

    /// The query string's typing: a JSON number, `true`/`false`/`null`, else a string.
    @Test(arguments: [
        ("3", JSONValue.int(3)), ("-1.5e3", .number(JSONNumber(validatedText: "-1.5e3", integer: nil))),
        ("03", "03"), (" 3", " 3"), ("3 ", "3 "), ("1.", "1."), ("true", true), ("True", "True"), ("null", nil),
        ("\"q\"", "\"q\""), ("[1]", "[1]"), ("", ""),
    ])
    func typesQueryStringValues(_ text: String, _ expected: JSONValue) throws {
        let filter = try MetadataFilter.queryCondition(key: "k", op: "ne", text: text, field: "f")
        #expect(filter == .compare(key: "k", .notEqual(expected)))
    }

    /// Keys and values reach PostgreSQL only as parameters.
    @Test func compilesKeysAndValuesToParameters() {
        var issues = Issues()
        let hostile = "x'); DROP TABLE memories; --"
        let parsed = MetadataFilter.parse(JSONObject([
            (hostile, ["$gt": .string(hostile), "$ne": 1, "$nin": [.string(hostile)], "$exists": true] as JSONValue),
            ("$or", [[hostile: .string(hostile)] as JSONValue, ["$not": ["k": ["$lte": 2]]] as JSONValue] as JSONValue),
        ]), issues: &issues)
        #expect(issues.isEmpty)
        var parameters: [PostgresValue] = []
        let sql = parsed?.sql(alias: "m", parameters: &parameters) ?? ""
        #expect(!sql.contains("DROP"))
        #expect(!sql.contains("'x"))
        #expect(parameters.count == 12)
    }
}

/// `EXPLAIN` on 100,000 memories of one tenant: equality filters use the metadata GIN index.
@Suite struct MetadataFilterPlanTests {
    @Test func aFilteredListOnAHundredThousandMemoriesUsesTheMetadataIndex() throws {
        let gateway = MemoryTestGateway.shared
        let pool = gateway.running.services.pool
        let orgID = "org_explain_\(UInt32.random(in: 0...UInt32.max))"
        // In slices, each well inside the statement timeout on a busy machine.
        for slice in 0..<20 {
            try pool.query(
                """
                INSERT INTO memories (org_id, env, memory_id, text, metadata)
                SELECT $1, 'live', 'm' || i, 'memory ' || i,
                       jsonb_build_object('category', 'c' || (i % 1000), 'confidence', (i % 100) / 100.0, 'tags',
                                          jsonb_build_array('t' || (i % 7)))
                  FROM generate_series($2::int * 5000 + 1, $2::int * 5000 + 5000) i
                """, [.text(orgID), .int(Int64(slice))])
        }
        defer { _ = try? pool.query("DELETE FROM memories WHERE org_id = $1", [.text(orgID)]) }
        try pool.query("ANALYZE memories")
        let principal = Principal(
            orgID: orgID, keyID: "key_explain", keyPrefix: "mem_live_xxx", environment: .live, scopes: [], plan: "starter",
            monthlyQuota: 100_000, maxMemories: 50_000, hardQuota: false,
            rateLimit: RateLimitState(limit: 60, remaining: 59, resetSeconds: 1))

        func plan(_ query: String) throws -> String {
            var issues = Issues()
            let filter = MemoryFilter(QueryParameters(query), issues: &issues)
            #expect(issues.isEmpty)
            var parameters: [PostgresValue] = []
            let conditions = filter.whereClause(principal: principal, parameters: &parameters)
            parameters.append(.int(51))
            return try pool.query(
                """
                EXPLAIN SELECT \(MemoryObject.columns) FROM memories m WHERE \(conditions)
                 ORDER BY m.created_at DESC, m.memory_id DESC LIMIT $\(parameters.count)
                """, parameters, prepared: false).compactMap { $0.string(0) }.joined(separator: "\n")
        }
        for query in ["metadata.category=c7", "metadata.category[in]=c7,c8", "metadata.tags[in]=t3&metadata.category=c3",
                      "metadata.category[in]=c7&metadata.confidence[gte]=0.5"] {
            let text = try plan(query)
            // The planner picks the metadata GIN index, or (when its estimate says matches are
            // common enough for LIMIT 51) walks the tenant's newest-first index; never the table.
            #expect(text.contains("memories_metadata") || text.contains("memories_newest"), "\(query):\n\(text)")
            #expect(!text.contains("Seq Scan"), "\(query):\n\(text)")
        }
        // A range alone is checked on the tenant's rows, found by the tenant index, never a scan of the table.
        let range = try plan("metadata.confidence[gt]=0.98")
        #expect(!range.contains("Seq Scan"), "\(range)")
    }
}

/// Random filters, nested operator objects and query strings: every answer is 200 or 400, never a 5xx.
@Suite struct MetadataFilterFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let operators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or", "$not",
                            "$regex", "$", "score", "tag", "", "é", "$NOT"]
    static let scalars: [JSONValue] = [1, -2.5, 0, "a", "", "B", true, false, nil, "2026-01-01T00:00:00Z",
                                       .number(JSONNumber(validatedText: "1e400", integer: nil)),
                                       .number(JSONNumber(validatedText: "-1e-400", integer: nil)),
                                       .number(JSONNumber(validatedText: "123456789012345678901234567890", integer: nil)),
                                       "x'; DROP TABLE memories; --", "\\", "%", "\u{1F600}"]

    static func value(_ random: inout Generator, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 10 ? 2 : 5), using: &random) {
        case 0, 1: return scalars.randomElement(using: &random) ?? nil
        case 2: return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in value(&random, depth: depth + 1) })
        default: return object(&random, depth: depth + 1)
        }
    }

    static func object(_ random: inout Generator, depth: Int) -> JSONValue {
        let count = Int.random(in: 0...3, using: &random)
        return .object(JSONObject((0..<count).map { _ in
            (operators.randomElement(using: &random) ?? "k", value(&random, depth: depth + 1))
        }))
    }

    @Test func randomFiltersAreAnsweredWith200Or400() throws {
        let fixture = try FilterFixture()
        var random = Generator(state: UInt64.random(in: 0...UInt64.max))
        let seed = random.state
        for _ in 0..<250 {
            let filters = Self.object(&random, depth: 0)
            let response = try fixture.tenant.call("POST", "/v1/query", ["context": "fact", "filters": filters])
            #expect(response.status == 200 || response.status == 400, "seed \(seed): \(filters) → \(response.text)")
        }
        let names = ["ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "eq", "", "gt][", "[gt"]
        let values = ["1", "-0", "1e308", "1e309", "1e-400", "abc", "a,b,", ",", "true", "null", "%27", "%00", "%ZZ",
                      "2026-01-01T00:00:00Z", "%F0%9F%98%80", "1,2,3", "[1]", "{}", "0.0000000001"]
        for _ in 0..<250 {
            let parts = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                let key = ["score", "tag", "a.b", "%5B", "", "x]"].randomElement(using: &random) ?? "k"
                let name = names.randomElement(using: &random) ?? ""
                return "metadata.\(key)[\(name)]=\(values.randomElement(using: &random) ?? "")"
            }
            let query = parts.joined(separator: "&")
            for path in ["/v1/memories?", "/v1/memories/count?"] {
                let response = try fixture.tenant.call("GET", path + query)
                #expect(response.status == 200 || response.status == 400, "seed \(seed): \(path)\(query) → \(response.text)")
            }
        }
    }
}
