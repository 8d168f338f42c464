import Auth
import Foundation
import HTTPServer

/// The credentials a request presents: the singleton headers, the tenant key, the operator token.
extension Pipeline {
    /// Headers a request may carry at most once (contract v1.1, "Singleton headers"), even with
    /// equal values: with two, which one counts would depend on who reads them.
    static let singletonHeaders = ["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type"]

    /// The first of ``singletonHeaders`` that `headers` holds more than once, else nil.
    static func repeatedSingletonHeader(_ headers: HTTPHeaders) -> String? {
        singletonHeaders.first { headers.count(of: $0) > 1 }
    }

    /// The key of the request, from `Authorization: Bearer` or `X-API-Key`.
    static func presentedKey(_ request: HTTPRequest) throws(APIError) -> String {
        var bearer: String?
        if let authorization = request.headers["Authorization"] {
            guard let credentials = bearerCredentials(authorization) else { throw APIError.invalidKey }
            bearer = credentials ?? ""  // `Bearer` with no credentials: no key was presented
        }
        let alias = request.headers["X-API-Key"].map(trimmingWhitespace)
        switch (bearer, alias) {
        case (nil, nil): throw APIError.missingKey
        case (let key?, nil), (nil, let key?):
            guard !key.isEmpty else { throw APIError.missingKey }
            return key
        case ("", let key?), (let key?, ""):
            guard !key.isEmpty else { throw APIError.missingKey }
            return key
        case (let key?, let other?):
            guard key == other else {
                throw APIError.invalidRequest(
                    "Authorization and X-API-Key carry different keys",
                    details: [.init(field: "X-API-Key", message: "differs from the Authorization key")])
            }
            return key
        }
    }

    /// The operator token (`Authorization: Bearer`) or an operator console session; 404 when
    /// no token is configured, so the admin API does not exist.
    func checkOperatorToken(_ request: HTTPRequest) throws(APIError) {
        guard let token = services.configuration.operatorToken else { throw APIError.notFound() }
        do {
            if try ConsoleSessions.admitsOperator(request, services: services) { return }
        } catch {
            throw Self.apiError(from: error, requestID: request.requestID)
        }
        guard let authorization = request.headers["Authorization"] else { throw APIError.missingKey }
        guard case let credentials?? = Self.bearerCredentials(authorization) else { throw APIError.invalidKey }
        let presented = Array(credentials.utf8)
        guard Crypto.constantTimeEquals(Crypto.sha256(presented), Crypto.sha256(Array(token.utf8))) else {
            throw APIError.invalidKey
        }
    }

    /// An `Authorization` value read as `split(separator: " ", maxSplits: 1)` reads it, byte by
    /// byte (this runs on every request, and Foundation's splitting and trimming showed in `perf`):
    /// nil unless the scheme is `Bearer` (any case); then what follows the scheme's first space,
    /// whitespace-trimmed, or nil when nothing follows.
    static func bearerCredentials(_ authorization: String) -> String?? {
        let utf8 = authorization.utf8
        // Beyond ASCII a space may begin a grapheme (a space and a combining mark are one
        // Character, which `split` does not split at): read such values by Character, as before.
        guard utf8.allSatisfy({ $0 < 0x80 }) else {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard let scheme = parts.first, scheme.lowercased() == "bearer" else { return nil }
            return parts.count == 2 ? .some(parts[1].trimmingCharacters(in: .whitespaces)) : .some(nil)
        }
        var start = utf8.startIndex
        while start < utf8.endIndex && utf8[start] == UInt8(ascii: " ") { utf8.formIndex(after: &start) }
        var end = start
        while end < utf8.endIndex && utf8[end] != UInt8(ascii: " ") { utf8.formIndex(after: &end) }
        guard isBearer(utf8[start..<end]) else { return nil }
        guard end < utf8.endIndex, utf8.index(after: end) < utf8.endIndex else { return .some(nil) }
        return .some(trimmingWhitespace(String(decoding: utf8[utf8.index(after: end)...], as: UTF8.self)))
    }

    /// `bearer` in any ASCII case (`| 0x20` folds only `B`, `E`, `A`, `R` onto these letters).
    private static func isBearer(_ scheme: Substring.UTF8View) -> Bool {
        guard scheme.count == 6 else { return false }
        var i = scheme.startIndex
        for letter in "bearer".utf8 {
            guard scheme[i] | 0x20 == letter else { return false }
            scheme.formIndex(after: &i)
        }
        return true
    }

    /// `trimmingCharacters(in: .whitespaces)`, with no Foundation for ASCII (whose only members of
    /// `.whitespaces` are space and tab).
    static func trimmingWhitespace(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return text.trimmingCharacters(in: .whitespaces) }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = utf8.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isBlank($0) })!
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return text }
        return String(decoding: utf8[first...last], as: UTF8.self)
    }
}
