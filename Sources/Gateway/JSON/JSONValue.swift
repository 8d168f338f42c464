/// A JSON document or part of one (RFC 8259).
///
/// Numbers keep their exact text (``JSONNumber``), objects keep their key order
/// (``JSONObject``), so `parse` then `write` reproduces a compact document byte for byte.
/// Build values with literals: `["id": "mem_1", "tags": ["a", "b"], "score": 0.5, "next": nil]`.
indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// A number from an integer.
    static func int(_ value: some BinaryInteger) -> JSONValue {
        .number(JSONNumber(value))
    }

    /// A number from a double; `null` when `value` is NaN or infinite (JSON has no such numbers).
    static func double(_ value: Double) -> JSONValue {
        JSONNumber(double: value).map(JSONValue.number) ?? .null
    }

    /// The member `key` of an object; `nil` for a missing key or a value that is not an object.
    subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The element at `index` of an array; `nil` when out of bounds or not an array.
    subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// Whether this is `null`.
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The string, if this is one.
    var stringValue: String? {
        guard case .string(let string) = self else { return nil }
        return string
    }

    /// The number, if this is one.
    var numberValue: JSONNumber? {
        guard case .number(let number) = self else { return nil }
        return number
    }

    /// The integer, if this is a number with an integral value that fits in `Int64` (see
    /// ``JSONNumber/int64``: `3`, `-0`, `3.0` and `3e2` qualify; `3.5` and `1e30` do not).
    var int64Value: Int64? { numberValue?.int64 }

    /// ``int64Value`` as `Int`.
    var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// The number as a finite `Double` (nearest value); `nil` if not a number or out of range.
    var doubleValue: Double? {
        guard let double = numberValue?.double, double.isFinite else { return nil }
        return double
    }

    /// The Boolean, if this is one.
    var boolValue: Bool? {
        guard case .bool(let bool) = self else { return nil }
        return bool
    }

    /// The elements, if this is an array.
    var arrayValue: [JSONValue]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    /// The members, if this is an object.
    var objectValue: JSONObject? {
        guard case .object(let object) = self else { return nil }
        return object
    }

    /// The JSON type name for messages: `null`, `boolean`, `number`, `string`, `array`, `object`.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `nil` is `null`.
    init(nilLiteral: ()) { self = .null }
    /// `true` / `false`.
    init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal.
    init(integerLiteral value: Int) { self = .int(value) }
    /// A float literal (always finite).
    init(floatLiteral value: Double) { self = .double(value) }
    /// A string literal.
    init(stringLiteral value: String) { self = .string(value) }
    /// An array literal.
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal, keeping the written key order; a repeated key keeps the first
    /// position and the last value.
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}
