import Foundation
import PostgresStore

/// Calendar arithmetic in UTC without Foundation formatters (they are slow and locale-bound).
enum UTCDate {
    struct Civil: Equatable, Sendable {
        var year: Int
        var month: Int
        var day: Int
    }

    /// The civil date of `date` in UTC.
    static func civil(_ date: Date) -> Civil {
        let seconds = Int(floor(date.timeIntervalSince1970))
        return civil(daysSinceEpoch: seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
    }

    /// Howard Hinnant's days-to-civil (one implementation, in `PostgresStore`).
    static func civil(daysSinceEpoch days: Int) -> Civil {
        let c = PostgresTextFormat.civil(fromDays: Int64(days))
        return Civil(year: Int(c.year), month: Int(c.month), day: Int(c.day))
    }

    /// Days since 1970-01-01 of a civil date.
    static func daysSinceEpoch(_ c: Civil) -> Int {
        Int(PostgresTextFormat.days(fromCivilYear: Int64(c.year), month: Int64(c.month), day: Int64(c.day)))
    }

    static func format(_ c: Civil) -> String {
        pad(c.year, 4) + "-" + pad(c.month, 2) + "-" + pad(c.day, 2)
    }

    /// `YYYY-MM-DD` of `date` in UTC.
    static func day(_ date: Date) -> String { format(civil(date)) }

    /// RFC 3339 with milliseconds: `2026-11-24T10:30:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let millis = Int(floor(date.timeIntervalSince1970 * 1000))
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = millis - seconds * 1000
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        return format(civil(daysSinceEpoch: days)) + "T" + pad(rest / 3600, 2) + ":" + pad(rest / 60 % 60, 2) + ":"
            + pad(rest % 60, 2) + "." + pad(ms, 3) + "Z"
    }

    /// The first and last day of the month holding `date`.
    static func monthBounds(_ date: Date) -> (start: Civil, end: Civil) {
        let c = civil(date)
        return monthBounds(year: c.year, month: c.month)
    }

    static func monthBounds(year: Int, month: Int) -> (start: Civil, end: Civil) {
        let start = Civil(year: year, month: month, day: 1)
        let next = month == 12 ? Civil(year: year + 1, month: 1, day: 1) : Civil(year: year, month: month + 1, day: 1)
        return (start, civil(daysSinceEpoch: daysSinceEpoch(next) - 1))
    }

    /// Parses `YYYY-MM-DD` strictly.
    static func parseDay(_ text: String) -> Civil? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = digits(bytes[0..<4]), let month = digits(bytes[5..<7]), let day = digits(bytes[8..<10]),
              (1...12).contains(month), day >= 1, day <= monthBounds(year: year, month: month).end.day
        else { return nil }
        return Civil(year: year, month: month, day: day)
    }

    /// Parses an RFC 3339 date-time strictly (`T` or `t` or space separator, `Z` or ±hh:mm offset,
    /// any fraction); nil otherwise. Returns the instant.
    static func parseTimestamp(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20, let day = parseDay(String(decoding: b[0..<10], as: UTF8.self)),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let hour = digits(b[11..<13]), let minute = digits(b[14..<16]), let second = digits(b[17..<19]),
              hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < b.count, b[index] >= UInt8(ascii: "0"), b[index] <= UInt8(ascii: "9") {
                fraction += Double(b[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offset = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == b.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == b.count, b[index + 3] == UInt8(ascii: ":"),
                  let oh = digits(b[(index + 1)..<(index + 3)]), let om = digits(b[(index + 4)..<(index + 6)]),
                  oh < 24, om < 60
            else { return nil }
            offset = (oh * 3600 + om * 60) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        let seconds = daysSinceEpoch(day) * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `text` (RFC 3339, any offset) as the same instant in UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, its
    /// fraction cut to microseconds (PostgreSQL's precision) without passing through a `Double`;
    /// nil when `text` is not RFC 3339 or the instant falls outside years 0001–9999. PostgreSQL
    /// refuses offsets beyond ±15:59, which RFC 3339 allows: hence the conversion.
    static func canonicalTimestamp(_ text: String) -> String? {
        guard parseTimestamp(text) != nil else { return nil }
        let b = Array(text.utf8)
        guard let day = parseDay(String(decoding: b[0..<10], as: UTF8.self)),
              let hour = digits(b[11..<13]), let minute = digits(b[14..<16]), let second = digits(b[17..<19])
        else { return nil }
        var index = 19
        var fraction = ""
        if b[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < b.count, b[index] >= UInt8(ascii: "0"), b[index] <= UInt8(ascii: "9") { index += 1 }
            fraction = String(decoding: b[start..<min(index, start + 6)], as: UTF8.self)
        }
        var offset = 0
        if b[index] == UInt8(ascii: "+") || b[index] == UInt8(ascii: "-"),
           let oh = digits(b[(index + 1)..<(index + 3)]), let om = digits(b[(index + 4)..<(index + 6)]) {
            offset = (oh * 3600 + om * 60) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
        }
        let total = daysSinceEpoch(day) * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        let days = total >= 0 ? total / 86400 : (total - 86399) / 86400
        let rest = total - days * 86400
        let utc = civil(daysSinceEpoch: days)
        guard (1...9999).contains(utc.year) else { return nil }
        return format(utc) + "T" + pad(rest / 3600, 2) + ":" + pad(rest / 60 % 60, 2) + ":" + pad(rest % 60, 2)
            + (fraction.isEmpty ? "" : "." + fraction) + "Z"
    }

    private static func digits(_ slice: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in slice {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
