/// The permissions an API key carries. `admin` manages keys and implies nothing else.
///
/// Names on the wire are `read`, `write`, `delete`, `admin`; ``names`` lists them in that
/// canonical order whatever order they were given in.
public struct ScopeSet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    /// Creates a set from its bit pattern (as stored).
    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// GET memories and spaces, query, account, usage.
    public static let read = ScopeSet(rawValue: 1 << 0)
    /// Create and update memories and spaces, extract.
    public static let write = ScopeSet(rawValue: 1 << 1)
    /// Delete memories and spaces.
    public static let delete = ScopeSet(rawValue: 1 << 2)
    /// Manage the tenant's API keys.
    public static let admin = ScopeSet(rawValue: 1 << 3)

    /// Every scope.
    public static let all: ScopeSet = [.read, .write, .delete, .admin]

    /// The scopes in canonical order with their wire names.
    public static let canonical: [(scope: ScopeSet, name: String)] = [
        (.read, "read"), (.write, "write"), (.delete, "delete"), (.admin, "admin"),
    ]

    /// The scope called `name` (exact, lower case), or `nil`.
    public init?(name: String) {
        guard let entry = Self.canonical.first(where: { $0.name == name }) else { return nil }
        self = entry.scope
    }

    /// The union of the named scopes. Repeated names are harmless; an empty list is the empty
    /// set (callers that need a non-empty set check ``isEmpty``).
    ///
    /// - Throws: ``ScopeError/unknownScope(_:)`` naming the first name that is not a scope.
    public init(names: some Sequence<String>) throws(ScopeError) {
        var set: ScopeSet = []
        for name in names {
            guard let scope = ScopeSet(name: name) else { throw .unknownScope(name) }
            set.insert(scope)
        }
        self = set
    }

    /// The union of the named scopes, or `nil` if any name is unknown.
    public static func parse(_ names: some Sequence<String>) -> ScopeSet? {
        try? ScopeSet(names: names)
    }

    /// The wire names of the scopes in the set, in canonical order (`read`, `write`, `delete`, `admin`).
    public var names: [String] {
        Self.canonical.compactMap { contains($0.scope) ? $0.name : nil }
    }

    /// The names joined by commas, e.g. `read,write`.
    public var description: String { names.joined(separator: ",") }
}

/// Why a list of scope names was refused.
public enum ScopeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The given name is not one of `read`, `write`, `delete`, `admin`.
    case unknownScope(String)

    /// A message for people, e.g. `unknown scope "erase"`.
    public var description: String {
        switch self {
        case .unknownScope(let name): "unknown scope \"\(name)\"; expected read, write, delete or admin"
        }
    }
}
