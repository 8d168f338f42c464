import HTTPServer

/// The gateway's `HTTPHandler`: routes on the event loop, answers what needs no database there,
/// and hands everything else to the worker threads.
struct GatewayHandler: HTTPHandler {
    let router: Router<Route>
    let services: Services

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let pipeline = Pipeline(services: services)
        // Before routing and before any key is looked at: a proxy that appends its own
        // Authorization must not be overridable by the client's (contract v1.1).
        if let duplicate = Pipeline.repeatedSingletonHeader(request.headers) {
            reject(APIError.invalidRequest(
                "the \(duplicate) header must appear at most once",
                details: [.init(field: duplicate, message: "appears more than once")]), request, responder, pipeline)
            return
        }
        // Without an operator token the operator routes do not exist, for every method (no 405
        // whose Allow would reveal them).
        if services.configuration.operatorToken == nil,
           request.path == "/v1/admin" || request.path.hasPrefix("/v1/admin/") {
            reject(APIError.notFound("route"), request, responder, pipeline)
            return
        }
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            reject(APIError.notFound("route"), request, responder, pipeline)
        case .methodNotAllowed(let allow):
            var error = APIError(status: 405, code: "method_not_allowed",
                                 message: "\(request.method) is not allowed here; allowed: \(allow.joined(separator: ", "))")
            error.headers = [("Allow", allow.joined(separator: ", "))]
            reject(error, request, responder, pipeline)
        case .found(let route, let parameters, let template):
            if route.isInline {
                pipeline.run(route: route, request: request, parameters: parameters, template: template, responder: responder)
                return
            }
            let accepted = services.workers.submit {
                pipeline.run(route: route, request: request, parameters: parameters, template: template, responder: responder)
            }
            if !accepted {
                reject(.unavailable(retryAfter: 1), request, responder, pipeline)
            }
        }
    }

    private func reject(_ error: APIError, _ request: HTTPRequest, _ responder: HTTPResponder, _ pipeline: Pipeline) {
        let response = pipeline.render(.failure(error), request: request, principal: nil, rateHeaders: [])
        services.metrics.record(route: "unmatched", status: response.status, since: request.receivedAt)
        responder.respond(response)
    }

    /// The server's own refusals (malformed HTTP, 408, limits), rendered like every other error.
    func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse {
        APIError(status: status, code: code, message: message)
            .response(requestID: requestID, headers: HTTPHeaders([("Cache-Control", "no-store")]))
    }
}
