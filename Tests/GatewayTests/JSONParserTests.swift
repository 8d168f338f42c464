import Testing

@testable import Gateway

@Suite struct JSONParserTests {
    func parse(_ text: String) throws(JSONError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}, "e": ""} "#)
        #expect(value["a"]?[0]?.intValue == 1)
        #expect(value["a"]?[1]?.doubleValue == -2.5)
        #expect(value["a"]?[2]?.doubleValue == 300)
        #expect(value["a"]?[3]?.boolValue == true)
        #expect(value["a"]?[4]?.boolValue == false)
        #expect(value["a"]?[5]?.isNull == true)
        #expect(value["b"]?["c"]?.stringValue == "d")
        #expect(value["e"]?.stringValue == "")
        #expect(value["missing"] == nil)
    }

    @Test(arguments: ["0", "-0", "1", "\"x\"", "true", "false", "null", "[]", "{}", " \t\r\n[ ] \t\r\n"])
    func anyValueMayBeTheTopLevel(text: String) throws {
        _ = try parse(text)
    }

    @Test func objectsKeepKeyOrder() throws {
        let object = try #require(try parse(#"{"z":1,"a":2,"m":3}"#).objectValue)
        #expect(object.keys == ["z", "a", "m"])
    }

    @Test func duplicateKeysAreRejectedWithTheKeyOffset() throws {
        #expect(throws: JSONError("duplicate key \"a\"", offset: 8)) { try parse(#"{"a":1, "a":2}"#) }
        // Also in large (indexed) objects.
        let members = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(throws: JSONError.self) { try parse("{\(members),\"k17\":0}") }
        #expect(try parse("{\(members)}").objectValue?.count == 40)
    }

    @Test func largeObjectsLookUpEveryKey() throws {
        let members = (0..<100).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let value = try parse("{\(members)}")
        for index in 0..<100 { #expect(value["k\(index)"]?.intValue == index) }
    }

    // MARK: Numbers

    @Test(arguments: [
        ("0", Int64(0)), ("-0", 0), ("42", 42), ("-42", -42),
        ("9223372036854775807", .max), ("-9223372036854775808", .min),
    ])
    func integersAreExact(text: String, expected: Int64) throws {
        let number = try #require(try parse(text).numberValue)
        #expect(number.int64 == expected)
        #expect(number.isInteger)
        #expect(number.text == text)
    }

    @Test func integersOutsideInt64KeepTheirText() throws {
        let value = try parse("[9223372036854775808,-9223372036854775809,123456789012345678901234567890]")
        for element in try #require(value.arrayValue) {
            #expect(element.intValue == nil)
            #expect(element.doubleValue != nil)
        }
        #expect(value.jsonString == "[9223372036854775808,-9223372036854775809,123456789012345678901234567890]")
    }

    @Test(arguments: [
        ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000), ("1E3", 1000), ("1e+3", 1000), ("25e-1", 2.5),
        ("0.1", 0.1), ("1.7976931348623157e308", 1.7976931348623157e308), ("5e-324", .leastNonzeroMagnitude),
    ])
    func fractionsAndExponents(text: String, expected: Double) throws {
        let value = try parse(text)
        #expect(value.doubleValue == expected)
        #expect(value.numberValue?.isInteger == false)
        #expect(value.jsonString == text)
    }

    @Test func integralNonLiteralsHaveIntValues() throws {
        #expect(try parse("3.0").intValue == 3)
        #expect(try parse("1e3").intValue == 1000)
        #expect(try parse("-2.000").intValue == -2)
        #expect(try parse("3.5").intValue == nil)
        #expect(try parse("1e30").intValue == nil)
    }

    @Test func outOfRangeDoublesAreNotFinite() throws {
        let value = try parse("1e400")
        #expect(value.doubleValue == nil)
        #expect(value.jsonString == "1e400")
    }

    @Test(arguments: [
        "01", "-01", "00", "+1", ".5", "1.", "-", "-.5", "1e", "1e+", "1.e3", "0x10", "NaN", "Infinity",
        "-Infinity", "1_000", "1.5.5", "--1", "[1.]", "[01]", "[-]",
    ])
    func rejectsMalformedNumbers(text: String) {
        #expect(throws: JSONError.self) { try parse(text) }
    }

    // MARK: Strings

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u4e2D""#, "Aé中"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD834\uDD1E x""#, "𝄞 x"),
        (#""a\u0000b""#, "a\u{0}b"),
        ("\"héllo wörld 😀\"", "héllo wörld 😀"),
        ("\"mixed é \\n 中\"", "mixed é \n 中"),
        ("\"\u{7F}\"", "\u{7F}"),
        ("\"\u{2028}\u{2029}\"", "\u{2028}\u{2029}"),
    ])
    func decodesStrings(text: String, expected: String) throws {
        #expect(try parse(text).stringValue == expected)
    }

    @Test(arguments: [
        #""\ud83d""#, #""\ud83dx""#, #""\ud83d\u0041""#, #""\ude00""#, #""\ude00\ud83d""#, #""\ud83d\""#,
        #""\u12""#, #""\u12G4""#, #""\x41""#, #""\'""#, #""\""#, "\"abc", "\"", "'a'",
        "\"a\u{0}b\"", "\"a\nb\"", "\"a\tb\"", "\"\u{1F}\"",
    ])
    func rejectsMalformedStrings(text: String) {
        #expect(throws: JSONError.self) { try parse(text) }
    }

    @Test(arguments: [
        [0x22, 0x80, 0x22],  // lone continuation byte
        [0x22, 0xC0, 0x80, 0x22],  // overlong NUL
        [0x22, 0xC1, 0xBF, 0x22],  // overlong
        [0x22, 0xE0, 0x80, 0x80, 0x22],  // overlong 3-byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
        [0x22, 0xF0, 0x80, 0x80, 0x80, 0x22],  // overlong 4-byte
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // past U+10FFFF
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0xFF, 0x22],
        [0x22, 0xE4, 0xB8, 0x22],  // truncated
        [0x22, 0xE4, 0xB8],  // truncated at end of input
        [0x22, 0x5C, 0x6E, 0xC3, 0x22],  // invalid after an escape (slow path)
        [0xEF, 0xBB, 0xBF, 0x7B, 0x7D],  // byte-order mark
        [0x5B, 0xC3, 0xA9, 0x5D],  // non-ASCII outside a string
    ] as [[UInt8]])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONError.self) { try JSONParser.parse(bytes) }
    }

    @Test func acceptsBoundaryScalars() throws {
        let bytes: [UInt8] = [0x22, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80,
            0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]
        let string = try #require(try JSONParser.parse(bytes).stringValue)
        #expect(string.unicodeScalars.map(\.value) == [0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0x10000, 0x10FFFF])
    }

    // MARK: Structure

    @Test(arguments: [
        "", " ", "[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}",
        "{1:1}", "{\"a\":1 \"b\":2}", "[1]]", "{}{}", "1 2", "tru", "truex", "nul", "True", "NULL",
        "[1]x", "// c\n1", "/* c */1", "\u{0B}1", "\u{0C}1", "1\u{A0}", "[\"a\"\u{0C}]",
    ])
    func rejectsMalformedStructure(text: String) {
        #expect(throws: JSONError.self) { try parse(text) }
    }

    @Test func errorsCarryAByteOffset() {
        #expect(throws: JSONError("unexpected end of input", offset: 0)) { try parse("") }
        #expect(throws: JSONError("expected ',' or ']'", offset: 3)) { try parse("[1 2]") }
        #expect(throws: JSONError("unexpected data after the JSON value", offset: 3)) { try parse("{} x") }
        #expect(throws: JSONError("leading zero in number", offset: 1)) { try parse("[01]") }
        #expect(throws: JSONError("control character in string", offset: 3)) { try parse("\"ab\n\"") }
        #expect(throws: JSONError("lone surrogate in \\u escape", offset: 2)) { try parse(#""a\ud800""#) }
        #expect(throws: JSONError("unexpected character", offset: 5)) { try parse(#"{"a":x}"#) }
        #expect(JSONError("unexpected character", offset: 5).description == "unexpected character at byte 5")
    }

    @Test func nestingIsLimitedTo64() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try parse(deepest)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONError("nesting deeper than 64", offset: 64)) { try parse(tooDeep) }
        let objects = String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(throws: JSONError.self) { try parse(objects) }
        let mixed = String(repeating: "[{\"a\":", count: 32) + "1" + String(repeating: "}]", count: 32)
        _ = try parse(mixed)
        // Far deeper input is refused, not a stack overflow.
        #expect(throws: JSONError.self) { try parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func everyPrefixOfADocumentIsRejectedAndTheWholeAccepted() throws {
        let document = Array(#"{"a":[1,-2.5e3,"x\u00e9\ud83d\ude00",true,false,null],"b":{"c":{}}}"#.utf8)
        for cut in 0..<document.count {
            let prefix = Array(document[..<cut])
            // A prefix can be complete only if it is a number; this document starts with "{".
            #expect(throws: JSONError.self, "prefix of \(cut) bytes") { try JSONParser.parse(prefix) }
        }
        _ = try JSONParser.parse(document)
    }

    @Test func parsesFromString() throws {
        #expect(try JSONParser.parse("[\"é\"]" as String) == ["é"])
    }
}
