import Foundation

/// A plan's prices and its effective request quota: what charging a period needs.
struct PlanPrice: Sendable, Equatable {
    /// Monthly base price, never prorated.
    var baseCents: Int64
    /// Price per 1,000 requests over the quota (paid plans).
    var overageCentsPer1000: Int64
    /// Effective monthly request quota (the plan's or an operator's override).
    var monthlyQuota: Int64
    /// A hard quota refuses instead of charging overage (the free plan).
    var isHardQuota: Bool
}

/// What one tenant owes for one period.
struct Charge: Sendable, Equatable {
    var overageRequests: Int64
    var base: Money
    var overage: Money
    var total: Money { base + overage }

    /// Prices `requests` live requests of one period: the base price, plus for soft quotas
    /// `max(0, requests - quota)` at the overage price, rounded half-up to the cent once.
    /// A hard quota refuses past the quota, so it never has overage.
    static func of(requests: Int64, price: PlanPrice) -> Charge {
        let over = price.isHardQuota ? 0 : max(0, requests - price.monthlyQuota)
        return Charge(overageRequests: over, base: Money(cents: price.baseCents),
                      overage: .perThousand(requests: over, centsPer1000: price.overageCentsPer1000))
    }

    /// `{base, overage, total, currency}` with decimal strings.
    var json: JSONValue {
        .object(JSONObject([
            ("base", .string(base.decimalString)), ("overage", .string(overage.decimalString)),
            ("total", .string(total.decimalString)), ("currency", .string(Money.currency)),
        ]))
    }
}

/// The usage arithmetic, pure so it can be tested with fixed inputs.
enum UsageMath {
    /// `used / quota` in percent as a JSON number with exactly two decimals (`12.50`), rounded
    /// half-up; may exceed 100. A quota of 0 reads 0.00 when nothing is used, else 100.00.
    static func percent(_ used: Int64, of quota: Int64) -> JSONNumber {
        let hundredths: Int64
        if quota <= 0 {
            hundredths = used > 0 ? 10_000 : 0
        } else {
            let (scaled, overflow) = max(0, used).multipliedReportingOverflow(by: 10_000)
            hundredths = overflow
                ? Int64((Double(used) * 10_000 / Double(quota)).rounded())
                : (scaled + quota / 2) / quota
        }
        let fraction = hundredths % 100
        let text = String(hundredths / 100) + "." + (fraction < 10 ? "0" : "") + String(fraction)
        return JSONNumber(validatedText: text, integer: nil)
    }

    /// Shortest period the projection extrapolates from, so the first minutes of a month do not
    /// blow up the estimate.
    static let minimumElapsedSeconds: Int64 = 3600

    /// How the projection is made, shown as `method`.
    static let projectionMethod =
        "linear: requests_to_date / elapsed fraction of the period (elapsed measured in seconds since the period start, at least 1 hour), rounded half-up"

    /// The projected requests of a whole period from `requestsToDate` after `elapsedSeconds` of
    /// a period of `periodSeconds`: linear, with elapsed clamped to [1 hour, period].
    static func projectedRequests(requestsToDate: Int64, elapsedSeconds: Int64, periodSeconds: Int64) -> Int64 {
        guard periodSeconds > 0 else { return requestsToDate }
        let elapsed = min(periodSeconds, max(minimumElapsedSeconds, elapsedSeconds))
        let (scaled, overflow) = requestsToDate.multipliedReportingOverflow(by: periodSeconds * 2)
        if overflow { return Int64((Double(requestsToDate) * Double(periodSeconds) / Double(elapsed)).rounded()) }
        return (scaled + elapsed) / (2 * elapsed)
    }

    /// The calendar month (UTC) holding `date`: its first and last day, its start instant and
    /// its length in seconds.
    static func period(of date: Date) -> (start: UTCDate.Civil, end: UTCDate.Civil, startSeconds: Int64, seconds: Int64) {
        let bounds = UTCDate.monthBounds(date)
        let startDay = Int64(UTCDate.daysSinceEpoch(bounds.start))
        let endDay = Int64(UTCDate.daysSinceEpoch(bounds.end))
        return (bounds.start, bounds.end, startDay * 86_400, (endDay - startDay + 1) * 86_400)
    }

    /// `{start, end}` of a period, both inclusive dates.
    static func periodJSON(start: UTCDate.Civil, end: UTCDate.Civil) -> JSONValue {
        .object(JSONObject([("start", .string(UTCDate.format(start))), ("end", .string(UTCDate.format(end)))]))
    }
}

/// RFC 4180 CSV: CRLF line ends, fields holding a comma, quote, CR or LF quoted with inner
/// quotes doubled.
enum CSV {
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func document(header: [String], rows: [[String]]) -> String {
        var out = header.map(field).joined(separator: ",") + "\r\n"
        for row in rows { out += row.map(field).joined(separator: ",") + "\r\n" }
        return out
    }

    static let contentType = "text/csv; charset=utf-8"

    /// Whether a request asks for CSV: `format=csv` or an `Accept` naming `text/csv`.
    /// `format` other than `json`/`csv` is 400.
    static func isRequested(_ context: RequestContext) throws(APIError) -> Bool {
        if let format = context.query["format"] {
            switch format {
            case "csv": return true
            case "json": return false
            default: throw APIError.invalidField("format", "must be json or csv")
            }
        }
        guard let accept = context.request.headers["Accept"] else { return false }
        // CSV when `text/csv` is acceptable (q > 0) and preferred to JSON (ties go to CSV, which
        // had to be named to be asked for; `*/*` does not ask for CSV).
        var csv = 0.0
        var json = 0.0
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            if type == "text/csv" { csv = max(csv, quality) }
            if type == "application/json" { json = max(json, quality) }
        }
        return csv > 0 && csv >= json
    }
}
