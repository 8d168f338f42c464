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

/// The routes' templates, matched without knowing what the routes lead to.
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

    private(set) var routes: [Route] = []

    /// Adds a route; returns the value index it replaces when method and template were known.
    mutating func add(_ method: String, _ template: String, valueIndex: Int) -> Int? {
        let segments = RouteTable.split(template).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count >= 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
        if let index = routes.firstIndex(where: { $0.method == method && $0.template == template }) {
            routes[index].segments = segments
            return routes[index].valueIndex
        }
        routes.append(Route(method: method, template: template, segments: segments, valueIndex: valueIndex))
        return nil
    }

    func match(method: String, path: String) -> Match {
        let parts = RouteTable.split(path)
        // The most specific template that fits the path decides, whatever its methods: a literal
        // segment (`/v1/memories/count`) hides a parameter (`/v1/memories/{id}`) for every method,
        // so a method the literal route lacks is 405 with the literal route's Allow, not a lookup
        // of an object named "count".
        var fitting: [(route: Route, score: [Bool])] = []
        var bestScore: [Bool]?
        for route in routes where route.segments.count == parts.count {
            guard let score = RouteTable.score(route.segments, parts) else { continue }
            fitting.append((route, score))
            if bestScore == nil || RouteTable.isMoreSpecific(score, than: bestScore!) { bestScore = score }
        }
        guard let bestScore else { return .notFound }
        let candidates = fitting.filter { $0.score == bestScore }.map(\.route)
        let found = candidates.first { $0.method == method }
            ?? (method == "HEAD" ? candidates.first { $0.method == "GET" } : nil)
        guard let found else {
            var allowed: [String] = []
            for route in candidates where !allowed.contains(route.method) { allowed.append(route.method) }
            if let get = allowed.firstIndex(of: "GET"), !allowed.contains("HEAD") {
                allowed.insert("HEAD", at: get + 1)
            }
            return .methodNotAllowed(allow: allowed)
        }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(found.segments, parts) {
            if case .parameter(let name) = segment {
                guard let decoded = RouteTable.percentDecode(part) else { return .notFound }
                parameters[name] = decoded
            }
        }
        return .found(valueIndex: found.valueIndex, parameters: parameters, template: found.template)
    }

    /// Splits on every `/` after the leading one, keeping empty segments (so `/a/` is `["a", ""]`).
    private static func split(_ path: String) -> [Substring] {
        var body = Substring(path)
        if body.first == "/" { body = body.dropFirst() } else { return [Substring("\u{0}invalid")] }
        return body.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// For each segment, whether it matched literally; nil when the path does not fit.
    private static func score(_ segments: [Segment], _ parts: [Substring]) -> [Bool]? {
        var result: [Bool] = []
        result.reserveCapacity(segments.count)
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard literal == part else { return nil }
                result.append(true)
            case .parameter:
                guard !part.isEmpty else { return nil }
                result.append(false)
            }
        }
        return result
    }

    /// Left to right, the first segment where one is literal and the other a parameter decides.
    private static func isMoreSpecific(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x }
        return false
    }

    /// Decodes `%XX` escapes; nil for an invalid escape, a decoded NUL or invalid UTF-8.
    static func percentDecode(_ part: Substring) -> String? {
        PercentEncoding.decode(part, plusIsSpace: false)
    }
}
