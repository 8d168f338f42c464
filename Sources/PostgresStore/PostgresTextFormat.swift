import Foundation

/// PostgreSQL's text wire format: how parameters are written and result values read.
///
/// Pure functions over bytes, no libpq, so they are tested without a server too. Parsing is by hand
/// (no `DateFormatter`, no intermediate `String`) because it runs once per value of every row.
public enum PostgresTextFormat {
    /// Type OIDs sent with parameters, so the server never guesses (`pg_type.oid`).
    enum TypeOID {
        static let unspecified: UInt32 = 0
        static let bool: UInt32 = 16
        static let bytea: UInt32 = 17
        static let int8: UInt32 = 20
        static let text: UInt32 = 25
        static let float8: UInt32 = 701
        static let textArray: UInt32 = 1009
        static let timestamptz: UInt32 = 1184
        static let jsonb: UInt32 = 3802
    }

    // MARK: Parameters

    /// The type OID sent for a parameter; `.null` leaves the type to the server.
    static func typeOID(of value: PostgresValue) -> UInt32 {
        switch value {
        case .null: return TypeOID.unspecified
        case .text: return TypeOID.text
        case .int: return TypeOID.int8
        case .double: return TypeOID.float8
        case .bool: return TypeOID.bool
        case .timestamp: return TypeOID.timestamptz
        case .jsonb: return TypeOID.jsonb
        case .bytea: return TypeOID.bytea
        case .textArray: return TypeOID.textArray
        }
    }

    /// The text representation of a parameter, `nil` for SQL NULL.
    ///
    /// libpq sends text parameters NUL-terminated, so a value holding a NUL byte would be silently
    /// truncated: it is refused instead, as PostgreSQL itself refuses NUL in text.
    static func encode(_ value: PostgresValue) throws(StoreError) -> [UInt8]? {
        switch value {
        case .null:
            return nil
        case .text(let string), .jsonb(let string):
            return try checkedUTF8(string)
        case .int(let integer):
            return Array(String(integer).utf8)
        case .double(let double):
            if double.isNaN { return Array("NaN".utf8) }
            if double.isInfinite { return Array((double < 0 ? "-Infinity" : "Infinity").utf8) }
            return Array(String(double).utf8)
        case .bool(let bool):
            return [bool ? UInt8(ascii: "t") : UInt8(ascii: "f")]
        case .timestamp(let date):
            return Array(formatTimestamp(date).utf8)
        case .bytea(let bytes):
            return encodeHex(bytes)
        case .textArray(let strings):
            var out: [UInt8] = [UInt8(ascii: "{")]
            for (index, string) in strings.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\""))
                for byte in try checkedUTF8(string) {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                    out.append(byte)
                }
                out.append(UInt8(ascii: "\""))
            }
            out.append(UInt8(ascii: "}"))
            return out
        }
    }

    private static func checkedUTF8(_ string: String) throws(StoreError) -> [UInt8] {
        let bytes = Array(string.utf8)
        if bytes.contains(0) {
            throw .invalidInput(
                sqlstate: SQLState.characterNotInRepertoire, message: "text parameter contains a NUL character")
        }
        return bytes
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func encodeHex(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(2 + bytes.count * 2)
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "x"))
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return out
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-24T10:30:00.123456Z`.
    /// Dates beyond PostgreSQL's range become `infinity` / `-infinity`.
    static func formatTimestamp(_ date: Date) -> String {
        // Date counts from 2001: computing from that (not from 1970) rounds once, not twice.
        let sinceReference = date.timeIntervalSinceReferenceDate
        let seconds = sinceReference + referenceDateUnixSeconds
        // PostgreSQL's timestamptz spans 4713 BC to 294276 AD.
        if seconds.isNaN { return "infinity" }
        if seconds > 9_224_318_016_000 { return "infinity" }
        if seconds < -210_866_803_200 { return "-infinity" }
        let totalMicros = Int64((sinceReference * 1_000_000).rounded()) + Int64(referenceDateUnixSeconds) * 1_000_000
        let (days, microOfDay) = floorDivide(totalMicros, 86_400_000_000)
        let (year, month, day) = civil(fromDays: days)
        let secondOfDay = microOfDay / 1_000_000
        let micro = microOfDay % 1_000_000
        let bc = year <= 0
        var text = ""
        text.reserveCapacity(32)
        text += pad(bc ? 1 - year : year, 4)
        text += "-" + pad(month, 2) + "-" + pad(day, 2)
        text += "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        text += "." + pad(micro, 6) + "Z"
        if bc { text += " BC" }
        return text
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = a / b
        var remainder = a % b
        if remainder < 0 {
            quotient -= 1
            remainder += b
        }
        return (quotient, remainder)
    }

    /// 2001-01-01T00:00:00Z, `Date`'s reference date, in Unix seconds.
    private static let referenceDateUnixSeconds: Double = 978_307_200

    // MARK: Calendar (proleptic Gregorian, H. Hinnant's algorithms)

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func days(fromCivilYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    // MARK: Results

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
