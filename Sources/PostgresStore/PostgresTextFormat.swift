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
    static let referenceDateUnixSeconds: Double = 978_307_200

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
}
