/// An ordered list of header fields with case-insensitive lookup.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of `name` (case-insensitive), if any.
    public subscript(_ name: String) -> String? {
        for field in fields where HTTPHeaders.equalsIgnoringASCIICase(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value of `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPHeaders.equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// How many fields are called `name` (case-insensitive), without collecting their values.
    public func count(of name: String) -> Int {
        var count = 0
        for field in fields where HTTPHeaders.equalsIgnoringASCIICase(field.name, name) { count += 1 }
        return count
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// Removes every field called `name` and adds one with `value`.
    public mutating func replaceOrAdd(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { HTTPHeaders.equalsIgnoringASCIICase($0.name, name) }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// Field names are ASCII tokens: compare them byte by byte, folding ASCII case, without allocating.
    static func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        let x = a.utf8
        let y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where p != q {
            let lp = p >= 0x41 && p <= 0x5A ? p | 0x20 : p
            let lq = q >= 0x41 && q <= 0x5A ? q | 0x20 : q
            if lp != lq { return false }
        }
        return true
    }
}
