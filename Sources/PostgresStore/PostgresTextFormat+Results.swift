import Foundation

/// Reading result values (PostgreSQL's text output): integers, timestamps, bytea, arrays.
extension PostgresTextFormat {
    /// A signed decimal integer (`int2`, `int4`, `int8`), `nil` when malformed or out of range.
    static func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            // Accumulate negatively so Int64.min parses.
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    /// `timestamptz`, `timestamp` or `date` in `DateStyle=ISO`: `2026-11-24 10:30:00.123456+00`, with an
    /// optional offset `±HH[:MM[:SS]]` (none means UTC), an optional ` BC`, or `infinity` / `-infinity`
    /// (mapped to `Date.distantFuture` / `Date.distantPast`). Microseconds are kept exactly.
    static func parseTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var cursor = Cursor(bytes: bytes)
        if cursor.remainingEquals("infinity") { return .distantFuture }
        if cursor.remainingEquals("-infinity") { return .distantPast }
        guard let year = cursor.number(minDigits: 4, maxDigits: 9), cursor.skip("-"),
            let month = cursor.number(minDigits: 2, maxDigits: 2), cursor.skip("-"),
            let day = cursor.number(minDigits: 2, maxDigits: 2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var micro: Int64 = 0
        var offsetSeconds: Int64 = 0
        if cursor.skip(" ") || cursor.skip("T") {
            guard let h = cursor.number(minDigits: 2, maxDigits: 2), cursor.skip(":"),
                let m = cursor.number(minDigits: 2, maxDigits: 2), cursor.skip(":"),
                let s = cursor.number(minDigits: 2, maxDigits: 2)
            else { return nil }
            (hour, minute, second) = (h, m, s)
            if cursor.skip(".") {
                var scale: Int64 = 100_000
                var digits = 0
                while let digit = cursor.digit() {
                    // Beyond microseconds PostgreSQL never prints; ignore if ever present.
                    if digits < 6 { micro += digit * scale }
                    scale /= 10
                    digits += 1
                }
                guard digits > 0 else { return nil }
            }
            if cursor.peek == UInt8(ascii: "+") || cursor.peek == UInt8(ascii: "-") {
                let sign: Int64 = cursor.peek == UInt8(ascii: "-") ? -1 : 1
                cursor.advance()
                guard let offsetHours = cursor.number(minDigits: 2, maxDigits: 2) else { return nil }
                var offsetMinutes: Int64 = 0
                var offsetSecondsPart: Int64 = 0
                if cursor.skip(":") {
                    guard let m = cursor.number(minDigits: 2, maxDigits: 2) else { return nil }
                    offsetMinutes = m
                    if cursor.skip(":") {
                        guard let s = cursor.number(minDigits: 2, maxDigits: 2) else { return nil }
                        offsetSecondsPart = s
                    }
                }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60 + offsetSecondsPart)
            } else if cursor.skip("Z") {
                offsetSeconds = 0
            }
        }
        var astronomicalYear = year
        if cursor.skip(" BC") { astronomicalYear = 1 - year }
        guard cursor.isAtEnd else { return nil }
        let days = days(fromCivilYear: astronomicalYear, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // One division of an exact integer, relative to Date's own epoch (2001): the nearest Date to the
        // instant, so a value written with microsecond precision reads back to the same microsecond
        // (for years 1865 to 2137, where a Double still resolves half a microsecond).
        let microsSinceReference = (seconds - Int64(referenceDateUnixSeconds)) * 1_000_000 + micro
        return Date(timeIntervalSinceReferenceDate: Double(microsSinceReference) / 1_000_000)
    }

    /// `bytea` in the `hex` output format (`\x0aff`), or the older `escape` format.
    static func decodeBytea(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") {
            guard bytes.count % 2 == 0 else { return nil }
            var out = [UInt8]()
            out.reserveCapacity((bytes.count - 2) / 2)
            var index = 2
            while index < bytes.count {
                guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
                out.append(high << 4 | low)
                index += 2
            }
            return out
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                index += 1
            } else if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\") {
                out.append(byte)
                index += 2
            } else if index + 3 < bytes.count, let a = octalValue(bytes[index + 1]),
                let b = octalValue(bytes[index + 2]), let c = octalValue(bytes[index + 3])
            {
                out.append(a << 6 | b << 3 | c)
                index += 4
            } else {
                return nil
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func octalValue(_ byte: UInt8) -> UInt8? {
        (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) ? byte - UInt8(ascii: "0") : nil
    }

    /// A one-dimensional array literal (`{a,"b,c",NULL,"NULL",""}`), elements as strings, SQL NULL as
    /// `nil`. Handles quoting, backslash escapes and a leading `[lower:upper]=` bounds decoration.
    /// Multi-dimensional arrays are not supported (`nil`).
    static func parseArray(_ bytes: UnsafeBufferPointer<UInt8>) -> [String?]? {
        var index = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "[") {
            while index < bytes.count, bytes[index] != UInt8(ascii: "=") { index += 1 }
            index += 1
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var elements: [String?] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            return index + 1 == bytes.count ? elements : nil
        }
        var element: [UInt8] = []
        while true {
            guard index < bytes.count else { return nil }
            element.removeAll(keepingCapacity: true)
            if bytes[index] == UInt8(ascii: "{") { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                index += 1
                while true {
                    guard index < bytes.count else { return nil }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        index += 1
                        break
                    }
                    if byte == UInt8(ascii: "\\") {
                        index += 1
                        guard index < bytes.count else { return nil }
                    }
                    element.append(bytes[index])
                    index += 1
                }
                elements.append(String(decoding: element, as: UTF8.self))
            } else {
                var sawEscape = false
                while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "}") {
                    if bytes[index] == UInt8(ascii: "\\") {
                        sawEscape = true
                        index += 1
                        guard index < bytes.count else { return nil }
                    }
                    element.append(bytes[index])
                    index += 1
                }
                let isNull =
                    !sawEscape && element.count == 4
                    && element.map { $0 | 0x20 } == Array("null".utf8)
                elements.append(isNull ? nil : String(decoding: element, as: UTF8.self))
            }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}"), index + 1 == bytes.count else { return nil }
            return elements
        }
    }
}

/// A forward reader over ASCII bytes for the timestamp parser.
private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { index == bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    mutating func advance() { index += 1 }

    mutating func digit() -> Int64? {
        guard let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        index += 1
        return Int64(byte - UInt8(ascii: "0"))
    }

    mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
        var value: Int64 = 0
        var count = 0
        while count < maxDigits, let digit = digit() {
            value = value * 10 + digit
            count += 1
        }
        return count >= minDigits ? value : nil
    }

    mutating func skip(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] { return false }
        index += count
        return true
    }

    func remainingEquals(_ literal: StaticString) -> Bool {
        var copy = self
        return copy.skip(literal) && copy.isAtEnd
    }
}
