/// What the server calls for each request. It knows nothing of the gateway's resources.
///
/// `handle` is called on the connection's event-loop thread and must not block: answer at once
/// through `responder` (cheap routes) or hand the work to another thread and answer from there.
/// Every request must be answered exactly once, by `respond` or by a stream that is finished.
///
/// ```swift
/// struct Hello: HTTPHandler {
///     func handle(_ request: HTTPRequest, responder: HTTPResponder) {
///         responder.respond(HTTPResponse(status: 200, body: Array("hi".utf8)))
///     }
///     func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse {
///         HTTPResponse(status: status, body: Array(code.utf8))
///     }
/// }
/// ```
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, responder: HTTPResponder)
    /// The response for something the server refuses itself (400 framing, 413, 414, 431, 501, 503
    /// when over the connection limit, 408 on a slow head...). Must not block.
    func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse
}
