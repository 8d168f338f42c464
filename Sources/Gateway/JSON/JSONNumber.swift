/// A JSON number, kept as the exact text it was read from or written as.
///
/// Keeping the text means integers of any size survive a round trip unchanged and a number is
/// written back exactly as it came. ``int64`` is exact for integer literals within `Int64`.
struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The number's JSON text, e.g. `-12`, `0.5`, `1e-7`. Always valid RFC 8259 number syntax.
    let text: String
    /// The value when `text` is a plain integer literal (no fraction or exponent) within `Int64`.
    private let integerLiteral: Int64?

    /// A number from text the parser has already checked; `integer` is its exact value when it
    /// is a plain integer literal within `Int64`.
    init(validatedText text: String, integer: Int64?) {
        self.text = text
        self.integerLiteral = integer
    }

    /// A number from an integer; `nil`-free because every integer is a JSON number. Values
    /// outside `Int64` keep their exact text.
    init(_ value: some BinaryInteger) {
        self.text = String(value)
        self.integerLiteral = Int64(exactly: value)
    }

    /// A number from a finite double, written in Swift's shortest round-trip form with a
    /// trailing `.0` dropped (`3.0` → `3`, `0.1` → `0.1`, `1e-07` stays); `nil` for NaN and
    /// infinities.
    init?(double value: Double) {
        guard value.isFinite else { return nil }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        self.text = text
        self.integerLiteral = text.utf8.allSatisfy { $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) } ? Int64(text) : nil
    }

    /// Whether the text is a plain integer literal that fits in `Int64`.
    var isInteger: Bool { integerLiteral != nil }

    /// The value as an integer when it is integral and fits in `Int64`: integer literals are
    /// exact; other forms (`3.0`, `1e3`) qualify when their double value is an integer of
    /// magnitude at most 2^53, where the double is exact.
    var int64: Int64? {
        if let integerLiteral { return integerLiteral }
        let value = double
        guard value.isFinite, value.rounded(.towardZero) == value, abs(value) <= 9_007_199_254_740_992 else {
            return nil
        }
        return Int64(value)
    }

    /// The nearest `Double` (±infinity when the text is out of `Double` range, e.g. `1e400`).
    var double: Double {
        if let integerLiteral { return Double(integerLiteral) }
        // Number syntax is a subset of what `Double.init?(_: String)` accepts.
        return Double(text) ?? .nan
    }

    /// The text.
    var description: String { text }

    /// Equal when both are integer literals with the same value, else when their double values
    /// are equal (so `1`, `1.0` and `1e0` are equal, as in JavaScript).
    static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        if let left = lhs.integerLiteral, let right = rhs.integerLiteral { return left == right }
        if lhs.text == rhs.text { return true }
        return lhs.double == rhs.double
    }
}
