/// How the body of a request is delimited.
enum HTTPBodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// A parsed and validated request head, before its body.
struct HTTPRequestHead: Sendable {
    var method: String
    var target: String
    var version: HTTPVersion
    var headers: HTTPHeaders
    var framing: HTTPBodyFraming
    /// Whether the client allows the connection to stay open after this request.
    var isKeepAlive: Bool
    /// Whether the client sent `Expect: 100-continue`.
    var expectsContinue: Bool
    /// The incoming `X-Request-ID` when valid.
    var incomingRequestID: String?

    /// The target without its query.
    var path: Substring {
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return target[..<q] }
        return Substring(target)
    }
}
