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
        var admitted = Admitted(route: route, request: request, parameters: parameters, template: template,
                                endpoint: endpoint, responder: responder)
        let kinds: [TenantSlots.Kind]
        do {
            kinds = try admit(&admitted)
        } catch {
            responder.respond(refusal(error, admitted))
            return
        }
        guard let principal = admitted.principal, !kinds.isEmpty else {
            serve(admitted, lease: nil)
            return
        }
        // Every other tenant request first takes its tenant's slots, waiting for them without
        // holding this worker.
        let slots = services.tenantSlots
        let waiting = admitted
        guard let lease = slots.acquire(
            principal.orgID, kinds,
            granted: { lease in
                let accepted = services.workers.submit { serve(waiting, lease: lease) }
                if !accepted {
                    lease.releaseAll()
                    refuse(waiting, .unavailable(retryAfter: 1))
                }
            },
            timedOut: { kind in refuse(waiting, concurrentLimit(kind, waiting)) })
        else { return }
        serve(admitted, lease: lease)
    }

    /// Runs one request through every step of `run` on the calling (worker) thread and returns its
    /// response instead of sending it; nil when the handler streamed its answer through
    /// `responder` itself. Metrics and usage are counted under `endpoint`. The MCP endpoint calls
    /// this with the REST request a tool call stands for, so a tool call is admitted, limited,
    /// counted and made idempotent exactly as its REST twin is. A tool call past its tenant's
    /// slots waits for them on this thread (it already holds a worker for the MCP request).
    func process(route: Route, request: HTTPRequest, parameters: [String: String], template: String,
                 endpoint: String, responder: HTTPResponder) -> HTTPResponse? {
        var admitted = Admitted(route: route, request: request, parameters: parameters, template: template,
                                endpoint: endpoint, responder: responder)
        let kinds: [TenantSlots.Kind]
        do {
            kinds = try admit(&admitted)
        } catch {
            return refusal(error, admitted)
        }
        guard let principal = admitted.principal, !kinds.isEmpty else {
            return response(admitted, lease: nil)
        }
        switch services.tenantSlots.acquireWaiting(principal.orgID, kinds) {
        case .success(let lease):
            return response(admitted, lease: lease)
        case .failure(let full):
            let refused = render(.failure(concurrentLimit(full.kind, admitted)), request: request, principal: nil,
                                 rateHeaders: admitted.rateHeaders)
            services.metrics.record(route: endpoint, status: refused.status, since: request.receivedAt)
            return refused
        }
    }

    /// Authentication, admission and scope of `admitted` (filling in its principal, rate headers
    /// and fused row); returns the tenant slots its handler must hold (none for service and
    /// operator routes, and for a fused request whose database work is already done).
    private func admit(_ admitted: inout Admitted) throws -> [TenantSlots.Kind] {
        let (route, request) = (admitted.route, admitted.request)
        switch route.access {
        case .service:
            return []
        case .operator:
            try checkOperatorToken(request)
            return []
        case .tenant(let scope):
            // The hottest routes do their work in the admission's statement (one round trip),
            // except with an Idempotency-Key, whose record must be claimed first.
            let fused = request.headers["Idempotency-Key"] == nil
                ? route.fused.flatMap { $0.prepare(request, admitted.parameters, scope) } : nil
            let (caller, row) = try authenticate(request, endpoint: admitted.endpoint, fused: fused)
            admitted.principal = caller
            admitted.rateHeaders = caller.rateLimit.headers
            admitted.fusedRow = row
            guard caller.scopes.contains(scope) else {
                throw APIError.insufficientScope(scope.names.first ?? "read")
            }
            if StorageAccounting.storingEndpoints.contains(admitted.endpoint) {
                // Read a tenant's storage figure on its first write here before any transaction
                // (an idempotent one holds a connection), so the check never leases a second one.
                _ = try services.storage.figure(orgID: caller.orgID)
            }
            return row == nil ? [.connection] + (route.slot.map { [$0] } ?? []) : []
        }
    }

    /// The answer to a request refused before its handler ran (401, 403, 429 of the limiter...).
    private func refusal(_ error: any Error, _ admitted: Admitted) -> HTTPResponse {
        let request = admitted.request
        let apiError = Self.apiError(from: error, requestID: request.requestID)
        let response = render(.failure(apiError), request: request, principal: nil, rateHeaders: admitted.rateHeaders)
        finish(request: request, endpoint: admitted.endpoint, principal: admitted.principal, status: response.status)
        return response
    }

    /// The 429 for a request whose tenant's `kind` slots stayed full: counted as rate limited.
    private func concurrentLimit(_ kind: TenantSlots.Kind, _ admitted: Admitted) -> APIError {
        if let principal = admitted.principal {
            services.metrics.recordRateLimited()
            services.usage.recordRateLimited(principal: principal, endpoint: admitted.endpoint)
        }
        return .concurrentLimit(kind, limits: services.tenantSlots.limits)
    }

    /// A request past authentication, admission and scope, on its way to the handler.
    private struct Admitted: Sendable {
        let route: Route
        let request: HTTPRequest
        let parameters: [String: String]
        let template: String
        let endpoint: String
        let responder: HTTPResponder
        var principal: Principal?
        var rateHeaders: [(String, String)] = []
        var fusedRow: PostgresRow?
    }

    /// Answers an admitted request with `error` before its handler ran (not counted as usage).
    private func refuse(_ admitted: Admitted, _ error: APIError) {
        let response = render(.failure(error), request: admitted.request, principal: nil,
                              rateHeaders: admitted.rateHeaders)
        services.metrics.record(route: admitted.endpoint, status: response.status, since: admitted.request.receivedAt)
        admitted.responder.respond(response)
    }

    /// Runs the handler of an admitted request and answers it.
    private func serve(_ admitted: Admitted, lease: TenantSlots.Lease?) {
        if let response = response(admitted, lease: lease) {
            admitted.responder.respond(response)
        }
    }

    /// Runs the handler of an admitted request (holding `lease`, released when the handler is done
    /// unless the handler took it) and returns its response; nil when the handler streamed it.
    private func response(_ admitted: Admitted, lease: TenantSlots.Lease?) -> HTTPResponse? {
        defer { lease?.releaseAll() }
        let (route, request, endpoint, principal) = (admitted.route, admitted.request, admitted.endpoint, admitted.principal)
        let rateHeaders = admitted.rateHeaders
        var response: HTTPResponse
        do {
            var context = RequestContext(
                request: request, parameters: admitted.parameters, query: QueryParameters(request.query),
                routeTemplate: admitted.template, services: services, responder: admitted.responder,
                principal: principal, pool: Database(pool: services.pool))
            context.lease = lease
            if context.query.isMalformed {
                if let name = context.query.malformedName {
                    throw APIError.invalidField(name, "not valid percent-encoded UTF-8 (or holds NUL)")
                }
                throw APIError.invalidField("query", "the query string is not valid percent-encoded UTF-8")
            }
            // Service routes have no tenant to keep records for (`POST /mcp` passes the header on to
            // the tool calls it makes).
            if let key = request.headers["Idempotency-Key"], Self.isIdempotentMethod(request.method),
               !route.access.isService {
                response = try Idempotency(pool: services.pool).run(key: key, context: context, rateHeaders: rateHeaders) { (bound: RequestContext) throws(APIError) -> APIResponse in
                    try self.invoke(route, bound)
                } render: { result in
                    self.render(result, request: request, principal: principal, rateHeaders: rateHeaders)
                }
            } else {
                let fusedRow = admitted.fusedRow
                let result: Result<APIResponse, APIError> = Result { () throws(APIError) in
                    if let fusedRow, let fused = route.fused {
                        do {
                            if let response = try fused.finish(context, fusedRow) { return response }
                        } catch {
                            throw Self.apiError(from: error, requestID: request.requestID)
                        }
                    }
                    return try invoke(route, context)
                }
                if case .success(let value) = result, case .streamed = value.body {
                    finish(request: request, endpoint: endpoint, principal: principal, status: 200)
                    return nil
                }
                response = render(result, request: request, principal: principal, rateHeaders: rateHeaders)
            }
        } catch {
            let apiError = Self.apiError(from: error, requestID: request.requestID)
            response = render(.failure(apiError), request: request, principal: nil, rateHeaders: rateHeaders)
        }
        if let principal, response.status == 429, StorageAccounting.storingEndpoints.contains(endpoint),
           let key = try? Self.presentedKey(request), let figure = try? services.storage.figure(orgID: principal.orgID) {
            // A write refused by a full storage quota: later writes of this key are refused before
            // admission while the tenant stays full.
            services.admission.rememberStorageRefusal(key: key, error: StorageAccounting.refusal(figure),
                                                      principal: principal)
        }
        if let principal {
            response.logFields.append(("org", principal.orgID))
            response.logFields.append(("key_prefix", principal.keyPrefix))
        }
        finish(request: request, endpoint: endpoint, principal: principal, status: response.status)
        return response
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

    /// The one place errors become API errors: ``APIError/init(_:requestID:)``.
    static func apiError(from error: any Error, requestID: String) -> APIError {
        APIError(error, requestID: requestID)
    }

    /// Builds the HTTP response for a handler's result.
    func render(_ result: Result<APIResponse, APIError>, request: HTTPRequest, principal: Principal?,
                rateHeaders: [(String, String)]) -> HTTPResponse {
        var headers = APIError.baseHeaders(path: request.path, rateHeaders: rateHeaders)
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
                if !bytes.isEmpty { headers.add("Content-Type", contentType) }  // no body, no type (MCP's 202)
                return HTTPResponse(status: response.status, headers: headers, body: bytes)
            case .streamed:
                return HTTPResponse(status: response.status, headers: headers)
            }
        case .failure(let error):
            return error.response(requestID: request.requestID, headers: headers)
        }
    }

    private func finish(request: HTTPRequest, endpoint: String, principal: Principal?, status: Int) {
        services.metrics.record(route: endpoint, status: status, since: request.receivedAt)
        if let principal {
            services.usage.recordRequest(principal: principal, endpoint: endpoint, status: status)
        }
    }

    // MARK: - Authentication (the credentials themselves: Pipeline+Credentials.swift)

    /// The key's tenant and scopes, checked (401, 403) without taking a token from its bucket and
    /// without counting a request: for protocol messages that do no work on the tenant's data.
    func identify(_ request: HTTPRequest) throws(APIError) -> Principal {
        try authenticate(request, endpoint: "", fused: nil, isLimited: false).0
    }

    private func authenticate(_ request: HTTPRequest, endpoint: String,
                              fused: (sql: String, parameters: [PostgresValue])?,
                              isLimited: Bool = true) throws(APIError) -> (Principal, PostgresRow?) {
        let address = ClientAddress.resolve(
            peer: request.peerAddress, forwardedFor: request.headers.values("X-Forwarded-For"),
            trustedProxies: services.configuration.trustedProxies)
        let outcome: Admission.Outcome
        do {
            // A console session acts as the key that made it; a request carrying a key is judged by it.
            if let sessionKey = try ConsoleSessions.tenantKeyHash(for: request, services: services) {
                outcome = try services.admission.admit(
                    keyHash: sessionKey, clientAddress: address, fused: fused,
                    isStoring: StorageAccounting.storingEndpoints.contains(endpoint), isLimited: isLimited)
            } else {
                let key = try Self.presentedKey(request)
                outcome = try services.admission.admit(
                    key: key, clientAddress: address, fused: fused,
                    isStoring: StorageAccounting.storingEndpoints.contains(endpoint), isLimited: isLimited)
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
}

/// Whole milliseconds since `start`.
func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Int {
    let (seconds, attoseconds) = (ContinuousClock.now - start).components
    return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
}
