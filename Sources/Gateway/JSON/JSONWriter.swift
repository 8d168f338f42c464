/// Compact JSON output (RFC 8259) appended to a byte buffer.
///
/// No whitespace; object members in their stored order; strings as raw UTF-8 with only `"`,
/// `\` and U+0000–U+001F escaped (`\b \f \n \r \t` short forms, others `\u00XX` in lower case;
/// `/` and non-ASCII are not escaped); numbers as their ``JSONNumber/text`` (integers as
/// integers, doubles in shortest round-trip form, never NaN or infinity).
enum JSONWriter {
    /// Appends the compact JSON of `value` to `buffer`.
    static func write(_ value: JSONValue, into buffer: inout [UInt8]) {
        switch value {
        case .null: buffer.append(contentsOf: Literal.null)
        case .bool(let bool): buffer.append(contentsOf: bool ? Literal.true : Literal.false)
        case .number(let number): buffer.append(contentsOf: number.text.utf8)
        case .string(let string): appendString(string, into: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                write(element, into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object):
            buffer.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                appendString(member.key, into: &buffer)
                buffer.append(UInt8(ascii: ":"))
                write(member.value, into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON of `value` as bytes.
    static func bytes(_ value: JSONValue) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64)
        write(value, into: &buffer)
        return buffer
    }

    /// Appends `string` as a quoted, escaped JSON string literal. Unescaped runs are copied in bulk.
    static func appendString(_ string: String, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                appendEscape(byte, into: &buffer)
                runStart = index + 1
            }
            if runStart < utf8.count { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// `string` as a JSON string literal, quotes included: `"a\"b"`.
    static func string(escaping string: String) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(string.utf8.count + 2)
        appendString(string, into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    private static func appendEscape(_ byte: UInt8, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
        case 0x08: buffer.append(UInt8(ascii: "b"))
        case 0x0C: buffer.append(UInt8(ascii: "f"))
        case 0x0A: buffer.append(UInt8(ascii: "n"))
        case 0x0D: buffer.append(UInt8(ascii: "r"))
        case 0x09: buffer.append(UInt8(ascii: "t"))
        default:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            buffer.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            buffer.append(hex[Int(byte >> 4)])
            buffer.append(hex[Int(byte & 0x0F)])
        }
    }

    private enum Literal {
        static let null: [UInt8] = Array("null".utf8)
        static let `true`: [UInt8] = Array("true".utf8)
        static let `false`: [UInt8] = Array("false".utf8)
    }
}

extension JSONValue {
    /// The compact JSON bytes of this value.
    var jsonBytes: [UInt8] { JSONWriter.bytes(self) }

    /// The compact JSON text of this value.
    var jsonString: String { String(decoding: JSONWriter.bytes(self), as: UTF8.self) }
}
