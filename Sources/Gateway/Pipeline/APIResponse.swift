import HTTPServer

/// What a handler returns: a status and the `data` of the success envelope as JSON bytes, or a
/// body that is not enveloped (CSV, NDJSON streams are handled apart).
struct APIResponse: Sendable {
    enum Body: Sendable {
        /// JSON for `data`; the pipeline wraps it in the envelope.
        case data([UInt8])
        /// A complete body with its content type, sent as is (CSV).
        case raw(contentType: String, bytes: [UInt8])
        /// Already answered through the responder (a streamed export).
        case streamed
    }

    var status: Int
    var body: Body
    var headers: [(String, String)] = []
    /// For idempotent replays: `data` with secrets blanked (only their hash is kept).
    var replayData: [UInt8]?
    /// Memory ids the response shows, so erasing them also forgets stored replays.
    var memoryIDs: [String] = []

    init(status: Int = 200, data: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.body = .data(data)
        self.headers = headers
    }

    init(status: Int = 200, json: JSONValue, headers: [(String, String)] = []) {
        self.init(status: status, data: json.jsonBytes, headers: headers)
    }

    init(status: Int = 200, contentType: String, bytes: [UInt8]) {
        self.status = status
        self.body = .raw(contentType: contentType, bytes: bytes)
    }

    static let streamedResponse = APIResponse(streamed: ())

    private init(streamed: Void) {
        self.status = 200
        self.body = .streamed
    }
}
