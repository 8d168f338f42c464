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
