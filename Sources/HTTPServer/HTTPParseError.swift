/// Why the parser refused a request. Each maps to one status and API error code; after any of them
/// the server answers once with `Connection: close` and closes (it never resynchronises).
enum HTTPParseError: Error, Equatable, Sendable {
    /// Malformed or ambiguous framing (400 `invalid_request`).
    case badRequest(String)
    /// A method or transfer coding the server does not implement (501 `not_implemented`).
    case notImplemented(String)
    /// The request target is over `maxRequestTargetBytes` (414 `uri_too_long`).
    case uriTooLong
    /// The header block or field count is over its limit (431 `header_fields_too_large`).
    case headerFieldsTooLarge
    /// The declared or accumulated body is over `maxBodyBytes` (413 `payload_too_large`).
    case payloadTooLarge

    var status: Int {
        switch self {
        case .badRequest: 400
        case .notImplemented: 501
        case .uriTooLong: 414
        case .headerFieldsTooLarge: 431
        case .payloadTooLarge: 413
        }
    }

    var code: String {
        switch self {
        case .badRequest: "invalid_request"
        case .notImplemented: "not_implemented"
        case .uriTooLong: "uri_too_long"
        case .headerFieldsTooLarge: "header_fields_too_large"
        case .payloadTooLarge: "payload_too_large"
        }
    }

    var message: String {
        switch self {
        case .badRequest(let why): "Malformed HTTP request: \(why)."
        case .notImplemented(let what): "Not implemented: \(what)."
        case .uriTooLong: "The request target is too long."
        case .headerFieldsTooLarge: "The request header fields are too large."
        case .payloadTooLarge: "The request body is too large."
        }
    }
}
