import Foundation
import Testing

@testable import Gateway

/// SplitMix64: a tiny deterministic generator so every run mutates the same way.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct JSONFuzzTests {
    static let corpus: [String] = [
        #"{"success":true,"data":{"memories":[{"id":"mem_1","text":"likes tea","metadata":{"k":[1,2.5,null]}}]},"meta":{"request_id":"req_x","processing_time_ms":3}}"#,
        #"[1,-0,2e10,-3.25E-4,9223372036854775807,-9223372036854775808,123456789012345678901234567890]"#,
        #"{"s":"esc \" \\ \/ \b \f \n \r \t \u0000 \u00e9 \ud83d\ude00","u":"héllo 中 😀","e":"","n":null,"t":true,"f":false}"#,
        String(repeating: "[", count: 20) + #"{"a":[{"b":{}}]}"# + String(repeating: "]", count: 20),
        "  {\t\"a\" :\r\n [ 1 , 2 ] }  ",
        #""just a string""#,
        "0",
    ]

    static let interesting: [UInt8] = Array("{}[]\",:\\-+.eE0123456789tfnu \t\r\n".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC3, 0xED, 0xF0, 0xFF]

    static func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        let rounds = Int.random(in: 1...4, using: &generator)
        for _ in 0..<rounds {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            let byte = Bool.random(using: &generator)
                ? interesting.randomElement(using: &generator) ?? 0
                : UInt8.random(in: 0...255, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0 where !bytes.isEmpty: bytes[position] = byte
            case 1: bytes.insert(byte, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &generator))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &generator))
                bytes.removeSubrange(position..<end)
            default:
                bytes.insert(contentsOf: bytes.prefix(Int.random(in: 0...8, using: &generator)), at: position)
            }
        }
        return bytes
    }

    @Test func tenThousandMutationsNeverCrashAndParsedOnesRoundTrip() {
        var generator = SeededGenerator(state: 0x5EED_1234)
        let documents = Self.corpus.map { Array($0.utf8) }
        var parsed = 0
        var refused = 0
        for iteration in 0..<10_000 {
            let input = Self.mutate(documents[iteration % documents.count], using: &generator)
            do {
                let value = try JSONParser.parse(input)
                parsed += 1
                // Whatever parses writes back to something that parses to an equal value, and
                // writing is then a fixed point.
                let written = value.jsonBytes
                let again = try JSONParser.parse(written)
                #expect(again == value)
                #expect(again.jsonBytes == written)
            } catch {
                refused += 1
                #expect(error.offset >= 0 && error.offset <= input.count)
                #expect(!error.message.isEmpty)
            }
        }
        #expect(parsed + refused == 10_000)
        #expect(parsed > 0)
        #expect(refused > 0)
    }

    @Test func corpusRoundTripsExactlyWhenCompact() throws {
        for text in Self.corpus {
            let value = try JSONParser.parse(Array(text.utf8))
            let written = value.jsonBytes
            #expect(try JSONParser.parse(written) == value)
            #expect(JSONWriter.bytes(try JSONParser.parse(written)) == written)
        }
        // A document already compact and escape-minimal comes back byte for byte.
        let compact = #"{"a":[1,-0,2.50,"é\n"],"b":{"c":null}}"#
        #expect(try JSONParser.parse(Array(compact.utf8)).jsonString == compact)
    }

    @Test func randomValuesRoundTrip() throws {
        var generator = SeededGenerator(state: 42)
        for _ in 0..<500 {
            let value = Self.randomValue(depth: 0, using: &generator)
            #expect(try JSONParser.parse(value.jsonBytes) == value)
        }
    }

    static func randomValue(depth: Int, using generator: inout SeededGenerator) -> JSONValue {
        let kind = Int.random(in: 0..<(depth > 5 ? 5 : 7), using: &generator)
        switch kind {
        case 0: return nil
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int64.random(in: .min ... .max, using: &generator))
        case 3: return .double(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator)))
        case 4:
            let scalars = (0..<Int.random(in: 0...12, using: &generator)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &generator))
            }
            return .string(String(String.UnicodeScalarView(scalars)))
        case 5:
            return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in
                randomValue(depth: depth + 1, using: &generator)
            })
        default:
            var object = JSONObject()
            for index in 0..<Int.random(in: 0...15, using: &generator) {
                object["k\(index)\u{e9}\"\n"] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(object)
        }
    }
}

// MARK: - Structure-aware fuzzing of the whole gateway

/// Generates JSON *text* from the grammar (RFC 8259), aimed at the edges: numbers at the limits
/// of every integer type and of `Double`, huge and tiny exponents, long digit strings, every
/// escape including lone and reversed surrogates, nesting up to and past the parser's depth
/// limit, sizes up to the body limit. Text, not `JSONValue`, so it can say what a value cannot
/// (`\ud800`, `0e9223372036854775807`, a 400-digit integer).
struct JSONGrammar {
    var random: SeededGenerator

    static let edgeNumbers: [String] = [
        "0", "-0", "1", "-1", "2", "100", "101", "127", "128", "-128", "-129", "255", "256", "1000", "1001", "32767",
        "32768", "-32768", "-32769", "65535", "65536", "1000000", "1000001", "2147483647", "2147483648", "-2147483648",
        "-2147483649", "4294967295", "4294967296", "315360000", "315360001", "1000000000000", "1000000000001",
        "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "123456789012345678901234567890", "1e308", "1.7976931348623157e308",
        "1.7976931348623159e308", "1e309", "-1e309", "5e-324", "4e-324", "2e-324", "1e-400", "-1e-400",
        "2.2250738585072014e-308", "0.1", "0.5", "1.5", "-0.0", "1.0", "3.0", "1e0", "1E+2", "1e-7", "0.000001",
        "0e9223372036854775807", "0e-9223372036854775808", "1e9223372036854775807", "1e-9223372036854775808",
        "0e99999999999999999999999", "-0e-99999999999999999999999", "1e-16383", "0e-16000", "1.5e-300", "64", "65",
        "0.9999999999999999", "1.0000000000000002", "-1.5", "86400", "86401",
    ]

    static let escapes: [String] = [
        #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u0000"#, #"\u001f"#, #"\u007f"#, #"\u00e9"#,
        #"\ud83d\ude00"#, #"\uFFFF"#, #"\uFEFF"#, #"\u2028"#, #"\uD834\uDD1E"#,
    ]

    /// Escapes the parser must refuse: lone and reversed surrogates.
    static let loneSurrogates: [String] = [#"\ud800"#, #"\udbff"#, #"\udc00"#, #"\udfff"#, #"\ud83d"#, #"\ude00\ud83d"#, #"\ud83dx"#]

    /// Strings the handlers give meaning to, so values reach past the first type check.
    static let meaningful: [String] = [
        "read", "write", "delete", "admin", "live", "test", "free", "starter", "professional", "gold", "text",
        "conversation", "skip", "update", "error", "english", "simple", "2026-11-24T10:30:00Z", "9999-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
        "2026-02-30T00:00:00Z", "2026-11-24T10:30:00.1234567891234567891234Z", "2026-11-24T10:30:60Z",
        "2026-13-01T00:00:00Z", "0000-01-01", "9999-12-31", "2026-11", "2026-00", "9999-12", "0000-01", "2026-11-24", "10.0.0.1", "10.0.0.0/8",
        "10.0.0.1/33", "::/0", "::ffff:1.2.3.4/128", "256.1.1.1", "fe80::1%eth0", "1.2.3.4/032", "mem_missing",
        "key_missing", "spc_1", "default", "-", "_", "a", "", " ", "mem_live_", "null", "true", "1e999",
    ]

    init(seed: UInt64) { random = SeededGenerator(state: seed) }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func digits(_ count: Int, leadingNonZero: Bool = true) -> String {
        var text = ""
        text.reserveCapacity(count)
        for index in 0..<count {
            let low = index == 0 && leadingNonZero ? 1 : 0
            text.append(Character(Unicode.Scalar(UInt8(ascii: "0") + UInt8(int(low...9)))))
        }
        return text
    }

    /// A number: an edge value, or one composed from the grammar (sign, integer part of up to
    /// 400 digits, fraction, exponent of up to 30 digits).
    mutating func number() -> String {
        if chance(55) { return pick(Self.edgeNumbers) }
        var text = chance(30) ? "-" : ""
        text += chance(15) ? "0" : digits(chance(10) ? int(20...400) : int(1...19))
        if chance(35) { text += "." + digits(chance(10) ? int(20...400) : int(1...6), leadingNonZero: false) }
        if chance(40) {
            text += pick(["e", "E"]) + pick(["", "+", "-"])
            text += digits(chance(20) ? int(19...30) : int(1...4), leadingNonZero: false)
        }
        return text
    }

    /// A string literal: plain text, escapes, raw UTF-8, sometimes very long, sometimes one of
    /// the handlers' meaningful words.
    mutating func string() -> String {
        if chance(35) { return "\"" + pick(Self.meaningful) + "\"" }
        var text = "\""
        for _ in 0..<int(0...12) {
            switch int(0...5) {
            case 0: text += chance(5) ? pick(Self.loneSurrogates) : pick(Self.escapes)
            case 1: text += pick(["é", "中", "😀", "\u{7F}", "\u{FEFF}", "\u{10FFFF}", "Σ"])
            case 2 where chance(8):
                // Long: past the 10,000 characters of `text`, rarely up to the body limit.
                text += String(repeating: pick(["a", "é", #"\n"#, "😀", " "]), count: chance(10) ? int(20_000...70_000) : int(1000...12_000))
            default: text += pick(["user", "likes", "tea", " ", "x", "k", "_", "-", "metadata", ".", "%", "'", "<"])
            }
        }
        return text + "\""
    }

    /// Any value; `depth` counts the nesting so far. Occasionally builds a chain of arrays or
    /// objects that reaches or passes the parser's depth limit.
    mutating func value(depth: Int = 0) -> String {
        if depth == 0 && chance(3) {
            let levels = int((JSONParser.maximumDepth - 2)...(JSONParser.maximumDepth + 3))
            let open = chance(50)
            return open ? String(repeating: "[", count: levels) + number() + String(repeating: "]", count: levels)
                : String(repeating: #"{"a":"#, count: levels) + "1" + String(repeating: "}", count: levels)
        }
        switch int(0...(depth > 3 ? 4 : 7)) {
        case 0: return pick(["null", "true", "false"])
        case 1, 2: return number()
        case 3, 4: return string()
        case 5: return "[" + (0..<int(0...5)).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
        default: return object(depth: depth + 1)
        }
    }

    /// An object of random members (a key may repeat).
    mutating func object(depth: Int) -> String {
        let members = (0..<int(0...(chance(5) ? 80 : 6))).map { _ in
            (chance(50) ? "\"k\(int(0...70))\"" : string()) + ":" + value(depth: depth)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// A JSON object of fields, from `template` with some members replaced, added or dropped.
    mutating func body(_ template: [(String, String)]) -> String {
        if chance(4) { return value() }  // not an object at all, or deeply nested
        var members = template
        for _ in 0..<int(1...3) where !members.isEmpty {
            let index = int(0...(members.count - 1))
            switch int(0...9) {
            case 0: members.remove(at: index)
            case 1: members.append((members[index].0, value()))  // a repeated key
            case 2: members[index].1 = "{" + "\"m\":" + value() + "}"
            default: members[index].1 = value()
            }
        }
        if chance(30) { members.append(("metadata", object(depth: 1))) }
        if chance(10) { members.append((pick(["extra", "id", "org_id", "environment", "limits"]), value())) }
        if chance(1) {
            // Around the 1 MiB body limit: just under it (a 400 on the field) or past it (413).
            let field = members.isEmpty ? "text" : members[int(0...(members.count - 1))].0
            members.append((field, "\"" + String(repeating: "a", count: int(1_040_000...1_060_000)) + "\""))
        }
        return "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A percent-encoded query string of known and random parameters with edge values.
    mutating func query() -> String {
        let names = ["per_page", "page", "cursor", "environment", "from", "to", "key_id", "period", "format",
                     "include_history", "space_id", "source", "confirm", "delete_memories", "as_of", "metadata.k",
                     "metadata.topic", "metadata.n[gt]", "q", "x"]
        var parts: [String] = []
        for _ in 0..<int(0...4) {
            var value: String
            switch int(0...4) {
            case 0: value = pick(Self.edgeNumbers)
            case 1: value = pick(Self.meaningful)
            case 2: value = pick(["%", "%zz", "%C3", "%00", "%ED%A0%80", "%F0%9F%98%80", "+", "%2B", "a%20b", "true",
                                  "false", "1", "0", "-1", String(repeating: "9", count: 400)])
            case 3: value = String(repeating: "A", count: int(0...2000))
            default: value = Self.percentEncode(String(string().dropFirst().dropLast().prefix(200)))
            }
            if !value.contains("%") { value = Self.percentEncode(value) }
            parts.append(pick(names) + "=" + value)
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let isUnreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            out += isUnreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return out
    }

    /// Extra header fields a hostile client might send, valid on the wire.
    mutating func headers(key: String) -> [(String, String)] {
        var fields: [(String, String)] = []
        for _ in 0..<int(0...3) {
            switch int(0...11) {
            case 0: fields.append(("Idempotency-Key", pick(["k1", String(repeating: "k", count: int(200...300)), "é", " ", "a b"])))
            case 1: fields.append(("X-Request-ID", pick(["r", String(repeating: "r", count: 200), "bad id", "a.b_c-1"])))
            case 2: fields.append(("X-Forwarded-For", pick(["1.2.3.4", "256.0.0.1, ::1", "[::1]:80", ",,,", "unknown",
                                                            String(repeating: "1.2.3.4, ", count: 500), "fe80::1%eth0"])))
            case 3: fields.append(("Accept", pick(["text/csv", "*/*", "text/csv;q=2", "text/csv;q=1e999", "application/x-ndjson;q=-1"])))
            case 4: fields.append(("Content-Type", pick(["text/plain", "application/json; charset=latin1", "application/json;;", ""])))
            case 5: fields.append(("X-API-Key", pick([key, "mem_live_x", "", String(repeating: "m", count: 5000)])))
            case 6: fields.append(("Authorization", pick(["Bearer", "Basic abc", "Bearer  \(key) ", "bearer \(key)",
                                                          "Bearer " + String(repeating: "m", count: 8000)])))
            case 7: fields.append(("If-None-Match", pick(["*", "\"x\"", String(repeating: "\"e\",", count: 100)])))
            case 8: fields.append(("Expect", pick(["100-continue", "200-ok"])))
            case 9: fields.append(("Range", pick(["bytes=0-", "bytes=99999999999999999999-"])))
            case 10: fields.append(("X-Pad", String(repeating: "p", count: int(0...20_000))))
            default: fields.append(("Connection", pick(["close", "keep-alive", "upgrade"])))
            }
        }
        return fields
    }
}

/// One route the fuzzer exercises: method, path (with `{id}`), a valid body to start from, and
/// which credential it takes.
struct FuzzRoute {
    enum Credential { case tenant, testKey, operatorToken, none }
    let method: String
    let path: String
    let template: [(String, String)]?
    let credential: Credential

    static let all: [FuzzRoute] = [
        .init(method: "POST", path: "/v1/memories", template: [("text", #""likes tea""#), ("metadata", #"{"topic":"tea"}"#),
            ("space_id", #""default""#), ("expires_at", #""2099-01-01T00:00:00Z""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/memories", template: [("text", #""x""#), ("ttl_seconds", "60")], credential: .testKey),
        .init(method: "PUT", path: "/v1/memories/{id}", template: [("text", #""likes coffee""#), ("metadata", "{}")], credential: .tenant),
        .init(method: "POST", path: "/v1/memories/batch", template: [
            ("memories", #"[{"text":"a","metadata":{"n":1}},{"text":"b","id":"mem_fuzz_1"}]"#), ("on_conflict", #""skip""#),
            ("space_id", #""default""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/query", template: [("context", #""what does the user like""#), ("max_memories", "5"),
            ("relevance_threshold", "0.1"), ("temporal_boost", "0.5"), ("space_id", #""default""#), ("include_metadata", "true"),
            ("hybrid_search", "true"), ("count_below_threshold", "false"), ("filters", #"{"topic":"tea"}"#),
            ("language", #""english""#), ("as_of", #""2026-01-01T00:00:00Z""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/query/extract", template: [("content", #""The user likes tea. They live in Oslo.""#),
            ("content_type", #""text""#), ("metadata", #"{"s":"x"}"#), ("space_id", #""default""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/spaces", template: [("id", #""fz""#), ("name", #""Fuzz""#), ("description", #""d""#)],
              credential: .tenant),
        .init(method: "PUT", path: "/v1/spaces/{id}", template: [("name", #""Fuzz""#), ("description", #""d""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/account/api-keys", template: [("name", #""k""#), ("scopes", #"["read"]"#),
            ("environment", #""test""#), ("rate_limit_per_minute", "10"), ("allowed_ips", #"["10.0.0.1"]"#),
            ("expires_at", #""2099-01-01T00:00:00Z""#)], credential: .tenant),
        .init(method: "POST", path: "/v1/account/api-keys/{id}/rotate", template: [("grace_seconds", "60")], credential: .tenant),
        .init(method: "POST", path: "/v1/admin/tenants", template: [("name", #""fuzzed""#), ("plan", #""free""#)],
              credential: .operatorToken),
        .init(method: "PATCH", path: "/v1/admin/tenants/{id}", template: [("plan", #""starter""#), ("suspended", "false"),
            ("limits", #"{"rate_limit_per_minute":10,"monthly_request_quota":5,"max_memories":1}"#)], credential: .operatorToken),
        // Routes without a body: query strings and headers.
        .init(method: "GET", path: "/v1/memories", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/memories/count", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/memories/export", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/memories/{id}", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/memories/{id}/history", template: nil, credential: .tenant),
        .init(method: "DELETE", path: "/v1/memories/{id}", template: nil, credential: .tenant),
        .init(method: "DELETE", path: "/v1/memories", template: nil, credential: .testKey),
        .init(method: "GET", path: "/v1/spaces", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/spaces/{id}", template: nil, credential: .tenant),
        .init(method: "DELETE", path: "/v1/spaces/{id}", template: nil, credential: .testKey),
        .init(method: "GET", path: "/v1/usage", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/usage", template: nil, credential: .testKey),
        .init(method: "GET", path: "/v1/usage/history", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/usage/projection", template: nil, credential: .testKey),
        .init(method: "GET", path: "/v1/account", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/account/api-keys", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/account/api-keys/{id}", template: nil, credential: .tenant),
        .init(method: "DELETE", path: "/v1/account/api-keys/{id}", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/account/audit-log", template: nil, credential: .tenant),
        .init(method: "GET", path: "/v1/admin/tenants", template: nil, credential: .operatorToken),
        .init(method: "GET", path: "/v1/admin/tenants/{id}", template: nil, credential: .operatorToken),
        .init(method: "GET", path: "/v1/admin/billing", template: nil, credential: .operatorToken),
        .init(method: "GET", path: "/healthz", template: nil, credential: .none),
        .init(method: "GET", path: "/readyz", template: nil, credential: .none),
        .init(method: "GET", path: "/metrics", template: nil, credential: .none),
    ]
}

/// Drives the real gateway (in this process, real sockets, real PostgreSQL) with grammar-made
/// requests; every answer must be a well-formed 2xx/4xx, never a 5xx, and the instance must keep
/// serving. `MG_FUZZ_CASES` and `MG_FUZZ_SEED` set the case count and seed (scripts/fuzz-long).
struct GatewayFuzzer {
    let gateway: TestGateway
    let key: String
    let testKey: String
    /// Ids that exist, so some `{id}` paths reach past the 404.
    let memoryID: String
    let spaceID: String
    let keyID: String

    struct Outcome {
        var cases = 0
        var statuses: [Int: Int] = [:]
        var failures: [String] = []
    }

    static func make(_ gateway: TestGateway) throws -> GatewayFuzzer {
        let tenant = try gateway.createTenant(name: "fuzz")
        let client = gateway.client()
        let limits: JSONValue = ["limits": ["rate_limit_per_minute": 1_000_000, "monthly_request_quota": 1_000_000_000_000,
                                            "max_memories": 1_000_000_000]]
        _ = try client.call("PATCH", "/v1/admin/tenants/\(tenant.orgID)", key: TestGateway.operatorToken, json: limits)
        let testKey = try gateway.createKey(admin: tenant.key, scopes: ["read", "write", "delete", "admin"], environment: "test")
        let spare = try gateway.createKey(admin: tenant.key, scopes: ["read"])
        let memory = try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "the user likes tea", "metadata": ["topic": "tea"]])
        _ = try client.call("POST", "/v1/spaces", key: tenant.key, json: ["id": "fz", "name": "Fuzz"])
        return GatewayFuzzer(gateway: gateway, key: tenant.key, testKey: testKey.key,
                             memoryID: memory.data?["id"]?.stringValue ?? "mem_missing", spaceID: "fz", keyID: spare.id)
    }

    /// Why `response` breaks the contract, or nil.
    static func problem(_ response: TestResponse) -> String? {
        guard (200..<500).contains(response.status) else { return "status \(response.status)" }
        let type = response.header("Content-Type") ?? ""
        guard type.hasPrefix("application/json") else {
            // Exports (NDJSON), CSV and metrics are not envelopes; they are successes only.
            return response.status < 300 || response.body.isEmpty ? nil : "a \(response.status) that is not JSON: \(type)"
        }
        guard let json = response.json, case .object = json, let success = json["success"]?.boolValue else {
            return "not an envelope: \(response.text.prefix(200))"
        }
        guard json["meta"]?["request_id"]?.stringValue != nil else { return "no meta.request_id" }
        if success {
            return response.status < 300 ? nil : "success with status \(response.status)"
        }
        guard response.status >= 400, let code = json["error"]?["code"]?.stringValue, !code.isEmpty,
              json["error"]?["message"]?.stringValue != nil
        else { return "malformed error envelope: \(response.text.prefix(200))" }
        return nil
    }

    /// Runs `cases` cases, or fewer when `deadline` comes first (a long run bounded in time).
    func run(cases: Int, seed: UInt64, deadline: ContinuousClock.Instant? = nil) -> Outcome {
        var grammar = JSONGrammar(seed: seed)
        let client = gateway.client()
        var outcome = Outcome()
        for index in 0..<cases {
            let route = grammar.pick(FuzzRoute.all)
            var path = route.path
            if path.contains("{id}") {
                let id: String = switch grammar.int(0...5) {
                case 0: path.contains("memories") ? memoryID : path.contains("spaces") ? spaceID : keyID
                case 1: JSONGrammar.percentEncode(String(grammar.string().dropFirst().dropLast().prefix(300)))
                case 2: grammar.pick(["%", "%zz", "%00", "%C3", "..", "%2F", "count", "batch", "export"])
                default: grammar.pick(["mem_missing", "spc_missing", "key_missing", "org_missing", "x"])
                }
                path = path.replacingOccurrences(of: "{id}", with: id.isEmpty ? "x" : id)
            }
            let target = path + grammar.query()
            var headers: [(String, String)] = []
            switch route.credential {
            case .tenant: headers.append(("Authorization", "Bearer \(key)"))
            case .testKey: headers.append(("Authorization", "Bearer \(testKey)"))
            case .operatorToken: headers.append(("Authorization", "Bearer \(TestGateway.operatorToken)"))
            case .none: break
            }
            var body: [UInt8]?
            if let template = route.template {
                headers.append(("Content-Type", "application/json"))
                body = Array(grammar.body(template).utf8)
            } else if grammar.chance(3) {
                body = Array(grammar.value().utf8)
            }
            if grammar.chance(25) { headers += grammar.headers(key: key) }
            outcome.cases += 1
            do {
                let response = try client.request(route.method, target, headers: headers, body: body)
                outcome.statuses[response.status, default: 0] += 1
                if let problem = Self.problem(response) {
                    outcome.failures.append("case \(index) (seed \(seed)): \(route.method) \(target.prefix(200)) → \(problem); "
                                            + "body \(String(decoding: (body ?? []).prefix(300), as: UTF8.self))")
                }
            } catch {
                // A closed connection is allowed for a request the server must refuse at the
                // HTTP level (its answer was sent, then the connection closed before we read it);
                // the liveness check below tells a crash from that.
                outcome.statuses[0, default: 0] += 1
                client.close()
            }
            if outcome.failures.count >= 20 { break }
            if let deadline, index % 100 == 99, ContinuousClock.now >= deadline { break }
        }
        return outcome
    }
}

extension JSONFuzzTests {
    static var fuzzCases: Int { ProcessInfo.processInfo.environment["MG_FUZZ_CASES"].flatMap { Int($0) } ?? 2500 }
    static var fuzzSeed: UInt64 { ProcessInfo.processInfo.environment["MG_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x13F0_2026 }
    /// `MG_FUZZ_SECONDS`: stop a long run after this long, whatever the case count (unset: none).
    static var fuzzDeadline: ContinuousClock.Instant? {
        ProcessInfo.processInfo.environment["MG_FUZZ_SECONDS"].flatMap { Int($0) }.map { ContinuousClock.now + .seconds($0) }
    }

    @Test func grammarMadeRequestsToEveryRouteGetWellFormed2xxOr4xxAndTheInstanceSurvives() throws {
        let gateway = TestGateway.shared
        let fuzzer = try GatewayFuzzer.make(gateway)
        let started = ContinuousClock.now
        let outcome = fuzzer.run(cases: Self.fuzzCases, seed: Self.fuzzSeed, deadline: Self.fuzzDeadline)
        let elapsed = ContinuousClock.now - started
        FileHandle.standardError.write(Data(
            "gateway fuzz: \(outcome.cases) cases, seed \(Self.fuzzSeed), \(elapsed), statuses \(outcome.statuses.sorted { $0.key < $1.key }), failures \(outcome.failures.count)\n".utf8))
        #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
        // The run reached the handlers: both successes and refusals, and few closed connections.
        #expect(outcome.statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +) > outcome.cases / 50)
        #expect(outcome.statuses[400, default: 0] > outcome.cases / 10)
        #expect(outcome.statuses[0, default: 0] < max(5, outcome.cases / 100), "closed without an answer: \(outcome.statuses[0, default: 0])")
        // Alive for everyone: a service route, and a database route of another tenant.
        let client = gateway.client()
        #expect(try client.request("GET", "/healthz").status == 200)
        let other = try gateway.createTenant(name: "after fuzz")
        #expect(try client.call("GET", "/v1/account", key: other.key).status == 200)
        #expect(try client.call("GET", "/v1/account", key: fuzzer.key).status == 200)
    }

    @Test func theGrammarProducesEveryHostileShape() throws {
        var grammar = JSONGrammar(seed: 7)
        var sawHugeExponent = false, sawLoneSurrogate = false, sawTooDeep = false, sawLongDigits = false, refused = 0
        for _ in 0..<3000 {
            let text = grammar.value()
            sawHugeExponent = sawHugeExponent || text.contains("e9223372036854775807") || text.contains("e-9223372036854775808")
            sawLoneSurrogate = sawLoneSurrogate || text.contains(#"\ud800"#) || text.contains(#"\ude00\ud83d"#)
            sawTooDeep = sawTooDeep || text.hasPrefix(String(repeating: "[", count: JSONParser.maximumDepth + 1))
            sawLongDigits = sawLongDigits || text.utf8.count > 100 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 || $0 == 0x2D || $0 == 0x2E }
            do { _ = try JSONParser.parse(Array(text.utf8)) } catch { refused += 1 }
        }
        #expect(sawHugeExponent && sawLoneSurrogate && sawTooDeep && sawLongDigits)
        // The grammar makes valid JSON but for lone surrogates and nesting past the limit.
        #expect(refused > 0 && refused < 3000 / 4, "refused \(refused)")
    }
}
