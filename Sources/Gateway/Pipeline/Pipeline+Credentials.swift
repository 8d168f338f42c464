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
        singletonHeaders.first { headers.values($0).count > 1 }
    }

    /// The key of the request, from `Authorization: Bearer` or `X-API-Key`.
    static func presentedKey(_ request: HTTPRequest) throws(APIError) -> String {
        var bearer: String?
        if let authorization = request.headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 1, parts[0].lowercased() == "bearer" {
                bearer = ""  // `Bearer` with no credentials: no key was presented
            } else {
                guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.invalidKey }
                bearer = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        let alias = request.headers["X-API-Key"]?.trimmingCharacters(in: .whitespaces)
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
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.invalidKey }
        let presented = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        guard Crypto.constantTimeEquals(Crypto.sha256(presented), Crypto.sha256(Array(token.utf8))) else {
            throw APIError.invalidKey
        }
    }
}
