import HTTPServer
/// The decoded `name=value` pairs of a query string, in order.
struct QueryParameters: Sendable {
    private(set) var pairs: [(name: String, value: String)] = []
    /// Set when some part could not be decoded (bad percent-encoding, NUL or invalid UTF-8).
    private(set) var isMalformed = false
    /// The name of the first parameter whose value could not be decoded, when its name could.
    private(set) var malformedName: String?

    init(_ query: String) {
        guard !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = part.firstIndex(of: "=") {
                name = part[..<equals]
                value = part[part.index(after: equals)...]
            } else {
                name = part
                value = ""
            }
            guard let decodedName = Self.decode(name), let decodedValue = Self.decode(value) else {
                if !isMalformed, let decodedName = Self.decode(name) { malformedName = decodedName }
                isMalformed = true
                continue
            }
            pairs.append((decodedName, decodedValue))
        }
    }

    /// The first value of `name`.
    subscript(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// Percent-decoding with `+` as space; nil on a bad escape, a decoded NUL or invalid UTF-8.
    static func decode(_ text: Substring) -> String? {
        PercentEncoding.decode(text, plusIsSpace: true)
    }
}
