/// Matches a method and a path against templates such as `/v1/memories/{id}`.
///
/// Literal segments win over parameters, HEAD falls back to GET, a trailing slash is a different
/// path, and parameters are percent-decoded per segment after splitting on `/` (so `%2F` stays
/// inside its segment). An invalid percent-encoding or a decoded NUL makes the path not found.
public struct Router<Value: Sendable>: Sendable {
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route: Sendable {
        var method: String
        var template: String
        var segments: [Segment]
        var value: Value
    }

    private var table: [Route] = []

    public init() {}

    /// Adds a route; a later route for the same method and template replaces the earlier one.
    public mutating func add(_ method: String, _ template: String, _ value: Value) {
        let segments = Router.split(template).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count >= 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
        let route = Route(method: method, template: template, segments: segments, value: value)
        if let index = table.firstIndex(where: { $0.method == method && $0.template == template }) {
            table[index] = route
        } else {
            table.append(route)
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
        table.map { ($0.method, $0.template) }
    }

    /// The route for `method` and `path` (the path without its query, still percent-encoded).
    public func match(method: String, path: String) -> Match {
        let parts = Router.split(path)
        var best: (route: Route, score: [Bool])?
        var bestHead: (route: Route, score: [Bool])?
        var allowed: [String] = []
        var anyPath = false
        for route in table where route.segments.count == parts.count {
            guard let score = Router.score(route.segments, parts) else { continue }
            anyPath = true
            if !allowed.contains(route.method) { allowed.append(route.method) }
            if route.method == method, best == nil || Router.isMoreSpecific(score, than: best!.score) {
                best = (route, score)
            }
            if method == "HEAD", route.method == "GET",
                bestHead == nil || Router.isMoreSpecific(score, than: bestHead!.score)
            {
                bestHead = (route, score)
            }
        }
        if let headRoute = bestHead, best == nil || Router.isMoreSpecific(headRoute.score, than: best!.score) {
            best = headRoute
        }
        guard let found = best else {
            if !anyPath { return .notFound }
            if allowed.contains("GET") && !allowed.contains("HEAD") {
                allowed.insert("HEAD", at: allowed.firstIndex(of: "GET")! + 1)
            }
            return .methodNotAllowed(allow: allowed)
        }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(found.route.segments, parts) {
            if case .parameter(let name) = segment {
                guard let decoded = Router.percentDecode(part) else { return .notFound }
                parameters[name] = decoded
            }
        }
        return .found(value: found.route.value, parameters: parameters, template: found.route.template)
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
        let utf8 = Array(part.utf8)
        guard utf8.contains(UInt8(ascii: "%")) else { return String(part) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let byte = utf8[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, let high = hexValue(utf8[i + 1]), let low = hexValue(utf8[i + 2]) else {
                    return nil
                }
                let decoded = high << 4 | low
                if decoded == 0 { return nil }
                bytes.append(decoded)
                i += 3
            } else {
                bytes.append(byte)
                i += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
