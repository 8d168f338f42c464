/// The HTTP version of a request line.
public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1
}

/// One parsed request, body complete, handed to the `HTTPHandler`.
public struct HTTPRequest: Sendable {
    /// The method token exactly as sent (methods are case-sensitive).
    public var method: String
    /// The raw request-target (origin form), e.g. `/v1/memories?page=2`.
    public var target: String
    /// The path part of the target, before `?`, still percent-encoded.
    public var path: String
    /// The query part after `?`, still percent-encoded; empty when there is none.
    public var query: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body after de-chunking; empty when there is none.
    public var body: [UInt8]
    /// The socket peer's address as text (`127.0.0.1`, `::1`), without the port.
    public var peerAddress: String
    /// The incoming `X-Request-ID` when it is 1–128 of `[A-Za-z0-9._-]`, else a generated `req_…`.
    public var requestID: String
    /// When the request head was complete.
    public var receivedAt: ContinuousClock.Instant

    public init(
        method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [], peerAddress: String = "127.0.0.1", requestID: String = "req_test",
        receivedAt: ContinuousClock.Instant = .now
    ) {
        self.method = method
        self.target = target
        if let q = target.firstIndex(of: "?") {
            self.path = String(target[..<q])
            self.query = String(target[target.index(after: q)...])
        } else {
            self.path = target
            self.query = ""
        }
        self.version = version
        self.headers = headers
        self.body = body
        self.peerAddress = peerAddress
        self.requestID = requestID
        self.receivedAt = receivedAt
    }
}
