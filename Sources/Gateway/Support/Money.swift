/// An amount of money in integer cents (USD). Arithmetic stays in integers; text is made only at
/// the edge, as the contract's decimal string with two places (`"19.00"`).
struct Money: Sendable, Equatable, Comparable, Hashable {
    /// The amount in cents; may be negative only through subtraction (never in prices).
    var cents: Int64

    /// The currency of every amount the gateway shows.
    static let currency = "USD"

    static let zero = Money(cents: 0)

    init(cents: Int64) {
        self.cents = cents
    }

    /// `"19.00"`, `"0.05"`, `"-1.20"`.
    var decimalString: String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return sign + String(magnitude / 100) + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// The charge for `requests` at `centsPer1000` cents per 1,000 requests, rounded half-up to
    /// the cent once (`1 × 50 / 1000` = 0.05 cents → 0; `10 × 50 / 1000` = 0.5 cents → 1).
    static func perThousand(requests: Int64, centsPer1000: Int64) -> Money {
        guard requests > 0, centsPer1000 > 0 else { return .zero }
        let (product, overflow) = requests.multipliedReportingOverflow(by: centsPer1000)
        if overflow {
            // Beyond Int64 cents × 1000: split to stay exact (whole thousands first).
            let thousands = requests / 1000
            let rest = requests % 1000
            return Money(cents: thousands * centsPer1000 + (rest * centsPer1000 + 500) / 1000)
        }
        return Money(cents: (product + 500) / 1000)
    }

    static func + (lhs: Money, rhs: Money) -> Money {
        Money(cents: lhs.cents + rhs.cents)
    }

    static func < (lhs: Money, rhs: Money) -> Bool {
        lhs.cents < rhs.cents
    }
}
