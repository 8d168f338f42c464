import Auth
import Foundation
import HTTPServer
import PostgresStore

/// Runs one routed request on a worker thread: authentication and admission, scope, idempotency,
/// the handler, the envelope, usage counting. The order of checks is the contract's: key (401) →
/// suspended / allowed_ips (403) → rate limit and quota (429) → scope (403) → handler.
struct Pipeline: Sendable {
    let services: Services

    func run(route: Route, request: HTTPRequest, parameters: [String: String], template: String,
             responder: HTTPResponder) {
        let endpoint = "\(request.method == "HEAD" ? "GET" : request.method) \(template)"
        var principal: Principal?
        var rateHeaders: [(String, String)] = []
        var response: HTTPResponse
        do {
            var admitted: Principal?
            var fusedRow: PostgresRow?
            switch route.access {
            case .service:
                break
            case .operator:
                try checkOperatorToken(request)
            case .tenant(let scope):
                // The hottest routes do their work in the admission's statement (one round trip),
                // except with an Idempotency-Key, whose record must be claimed first.
                let fused = request.headers["Idempotency-Key"] == nil
                    ? route.fused.flatMap { $0.prepare(request, parameters) } : nil
                let (caller, row) = try authenticate(request, endpoint: endpoint, fused: fused)
                principal = caller
                admitted = caller
                rateHeaders = caller.rateLimit.headers
                fusedRow = row
                guard caller.scopes.contains(scope) else {
                    throw APIError.insufficientScope(scope.names.first ?? "read")
                }
            }
            let context = RequestContext(
                request: request, parameters: parameters, query: QueryParameters(request.query),
                routeTemplate: template, services: services, responder: responder, principal: admitted,
                pool: Database(pool: services.pool))
            if context.query.isMalformed {
                throw APIError.invalidField("query", "the query string is not valid percent-encoded UTF-8")
            }
            if let key = request.headers["Idempotency-Key"], Self.isIdempotentMethod(request.method) {
                response = try Idempotency(pool: services.pool).run(key: key, context: context, rateHeaders: rateHeaders) { (bound: RequestContext) throws(APIError) -> APIResponse in
                    try self.invoke(route, bound)
                } render: { result in
                    self.render(result, request: request, principal: admitted, rateHeaders: rateHeaders)
                }
            } else {
                let result: Result<APIResponse, APIError> = Result { () throws(APIError) in
                    if let fusedRow, let fused = route.fused {
                        do {
                            if let response = try fused.finish(context, fusedRow, Admission.fusedOffset) { return response }
                        } catch {
                            throw Self.apiError(from: error, requestID: request.requestID)
                        }
                    }
                    return try invoke(route, context)
                }
                if case .success(let value) = result, case .streamed = value.body {
                    finish(request: request, endpoint: endpoint, principal: principal, status: 200)
                    return
                }
                response = render(result, request: request, principal: admitted, rateHeaders: rateHeaders)
            }
        } catch {
            let apiError = Self.apiError(from: error, requestID: request.requestID)
            response = render(.failure(apiError), request: request, principal: nil, rateHeaders: rateHeaders)
        }
        if let principal {
            response.logFields.append(("org", principal.orgID))
            response.logFields.append(("key_prefix", principal.keyPrefix))
        }
        finish(request: request, endpoint: endpoint, principal: principal, status: response.status)
        responder.respond(response)
    }

    static func isIdempotentMethod(_ method: String) -> Bool {
        method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH"
    }

    /// Runs the handler, mapping every error to an `APIError`.
    private func invoke(_ route: Route, _ context: RequestContext) throws(APIError) -> APIResponse {
        do {
            return try route.handler(context)
        } catch {
            throw Self.apiError(from: error, requestID: context.request.requestID)
        }
    }

    /// The one place errors become API errors. Nothing internal reaches the client.
    static func apiError(from error: any Error, requestID: String) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as StoreError:
            switch error {
            case .unavailable:
                return .unavailable(retryAfter: 2)
            case .uniqueViolation:
                return .conflict("the object already exists")
            case .serializationFailure:
                // Retried once already by the transaction: contention that a retry soon resolves.
                return APIError(status: 503, code: "service_unavailable",
                                message: "the request conflicted with concurrent ones; retry it", retryAfter: 1)
            case .server(let sqlstate, _) where sqlstate == "57014":
                return APIError(status: 503, code: "service_unavailable",
                                message: "the request took too long and was cancelled; narrow it (fewer words, a space_id, filters) or retry later",
                                retryAfter: 5)
            case .invalidInput:
                return .invalidRequest("a value is not valid",
                                       details: [.init(field: "body", message: "a value is out of range or not valid")])
            default:
                Log.error("store error", ["request_id": requestID, "error": "\(error)"])
                return .internalError
            }
        default:
            Log.error("unexpected error", ["request_id": requestID, "error": "\(error)"])
            return .internalError
        }
    }

    /// Builds the HTTP response for a handler's result.
    func render(_ result: Result<APIResponse, APIError>, request: HTTPRequest, principal: Principal?,
                rateHeaders: [(String, String)]) -> HTTPResponse {
        var headers = HTTPHeaders()
        if request.path.hasPrefix("/v1/") { headers.add("Cache-Control", "no-store") }
        for (name, value) in rateHeaders { headers.add(name, value) }
        switch result {
        case .success(let response):
            for (name, value) in response.headers { headers.add(name, value) }
            switch response.body {
            case .data(let data):
                headers.add("Content-Type", "application/json")
                let body = Envelope.success(data: data, requestID: request.requestID,
                                            processingMilliseconds: elapsedMilliseconds(since: request.receivedAt))
                return HTTPResponse(status: response.status, headers: headers, body: body)
            case .raw(let contentType, let bytes):
                headers.add("Content-Type", contentType)
                return HTTPResponse(status: response.status, headers: headers, body: bytes)
            case .streamed:
                return HTTPResponse(status: response.status, headers: headers)
            }
        case .failure(let error):
            for (name, value) in error.headers { headers.add(name, value) }
            if let retryAfter = error.retryAfter, !headers.contains("Retry-After") {
                headers.add("Retry-After", String(retryAfter))
            }
            headers.add("Content-Type", "application/json")
            return HTTPResponse(status: error.status, headers: headers,
                                body: Envelope.error(error, requestID: request.requestID))
        }
    }

    private func finish(request: HTTPRequest, endpoint: String, principal: Principal?, status: Int) {
        services.metrics.record(route: endpoint, status: status, since: request.receivedAt)
        if let principal {
            services.usage.recordRequest(principal: principal, endpoint: endpoint, status: status)
        }
    }

    // MARK: - Authentication

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

    private func authenticate(_ request: HTTPRequest, endpoint: String,
                              fused: (sql: String, parameters: [PostgresValue])?) throws(APIError) -> (Principal, PostgresRow?) {
        let address = ClientAddress.resolve(
            peer: request.peerAddress, forwardedFor: request.headers.values("X-Forwarded-For"),
            trustedProxies: services.configuration.trustedProxies)
        let outcome: Admission.Outcome
        do {
            // A console session acts as the key that made it; a request carrying a key is judged by it.
            if let sessionKey = try ConsoleSessions.tenantKeyHash(for: request, services: services) {
                outcome = try services.admission.admit(keyHash: sessionKey, clientAddress: address)
            } else {
                let key = try Self.presentedKey(request)
                outcome = try services.admission.admit(key: key, clientAddress: address, fused: fused)
            }
        } catch {
            throw Self.apiError(from: error, requestID: request.requestID)
        }
        switch outcome {
        case .invalid:
            throw APIError.invalidKey
        case .suspended:
            throw APIError(status: 403, code: "tenant_suspended", message: "the tenant is suspended")
        case .ipNotAllowed:
            throw APIError(status: 403, code: "ip_not_allowed", message: "this key may not be used from this address")
        case .refused(var error, let principal):
            services.metrics.recordRateLimited()
            services.usage.recordRateLimited(principal: principal, endpoint: endpoint)
            error.headers.append(contentsOf: principal.rateLimit.headers)
            throw error
        case .admitted(let principal, let fusedRow):
            return (principal, fusedRow)
        }
    }

    private func checkOperatorToken(_ request: HTTPRequest) throws(APIError) {
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

/// Whole milliseconds since `start`.
func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Int {
    let (seconds, attoseconds) = (ContinuousClock.now - start).components
    return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
}
