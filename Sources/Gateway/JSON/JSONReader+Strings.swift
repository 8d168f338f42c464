/// Strings: UTF-8 validated byte by byte, escapes decoded (surrogate pairs joined, lone ones refused).
extension JSONReader {
    /// A string starting at the opening quote. ASCII and valid UTF-8 without escapes are copied
    /// once, straight from the input; escapes switch to a scratch buffer.
    mutating func string() throws(JSONError) -> String {
        position += 1  // "
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == JSONByte.quote {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == JSONByte.backslash { break }
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
            case JSONByte.quote:
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            case JSONByte.backslash:
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
        case JSONByte.quote: scratch.append(JSONByte.quote)
        case JSONByte.backslash: scratch.append(JSONByte.backslash)
        case JSONByte.slash: scratch.append(JSONByte.slash)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(JSONByte.lineFeed)
        case UInt8(ascii: "r"): scratch.append(JSONByte.carriageReturn)
        case UInt8(ascii: "t"): scratch.append(JSONByte.tab)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - position >= 2, bytes[position] == JSONByte.backslash,
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
            case JSONByte.zero...JSONByte.nine: digit = UInt32(byte - JSONByte.zero)
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
