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
            var reader = Reader(bytes: buffer)
            return try reader.document()
        }
    }

    /// Parses one complete document from the UTF-8 of `text`.
    static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private enum ASCII {
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
private struct Reader {
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
            case ASCII.space, ASCII.tab, ASCII.lineFeed, ASCII.carriageReturn: position += 1
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
        case ASCII.openBrace: return try object(depth: depth + 1)
        case ASCII.openBracket: return try array(depth: depth + 1)
        case ASCII.quote: return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case ASCII.minus, ASCII.zero...ASCII.nine: return .number(try number())
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
        if position < bytes.count && bytes[position] == ASCII.closeBracket {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw unexpected() }
            switch bytes[position] {
            case ASCII.comma: position += 1
            case ASCII.closeBracket:
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
        if position < bytes.count && bytes[position] == ASCII.closeBrace {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == ASCII.quote else {
                throw position < bytes.count ? JSONError("expected a string key", offset: position) : unexpected()
            }
            let keyOffset = position
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == ASCII.colon else {
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
            case ASCII.comma: position += 1
            case ASCII.closeBrace:
                position += 1
                return .object(object)
            default: throw JSONError("expected ',' or '}'", offset: position)
            }
        }
    }

    // MARK: Numbers

    mutating func number() throws(JSONError) -> JSONNumber {
        let start = position
        var isInteger = true
        if bytes[position] == ASCII.minus { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw JSONError("expected a digit", offset: position)
        }
        if bytes[position] == ASCII.zero {
            position += 1
            if position < bytes.count && isDigit(bytes[position]) {
                throw JSONError("leading zero in number", offset: position - 1)
            }
        } else {
            skipDigits()
        }
        if position < bytes.count && bytes[position] == ASCII.dot {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONError("expected a digit after '.'", offset: position)
            }
            skipDigits()
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            isInteger = false
            position += 1
            if position < bytes.count && (bytes[position] == ASCII.plus || bytes[position] == ASCII.minus) {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONError("expected a digit in exponent", offset: position)
            }
            skipDigits()
        }
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
        return JSONNumber(validatedText: String(decoding: slice, as: UTF8.self), integer: isInteger ? int64(slice) : nil)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte >= ASCII.zero && byte <= ASCII.nine }

    @inline(__always)
    mutating func skipDigits() {
        while position < bytes.count && isDigit(bytes[position]) { position += 1 }
    }

    /// The exact value of an integer literal, `nil` outside `Int64`. Accumulates negatively so
    /// `Int64.min` fits.
    func int64(_ literal: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        let negative = literal[0] == ASCII.minus
        if negative { index = 1 }
        var value: Int64 = 0
        while index < literal.count {
            let digit = Int64(literal[index] - ASCII.zero)
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.subtractingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    // MARK: Strings

    /// A string starting at the opening quote. ASCII and valid UTF-8 without escapes are copied
    /// once, straight from the input; escapes switch to a scratch buffer.
    mutating func string() throws(JSONError) -> String {
        position += 1  // "
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == ASCII.quote {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == ASCII.backslash { break }
            if byte < 0x20 { throw JSONError("control character in string", offset: position) }
            if byte < 0x80 {
                position += 1
            } else {
                try skipMultibyteScalar()
            }
        }
        guard position < bytes.count else { throw JSONError("unterminated string", offset: position) }
        var scratch = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case ASCII.quote:
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            case ASCII.backslash:
                try escape(into: &scratch)
            case 0..<0x20:
                throw JSONError("control character in string", offset: position)
            case 0x20..<0x80:
                scratch.append(byte)
                position += 1
            default:
                let scalarStart = position
                try skipMultibyteScalar()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[scalarStart..<position]))
            }
        }
        throw JSONError("unterminated string", offset: position)
    }

    /// Advances over one well-formed UTF-8 sequence of 2–4 bytes (Unicode Table 3-7).
    mutating func skipMultibyteScalar() throws(JSONError) {
        let lead = bytes[position]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw JSONError("invalid UTF-8", offset: position)
        }
        guard bytes.count - position >= length else { throw JSONError("invalid UTF-8", offset: position) }
        let second = bytes[position + 1]
        guard second >= low && second <= high else { throw JSONError("invalid UTF-8", offset: position) }
        for offset in 2..<length where bytes[position + offset] & 0xC0 != 0x80 {
            throw JSONError("invalid UTF-8", offset: position)
        }
        position += length
    }

    /// One escape sequence starting at the backslash, appended as UTF-8.
    mutating func escape(into scratch: inout [UInt8]) throws(JSONError) {
        let escapeStart = position
        position += 1
        guard position < bytes.count else { throw JSONError("unterminated string", offset: position) }
        let byte = bytes[position]
        position += 1
        switch byte {
        case ASCII.quote: scratch.append(ASCII.quote)
        case ASCII.backslash: scratch.append(ASCII.backslash)
        case ASCII.slash: scratch.append(ASCII.slash)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(ASCII.lineFeed)
        case UInt8(ascii: "r"): scratch.append(ASCII.carriageReturn)
        case UInt8(ascii: "t"): scratch.append(ASCII.tab)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - position >= 2, bytes[position] == ASCII.backslash,
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw JSONError("lone surrogate in \\u escape", offset: escapeStart) }
                position += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONError("lone surrogate in \\u escape", offset: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw JSONError("lone surrogate in \\u escape", offset: escapeStart)
            }
            appendUTF8(scalar, to: &scratch)
        default:
            throw JSONError("invalid escape", offset: escapeStart)
        }
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw JSONError("expected four hex digits", offset: position) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case ASCII.zero...ASCII.nine: digit = UInt32(byte - ASCII.zero)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A")) + 10
            default: throw JSONError("expected four hex digits", offset: position)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    func appendUTF8(_ scalar: UInt32, to scratch: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
