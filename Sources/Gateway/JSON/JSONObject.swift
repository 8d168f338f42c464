/// The members of a JSON object in their original order, with lookup by key.
///
/// Keys are unique: the parser refuses a document that repeats a key (RFC 8259 leaves the
/// meaning open, and guessing "last wins" lets two parsers disagree about one request), and
/// setting an existing key replaces its value in place. Small objects are searched linearly;
/// from ``indexThreshold`` members on, a dictionary index keeps lookups O(1).
struct JSONObject: Sendable, Equatable, Sequence {
    /// The members in order.
    private(set) var members: [(key: String, value: JSONValue)]
    /// Key → position in `members`, built once the object is large.
    private var index: [String: Int]?

    /// Member count at which a lookup index is built.
    static let indexThreshold = 12

    /// An empty object.
    init() {
        members = []
        index = nil
    }

    /// An object from pairs in order; a repeated key keeps its first position and last value.
    init(_ pairs: some Sequence<(String, JSONValue)>) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }

    /// Number of members.
    var count: Int { members.count }

    /// Whether there are no members.
    var isEmpty: Bool { members.isEmpty }

    /// The keys in order.
    var keys: [String] { members.map(\.key) }

    /// The position of `key` in ``members``, if present.
    func position(of key: String) -> Int? {
        if let index { return index[key] }
        return members.firstIndex { $0.key == key }
    }

    /// The value of `key`; setting `nil` removes the member, setting a value replaces it in place
    /// or appends it.
    subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            if let position = position(of: key) {
                if let newValue {
                    members[position].value = newValue
                } else {
                    members.remove(at: position)
                    rebuildIndex()
                }
            } else if let newValue {
                append(key: key, value: newValue)
            }
        }
    }

    /// Appends a member whose key is known to be absent (the parser checks first).
    mutating func append(key: String, value: JSONValue) {
        members.append((key, value))
        if index != nil {
            index?[key] = members.count - 1
        } else if members.count >= Self.indexThreshold {
            rebuildIndex()
        }
    }

    private mutating func rebuildIndex() {
        guard members.count >= Self.indexThreshold else {
            index = nil
            return
        }
        var built: [String: Int] = [:]
        built.reserveCapacity(members.count)
        for (position, member) in members.enumerated() { built[member.key] = position }
        index = built
    }

    /// Iterates the members in order.
    func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    /// Equal when both have the same keys with equal values, in any order (JSON objects are
    /// unordered; order is kept only for faithful output).
    static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs.members {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// `["type": "object", "required": ["id"]]`: members in the order written.
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
