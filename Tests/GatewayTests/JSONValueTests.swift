import Testing

@testable import Gateway

@Suite struct JSONValueTests {
    @Test func literalsBuildValues() {
        let value: JSONValue = ["s": "x", "i": 1, "d": 0.5, "b": true, "n": nil, "a": [1, "two"]]
        #expect(value["s"] == .string("x"))
        #expect(value["i"] == .number(JSONNumber(1)))
        #expect(value["d"]?.doubleValue == 0.5)
        #expect(value["b"] == .bool(true))
        #expect(value["n"] == .null)
        #expect(value["a"]?.arrayValue?.count == 2)
        #expect(value.objectValue?.keys == ["s", "i", "d", "b", "n", "a"])
    }

    @Test func accessorsAreNilForOtherTypes() {
        let value: JSONValue = "text"
        #expect(value.intValue == nil)
        #expect(value.doubleValue == nil)
        #expect(value.boolValue == nil)
        #expect(value.arrayValue == nil)
        #expect(value.objectValue == nil)
        #expect(value["key"] == nil)
        #expect(value[0] == nil)
        #expect(JSONValue.int(3).stringValue == nil)
        #expect(([1] as JSONValue)[1] == nil)
        #expect(([1] as JSONValue)[-1] == nil)
    }

    @Test func typeNames() {
        let values: [JSONValue] = [nil, true, 1, "s", [], [:]]
        #expect(values.map(\.typeName) == ["null", "boolean", "number", "string", "array", "object"])
    }

    @Test func numbersCompareByValue() throws {
        #expect(try JSONParser.parse("1") == JSONParser.parse("1.0"))
        #expect(try JSONParser.parse("100") == JSONParser.parse("1e2"))
        #expect(try JSONParser.parse("-0") == JSONParser.parse("0"))
        #expect(try JSONParser.parse("1") != JSONParser.parse("2"))
        #expect(try JSONParser.parse("9223372036854775807") != JSONParser.parse("9223372036854775806"))
    }

    @Test func objectsCompareIgnoringOrder() throws {
        #expect(try JSONParser.parse(#"{"a":1,"b":2}"#) == JSONParser.parse(#"{"b":2,"a":1}"#))
        #expect(try JSONParser.parse(#"{"a":1,"b":2}"#) != JSONParser.parse(#"{"a":1}"#))
        #expect(try JSONParser.parse(#"{"a":1}"#) != JSONParser.parse(#"{"b":1}"#))
        #expect(try JSONParser.parse("[1,2]") != JSONParser.parse("[2,1]"))
    }

    @Test func objectMutationKeepsOrderAndIndex() {
        var object = JSONObject()
        for index in 0..<30 { object["k\(index)"] = .int(index) }
        object["k3"] = "replaced"
        #expect(object.keys.prefix(4) == ["k0", "k1", "k2", "k3"])
        #expect(object["k3"] == "replaced")
        object["k3"] = nil
        #expect(object.count == 29)
        #expect(object["k3"] == nil)
        #expect(object["k29"]?.intValue == 29)
        #expect(object.keys[3] == "k4")
        for index in 4..<30 { object["k\(index)"] = nil }
        #expect(object.keys == ["k0", "k1", "k2"])
        #expect(object["k2"]?.intValue == 2)
    }

    @Test func dictionaryLiteralWithARepeatedKeyKeepsFirstPositionAndLastValue() {
        let value = JSONValue(dictionaryLiteral: ("a", 1), ("b", 2), ("a", 3))
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value["a"]?.intValue == 3)
    }
}
