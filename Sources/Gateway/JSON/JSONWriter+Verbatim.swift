extension JSONWriter {
    /// Appends `text`, JSON that is already valid (PostgreSQL's `jsonb` text output), without the
    /// whitespace between its tokens: the bytes ``write(_:into:)`` would give for the parsed value,
    /// without building it.
    ///
    /// That equality holds for `jsonb` output because PostgreSQL writes strings with exactly the
    /// escapes this writer uses (`\"`, `\\`, `\b \f \n \r \t`, other controls as lower-case
    /// `\u00XX`, nothing else escaped), numbers as their stored text, and keys in its own order,
    /// which parsing keeps. Whitespace inside strings is content and is kept.
    static func appendCompacting(json text: String, into buffer: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in
            buffer.reserveCapacity(buffer.count + utf8.count)
            var isInString = false
            var isEscaped = false
            for byte in utf8 {
                if isInString {
                    if isEscaped {
                        isEscaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        isEscaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        isInString = false
                    }
                    buffer.append(byte)
                    continue
                }
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
                case UInt8(ascii: "\""): isInString = true
                default: break
                }
                buffer.append(byte)
            }
        }
    }

    /// Appends `object` like ``write(_:into:)``, except that the member `verbatimKey` (whose value
    /// in `object` is a placeholder) is written as `verbatimJSON`, valid JSON text compacted with
    /// ``appendCompacting(json:into:)``.
    static func write(_ object: JSONObject, verbatimKey: String, verbatimJSON: String, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "{"))
        for (index, member) in object.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            appendString(member.key, into: &buffer)
            buffer.append(UInt8(ascii: ":"))
            if member.key == verbatimKey {
                appendCompacting(json: verbatimJSON, into: &buffer)
            } else {
                write(member.value, into: &buffer)
            }
        }
        buffer.append(UInt8(ascii: "}"))
    }
}
