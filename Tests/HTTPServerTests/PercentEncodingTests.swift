import Testing

@testable import HTTPServer

/// The one percent-decoder (paths and query strings) and the one log-value escaper.
@Suite struct PercentEncodingTests {
    @Test(arguments: [
        ("plain", false, "plain" as String?),
        ("a%20b", false, "a b"),
        ("caf%C3%A9", false, "café"),
        ("a+b", false, "a+b"),
        ("a+b", true, "a b"),
        ("a%2Bb", true, "a+b"),
        ("%00", false, nil),
        ("%00", true, nil),
        ("a%00b", true, nil),
        ("%", false, nil),
        ("%4", true, nil),
        ("%zz", false, nil),
        ("%C3", false, nil),
        ("%FF", true, nil),
    ])
    func decodesStrictlyAndRefusesNul(_ text: String, _ plusIsSpace: Bool, _ expected: String?) {
        #expect(PercentEncoding.decode(Substring(text), plusIsSpace: plusIsSpace) == expected)
    }

    @Test func aRawNulIsRefusedToo() {
        #expect(PercentEncoding.decode("a\u{0}b", plusIsSpace: false) == nil)
        #expect(PercentEncoding.decode("a\u{0}+b", plusIsSpace: true) == nil)
    }

    @Test func readsHexDigitsOfEitherCase() {
        #expect(ASCII.hexValue(UInt8(ascii: "0")) == 0)
        #expect(ASCII.hexValue(UInt8(ascii: "f")) == 15)
        #expect(ASCII.hexValue(UInt8(ascii: "F")) == 15)
        #expect(ASCII.hexValue(UInt8(ascii: "g")) == nil)
        #expect(ASCII.hexValue(0xFF) == nil)
    }

    @Test(arguments: [
        ("simple", "simple"),
        ("", "\"\""),
        ("two words", "\"two words\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("line\nbreak", "\"line\\nbreak\""),
        ("bell\u{7}", "\"bell?\""),
    ])
    func escapesLogValuesOneWay(_ value: String, _ expected: String) {
        #expect(LogValue.quoted(value) == expected)
    }
}
