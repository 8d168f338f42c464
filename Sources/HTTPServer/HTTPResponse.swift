/// A complete response. The server adds `Content-Length`, `Date`, `X-Request-ID` and `Connection`
/// itself, and drops the body (keeping `Content-Length`) when answering `HEAD`.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Extra `key=value` fields for the access log line (`org`, `key_prefix`, `db_ms`). Never secrets.
    public var logFields: [(key: String, value: String)]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                logFields: [(key: String, value: String)] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        self.logFields = logFields
    }
}
