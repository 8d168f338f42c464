import Testing

@testable import Gateway

@Suite struct JSONWriterTests {
    @Test func writesCompactlyInOrder() {
        let value: JSONValue = ["z": 1, "a": [true, false, nil], "m": ["x": "y"], "e": [], "o": [:]]
        #expect(value.jsonString == #"{"z":1,"a":[true,false,null],"m":{"x":"y"},"e":[],"o":{}}"#)
    }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("quote \" backslash \\ slash /", #""quote \" backslash \\ slash /""#),
        ("\u{8}\u{C}\n\r\t", #""\b\f\n\r\t""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("\u{7F}", "\"\u{7F}\""),
        ("héllo 中 😀", "\"héllo 中 😀\""),
        ("\u{2028}", "\"\u{2028}\""),
        ("", #""""#),
    ])
    func escapesOnlyWhatMustBeEscaped(input: String, expected: String) {
        #expect(JSONWriter.string(escaping: input) == expected)
        #expect(JSONValue.string(input).jsonString == expected)
    }

    @Test func nonASCIIIsRawUTF8() {
        #expect(JSONValue.string("é").jsonBytes == [0x22, 0xC3, 0xA9, 0x22])
    }

    @Test func appendsToAnExistingBuffer() {
        var buffer = Array("prefix:".utf8)
        JSONWriter.write(["a": 1], into: &buffer)
        JSONWriter.appendString("b", into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"prefix:{"a":1}"b""#)
    }

    @Test(arguments: [
        (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (3.0, "3"), (-2.0, "-2"), (0.1, "0.1"), (1.5, "1.5"),
        (0.30000000000000004, "0.30000000000000004"), (1e-7, "1e-07"), (1e16, "1e+16"), (123456.789, "123456.789"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (.leastNonzeroMagnitude, "5e-324"), (50.25, "50.25"),
    ])
    func doublesUseShortestRoundTripText(value: Double, expected: String) throws {
        let json = JSONValue.double(value)
        #expect(json.jsonString == expected)
        // Valid JSON that reads back to the same double.
        let back = try JSONParser.parse(json.jsonBytes)
        #expect(back.numberValue?.double == value)
    }

    @Test func nonFiniteDoublesBecomeNull() {
        #expect(JSONValue.double(.nan) == .null)
        #expect(JSONValue.double(.infinity).jsonString == "null")
        #expect(JSONValue.double(-.infinity).jsonString == "null")
        #expect(JSONNumber(double: .nan) == nil)
    }

    @Test func integersAreWrittenAsIntegers() {
        #expect(JSONValue.int(Int64.max).jsonString == "9223372036854775807")
        #expect(JSONValue.int(Int64.min).jsonString == "-9223372036854775808")
        #expect(JSONValue.int(UInt64.max).jsonString == "18446744073709551615")
        #expect(JSONValue.int(UInt64.max).intValue == nil)
        #expect(JSONValue(integerLiteral: -7).jsonString == "-7")
    }

    @Test func parsedNumbersAreWrittenVerbatim() throws {
        let text = "[1E+2,0.50,-0,1e-7,12345678901234567890123]"
        #expect(try JSONParser.parse(Array(text.utf8)).jsonString == text)
    }
}
