/// Matches a method and a path against templates such as `/v1/memories/{id}`.
///
/// Literal segments win over parameters, HEAD falls back to GET, a trailing slash is a different
/// path, and parameters are percent-decoded per segment after splitting on `/` (so `%2F` stays
/// inside its segment). An invalid percent-encoding or a decoded NUL makes the path not found.
public struct Router<Value: Sendable>: Sendable {
    // The matching itself is not generic (`RouteTable`), so it compiles to specialised code once
    // rather than going through generic metadata on every request; values are found by index.
    private var table = RouteTable()
    private var values: [Value] = []

    public init() {}

    /// Adds a route; a later route for the same method and template replaces the earlier one.
    public mutating func add(_ method: String, _ template: String, _ value: Value) {
        if let index = table.add(method, template, valueIndex: values.count) {
            values[index] = value
        } else {
            values.append(value)
        }
    }

    /// The outcome of `match`.
    public enum Match {
        case found(value: Value, parameters: [String: String], template: String)
        case methodNotAllowed(allow: [String])
        case notFound
    }

    /// Every route in the order added.
    public var routes: [(method: String, template: String)] {
        table.routes.map { ($0.method, $0.template) }
    }

    /// The route for `method` and `path` (the path without its query, still percent-encoded).
    public func match(method: String, path: String) -> Match {
        switch table.match(method: method, path: path) {
        case .found(let index, let parameters, let template):
            return .found(value: values[index], parameters: parameters, template: template)
        case .methodNotAllowed(let allow):
            return .methodNotAllowed(allow: allow)
        case .notFound:
            return .notFound
        }
    }
}

/// The routes' templates in a trie, matched without knowing what the routes lead to.
///
/// One node per distinct template prefix (parameters of any name share a node); a match walks the
/// path's bytes once per branch tried, literal children before the parameter child, and backs up
/// when a branch ends without a route: the first terminal found is the most specific template that
/// fits (the first segment, left to right, where two fitting templates differ in literal versus
/// parameter decides). It allocates nothing but the parameters it returns.
struct RouteTable: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    struct Route: Sendable {
        var method: String
        var template: String
        var segments: [Segment]
        var valueIndex: Int
    }

    enum Match {
        case found(valueIndex: Int, parameters: [String: String], template: String)
        case methodNotAllowed(allow: [String])
        case notFound
    }

    /// A template prefix: where its next segment leads, and the routes that end here.
    struct Node: Sendable {
        var literals: [(bytes: [UInt8], child: Int)] = []
        var parameter: Int?
        /// Indices into `routes`, in the order added (the order of `Allow`).
        var routeIndices: [Int] = []
    }

    private(set) var routes: [Route] = []
    private var nodes: [Node] = [Node()]

    /// Adds a route; returns the value index it replaces when method and template were known.
    mutating func add(_ method: String, _ template: String, valueIndex: Int) -> Int? {
        if let index = routes.firstIndex(where: { $0.method == method && $0.template == template }) {
            return routes[index].valueIndex
        }
        let segments = RouteTable.segments(template)
        var node = 0
        for segment in segments {
            node = child(of: node, for: segment)
        }
        nodes[node].routeIndices.append(routes.count)
        routes.append(Route(method: method, template: template, segments: segments, valueIndex: valueIndex))
        return nil
    }

    func match(method: String, path: String) -> Match {
        var path = path
        return path.withUTF8 { bytes in match(method: method, path: bytes) }
    }

    private func match(method: String, path: UnsafeBufferPointer<UInt8>) -> Match {
        guard path.first == RouteTable.slash, let terminal = find(from: 0, path, start: 1) else { return .notFound }
        // Every route of the terminal node fits the path equally well, whatever its methods: a
        // literal segment (`/v1/memories/count`) hides a parameter (`/v1/memories/{id}`) for every
        // method, so a method the literal route lacks is 405 with the literal route's Allow, not a
        // lookup of an object named "count".
        let candidates = nodes[terminal].routeIndices
        let found = candidates.first { routes[$0].method == method }
            ?? (method == "HEAD" ? candidates.first { routes[$0].method == "GET" } : nil)
        guard let found else { return .methodNotAllowed(allow: allow(candidates)) }
        let route = routes[found]
        guard let parameters = RouteTable.parameters(route.segments, path) else { return .notFound }
        return .found(valueIndex: route.valueIndex, parameters: parameters, template: route.template)
    }

    /// The terminal node of the most specific template fitting the path from `start` (just after
    /// a `/`) below `node`; nil when none fits.
    private func find(from node: Int, _ path: UnsafeBufferPointer<UInt8>, start: Int) -> Int? {
        var end = start
        while end < path.count && path[end] != RouteTable.slash { end += 1 }
        let segment = UnsafeBufferPointer(rebasing: path[start..<end])
        for literal in nodes[node].literals where RouteTable.equal(literal.bytes, segment) {
            if let found = descend(to: literal.child, path, end: end) { return found }
        }
        // A parameter takes a non-empty segment: `/v1/memories/` is not a memory with an empty id.
        if !segment.isEmpty, let child = nodes[node].parameter, let found = descend(to: child, path, end: end) {
            return found
        }
        return nil
    }

    private func descend(to node: Int, _ path: UnsafeBufferPointer<UInt8>, end: Int) -> Int? {
        if end == path.count { return nodes[node].routeIndices.isEmpty ? nil : node }
        return find(from: node, path, start: end + 1)
    }

    /// The child of `node` for `segment`, made when new.
    private mutating func child(of node: Int, for segment: Segment) -> Int {
        switch segment {
        case .literal(let literal):
            let bytes = Array(literal.utf8)
            if let existing = nodes[node].literals.first(where: { $0.bytes == bytes }) { return existing.child }
            nodes.append(Node())
            nodes[node].literals.append((bytes, nodes.count - 1))
        case .parameter:
            if let existing = nodes[node].parameter { return existing }
            nodes.append(Node())
            nodes[node].parameter = nodes.count - 1
        }
        return nodes.count - 1
    }

    /// The methods of `candidates` in the order added, HEAD after GET.
    private func allow(_ candidates: [Int]) -> [String] {
        var allowed: [String] = []
        for index in candidates where !allowed.contains(routes[index].method) { allowed.append(routes[index].method) }
        if let get = allowed.firstIndex(of: "GET"), !allowed.contains("HEAD") {
            allowed.insert("HEAD", at: get + 1)
        }
        return allowed
    }

    /// The route's parameters, percent-decoded per segment; nil when one does not decode.
    private static func parameters(_ segments: [Segment], _ path: UnsafeBufferPointer<UInt8>) -> [String: String]? {
        var parameters: [String: String] = [:]
        var start = 1
        for segment in segments {
            var end = start
            while end < path.count && path[end] != slash { end += 1 }
            if case .parameter(let name) = segment {
                let part = UnsafeBufferPointer(rebasing: path[start..<end])
                // Most ids have no escape: the bytes came from a String, so they are UTF-8 already.
                if !part.contains(where: { $0 == UInt8(ascii: "%") || $0 == 0 }) {
                    parameters[name] = String(decoding: part, as: UTF8.self)
                } else {
                    guard let decoded = PercentEncoding.decode(utf8: part, plusIsSpace: false) else { return nil }
                    parameters[name] = decoded
                }
            }
            start = end + 1
        }
        return parameters
    }

    /// A template's segments: split on every `/` after the leading one, keeping empty segments
    /// (so `/a/` is `["a", ""]`); `{name}` is a parameter.
    private static func segments(_ template: String) -> [Segment] {
        var body = Substring(template)
        if body.first == "/" { body = body.dropFirst() }
        return body.split(separator: "/", omittingEmptySubsequences: false).map { part in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count >= 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
    }

    private static func equal(_ literal: [UInt8], _ segment: UnsafeBufferPointer<UInt8>) -> Bool {
        guard literal.count == segment.count else { return false }
        for i in 0..<literal.count where literal[i] != segment[i] { return false }
        return true
    }

    private static let slash = UInt8(ascii: "/")
}
