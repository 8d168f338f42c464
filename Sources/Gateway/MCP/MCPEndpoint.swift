import Auth
import HTTPServer

/// `POST /mcp`: the Model Context Protocol's Streamable HTTP transport (JSON-RPC 2.0, protocol
/// versions 2025-06-18 and 2025-03-26), answered with `application/json`, never a stream.
///
/// Stateless: no `Mcp-Session-Id` is issued and nothing is kept between requests, so any instance
/// answers any request. Every request proves its key (401 with `WWW-Authenticate` otherwise).
/// `initialize`, `ping` and `tools/list` check the key without taking a token from its bucket;
/// each `tools/call` becomes the REST request of its tool (`MCPTool`) and runs through the
/// `Pipeline` like one: admitted, limited, counted as `MCP <tool>`, idempotent under the HTTP
/// request's `Idempotency-Key`, done by the REST handler. Its REST answer becomes the tool result:
/// `structuredContent` is the REST `data`, a refusal or failure is `isError: true` with the
/// envelope's code and message.
enum MCPEndpoint {
    static let supportedVersions = ["2025-06-18", "2025-03-26"]
    static let latestVersion = "2025-06-18"
    /// The version a request without `MCP-Protocol-Version` speaks (the transport spec's rule).
    static let defaultVersion = "2025-03-26"
    /// Most messages in one JSON-RPC batch (2025-03-26 only).
    static let maxBatchSize = 100

    /// The same routes the server has, to find a tool's REST handler and its path parameters.
    private static let router = Routes.make()

    static func handle(_ context: RequestContext) throws -> APIResponse {
        let request = context.request
        _ = try Pipeline.presentedKey(request)  // no key at all: 401 before reading anything
        if let contentType = request.headers["Content-Type"], !RequestContext.isJSON(contentType) {
            throw APIError.unsupportedMediaType
        }
        var version = defaultVersion
        if let header = request.headers["MCP-Protocol-Version"] {
            let trimmed = header.trimmingCharacters(in: .whitespaces)
            guard supportedVersions.contains(trimmed) else {
                return rejection(.invalidRequest(
                    "unsupported MCP-Protocol-Version '\(header)'; supported: \(supportedVersions.joined(separator: ", "))"))
            }
            version = trimmed
        }
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(request.body)
        } catch {
            return rejection(RPCError(code: RPCError.parseError, message: "Parse error: \(error.message)"))
        }

        var exchange = Exchange(context: context, isBatch: false)
        let responses: [JSONValue]
        switch parsed {
        case .array(let items):
            guard version != "2025-06-18" else {
                return rejection(.invalidRequest("JSON-RPC batches are not part of MCP protocol version 2025-06-18"))
            }
            guard !items.isEmpty else { return rejection(.invalidRequest("an empty batch")) }
            guard items.count <= maxBatchSize else {
                return rejection(.invalidRequest("a batch holds at most \(maxBatchSize) messages"))
            }
            exchange.isBatch = true
            var answers: [JSONValue] = []
            for (index, item) in items.enumerated() {
                exchange.index = index
                if let answer = try exchange.answer(item) { answers.append(answer) }
                if let refusal = exchange.credentialRefusal { return passThrough(refusal) }
            }
            responses = answers
        default:
            let message = Message(parsed)
            if case .invalid(_, let error) = message {
                return rejection(error)
            }
            let answer = try exchange.answer(parsed)
            if let refusal = exchange.credentialRefusal { return passThrough(refusal) }
            responses = answer.map { [$0] } ?? []
        }
        // Every request proves its key, even one holding only notifications or failed messages.
        if !exchange.isAuthenticated { _ = try exchange.principal() }

        guard !responses.isEmpty else {
            // Only notifications and responses: accepted, no body (the transport's 202).
            return APIResponse(status: 202, contentType: "application/json", bytes: [])
        }
        let body: JSONValue = exchange.isBatch ? .array(responses) : responses[0]
        var response = APIResponse(status: 200, contentType: "application/json", bytes: body.jsonBytes)
        response.headers = exchange.rateHeaders
        return response
    }

    /// An HTTP 400 whose body is a JSON-RPC error without an id (input the server cannot accept).
    private static func rejection(_ error: RPCError) -> APIResponse {
        APIResponse(status: 400, contentType: "application/json", bytes: error.response(id: .null).jsonBytes)
    }

    /// A tool call whose key was refused (401, or 403 for a suspended tenant or a forbidden
    /// address): the whole HTTP request gets the REST answer, `WWW-Authenticate` included.
    private static func passThrough(_ refused: HTTPResponse) -> APIResponse {
        var response = APIResponse(status: refused.status, contentType: "application/json", bytes: refused.body)
        response.headers = refused.headers.filter { $0.name != "Content-Type" }.map { ($0.name, $0.value) }
        return response
    }
}

/// One JSON-RPC message as received.
enum Message {
    case request(id: JSONValue, method: String, params: JSONValue?)
    case notification(method: String)
    /// A client's response to a server request; this server sends none, so it is accepted and dropped.
    case response
    case invalid(id: JSONValue, RPCError)

    init(_ value: JSONValue) {
        guard case .object(let object) = value else {
            self = .invalid(id: .null, .invalidRequest("a JSON-RPC message is an object"))
            return
        }
        var id: JSONValue = .null
        if let given = object["id"] {
            switch given {
            case .string, .number: id = given
            default:
                self = .invalid(id: .null, .invalidRequest("id must be a string or a number"))
                return
            }
        }
        guard object["jsonrpc"] == .string("2.0") else {
            self = .invalid(id: id, .invalidRequest("jsonrpc must be \"2.0\""))
            return
        }
        if let method = object["method"] {
            guard let name = method.stringValue else {
                self = .invalid(id: id, .invalidRequest("method must be a string"))
                return
            }
            if let params = object["params"], params.objectValue == nil, params.arrayValue == nil {
                self = .invalid(id: id, .invalidRequest("params must be an object"))
                return
            }
            self = object["id"] == nil ? .notification(method: name) : .request(id: id, method: name, params: object["params"])
        } else if object["id"] != nil, object["result"] != nil || object["error"] != nil {
            self = .response
        } else {
            self = .invalid(id: id, .invalidRequest("neither a request, a notification nor a response"))
        }
    }
}

/// A JSON-RPC error object.
struct RPCError: Error {
    static let parseError = -32700
    static let invalidRequestCode = -32600
    static let methodNotFound = -32601
    static let invalidParams = -32602

    var code: Int
    var message: String

    static func invalidRequest(_ message: String) -> RPCError {
        RPCError(code: invalidRequestCode, message: "Invalid Request: \(message)")
    }

    static func invalidParams(_ message: String) -> RPCError {
        RPCError(code: invalidParams, message: "Invalid params: \(message)")
    }

    func response(id: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "error": ["code": .int(code), "message": .string(message)]]
    }
}

/// The messages of one HTTP request, answered in order.
struct Exchange {
    let context: RequestContext
    var isBatch: Bool
    /// The message's position in a batch (per-call idempotency keys).
    var index = 0
    /// Set once the key was checked by PostgreSQL (an identification or an admitted tool call).
    private(set) var isAuthenticated = false
    /// A tool call's refused key: the whole request answers with it.
    private(set) var credentialRefusal: HTTPResponse?
    /// The `RateLimit-*` headers of the last tool call, for the HTTP response.
    private(set) var rateHeaders: [(String, String)] = []
    private var identified: Principal?

    init(context: RequestContext, isBatch: Bool) {
        self.context = context
        self.isBatch = isBatch
    }

    /// The caller's key checked (401/403 thrown) without taking a token or counting a request.
    mutating func principal() throws(APIError) -> Principal {
        if let identified { return identified }
        let principal = try Pipeline(services: context.services).identify(context.request)
        identified = principal
        isAuthenticated = true
        return principal
    }

    /// The response to one message, nil for notifications and responses.
    mutating func answer(_ value: JSONValue) throws(APIError) -> JSONValue? {
        switch Message(value) {
        case .notification, .response:
            return nil
        case .invalid(let id, let error):
            return error.response(id: id)
        case .request(let id, let method, let params):
            switch try result(method: method, params: params) {
            case .success(let result):
                return ["jsonrpc": "2.0", "id": id, "result": result]
            case .failure(let error):
                return error.response(id: id)
            }
        }
    }

    private mutating func result(method: String, params: JSONValue?) throws(APIError) -> Result<JSONValue, RPCError> {
        switch method {
        case "initialize":
            guard !isBatch else { return .failure(.invalidRequest("initialize must not be part of a batch")) }
            guard let requested = params?["protocolVersion"]?.stringValue else {
                return .failure(.invalidParams("params.protocolVersion (a string) is required"))
            }
            _ = try principal()
            let version = MCPEndpoint.supportedVersions.contains(requested) ? requested : MCPEndpoint.latestVersion
            return .success([
                "protocolVersion": .string(version),
                "capabilities": ["tools": ["listChanged": false]],
                "serverInfo": ["name": "memory-gateway", "title": "Memory Gateway", "version": .string(GatewayVersion.current)],
                "instructions": "Long-term memory for this user or application. Search it (memory_search) before answering questions that may depend on what was said before; store (memory_store) small, self-contained facts worth remembering.",
            ])
        case "ping":
            _ = try principal()
            return .success(.object(JSONObject()))
        case "tools/list":
            let scopes = try principal().scopes
            let tools = MCPTool.all.filter { scopes.contains($0.scope) }.map(\.listing)
            return .success(["tools": .array(tools)])
        case "tools/call":
            guard let name = params?["name"]?.stringValue else {
                return .failure(.invalidParams("params.name (a string) is required"))
            }
            guard let tool = MCPTool.named(name) else { return .failure(.invalidParams("unknown tool '\(name)'")) }
            var arguments = JSONObject()
            if let given = params?["arguments"], given != .null {
                guard let object = given.objectValue else {
                    return .failure(.invalidParams("params.arguments must be an object"))
                }
                arguments = object
            }
            return .success(call(tool, arguments))
        default:
            return .failure(RPCError(code: RPCError.methodNotFound, message: "Method not found: \(method)"))
        }
    }

    /// Runs a tool as its REST request through the pipeline; the result as MCP shows it.
    private mutating func call(_ tool: MCPTool, _ arguments: JSONObject) -> JSONValue {
        let rest: MCPRESTRequest
        do {
            rest = try MCPRESTRequest(tool: tool, arguments: arguments, context: context,
                                      idempotencySuffix: isBatch ? "#\(index)" : nil)
        } catch {
            return MCPToolResult.failure(error, tool: tool, requestID: context.request.requestID)
        }
        let response: HTTPResponse
        switch MCPEndpoint.route(for: rest.request, tool: tool) {
        case .some(let (route, parameters)):
            guard let answered = Pipeline(services: context.services).process(
                route: route, request: rest.request, parameters: parameters, template: tool.template,
                endpoint: tool.endpoint, responder: context.responder)
            else {
                // No tool's REST twin streams; reaching this is a broken invariant, answered as a bug.
                return MCPToolResult.failure(.internalError, tool: tool, requestID: context.request.requestID)
            }
            response = answered
        case .none:
            return MCPToolResult.failure(.invalidField("id", "is not a valid memory id"), tool: tool,
                                         requestID: context.request.requestID)
        }
        isAuthenticated = isAuthenticated || response.status != 401
        if MCPToolResult.isCredentialRefusal(response) {
            credentialRefusal = response
            return .null
        }
        rateHeaders = response.headers.filter { $0.name.hasPrefix("RateLimit") }.map { ($0.name, $0.value) }
        return MCPToolResult.result(of: response, tool: tool)
    }
}

extension MCPEndpoint {
    /// The REST route a tool's request reaches; nil when its path is not the tool's template (an id
    /// that does not survive percent-decoding).
    static func route(for request: HTTPRequest, tool: MCPTool) -> (Route, [String: String])? {
        guard case .found(let route, let parameters, let template) = router.match(method: tool.method, path: request.path),
              template == tool.template
        else { return nil }
        return (route, parameters)
    }
}
