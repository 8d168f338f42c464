/// A strict RFC 8259 parser over UTF-8 bytes, producing ``JSONValue``.
///
/// Refused: invalid UTF-8 anywhere (overlong forms, encoded surrogates, code points past
/// U+10FFFF), a byte-order mark, control characters (U+0000–U+001F) raw in strings, lone
/// surrogates in `\u` escapes, numbers with leading zeros, `+`, `.5`, `1.`, `NaN`/`Infinity`,
/// trailing commas, comments, single quotes, repeated object keys (see ``JSONObject``), nesting
/// deeper than ``maximumDepth``, whitespace other than space, tab, CR and LF, and anything after
/// the value. Any value may be the top level (`"a"`, `3`). Byte-level, without Foundation.
enum JSONParser {
    /// How many arrays and objects may nest (64: `[[…]]` 64 deep parses, 65 deep does not).
    static let maximumDepth = 64

    /// Parses one complete document.
    ///
    /// - Throws: ``JSONError`` with a message and byte offset.
    static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> JSONValue in
            var reader = JSONReader(bytes: buffer)
            return try reader.document()
        }
    }

    /// Parses one complete document from the UTF-8 of `text`.
    static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

/// The bytes the JSON grammar names (the parser's own: `HTTPServer` exports an `ASCII` too).
enum JSONByte {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
}

/// The cursor over the input. Lives only inside `withUnsafeBufferPointer`.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try value(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw JSONError("unexpected data after the JSON value", offset: position) }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case JSONByte.space, JSONByte.tab, JSONByte.lineFeed, JSONByte.carriageReturn: position += 1
            default: return
            }
        }
    }

    func unexpected() -> JSONError {
        if position >= bytes.count { return JSONError("unexpected end of input", offset: position) }
        return JSONError("unexpected character", offset: position)
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard position < bytes.count else { throw unexpected() }
        switch bytes[position] {
        case JSONByte.openBrace: return try object(depth: depth + 1)
        case JSONByte.openBracket: return try array(depth: depth + 1)
        case JSONByte.quote: return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case JSONByte.minus, JSONByte.zero...JSONByte.nine: return .number(try number())
        default: throw unexpected()
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw JSONError("invalid literal", offset: position) }
        let expected = word.utf8Start
        for offset in 0..<count where bytes[position + offset] != expected[offset] {
            throw JSONError("invalid literal", offset: position)
        }
        position += count
    }

    mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else {
            throw JSONError("nesting deeper than \(JSONParser.maximumDepth)", offset: position)
        }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == JSONByte.closeBracket {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw unexpected() }
            switch bytes[position] {
            case JSONByte.comma: position += 1
            case JSONByte.closeBracket:
                position += 1
                return .array(elements)
            default: throw JSONError("expected ',' or ']'", offset: position)
            }
        }
    }

    mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else {
            throw JSONError("nesting deeper than \(JSONParser.maximumDepth)", offset: position)
        }
        position += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if position < bytes.count && bytes[position] == JSONByte.closeBrace {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == JSONByte.quote else {
                throw position < bytes.count ? JSONError("expected a string key", offset: position) : unexpected()
            }
            let keyOffset = position
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == JSONByte.colon else {
                throw position < bytes.count ? JSONError("expected ':'", offset: position) : unexpected()
            }
            position += 1
            skipWhitespace()
            let member = try value(depth: depth)
            guard object.position(of: key) == nil else {
                let shown = key.count <= 40 ? key : String(key.prefix(40)) + "…"
                throw JSONError("duplicate key \"\(shown)\"", offset: keyOffset)
            }
            object.append(key: key, value: member)
            skipWhitespace()
            guard position < bytes.count else { throw unexpected() }
            switch bytes[position] {
            case JSONByte.comma: position += 1
            case JSONByte.closeBrace:
                position += 1
                return .object(object)
            default: throw JSONError("expected ',' or '}'", offset: position)
            }
        }
    }
}
