import HTTPServer

/// The REST request a tool call stands for: the tool's method and path, its arguments placed in
/// the path, the query string or the JSON body, and the HTTP request's credentials, client
/// address headers, request id and `Idempotency-Key`.
///
/// Only what REST cannot see is checked here: unknown arguments (an agent's misspelt `spaceId`
/// should hear about it, not be ignored) and the type of path and query arguments. Everything else
/// is the REST handler's to validate.
struct MCPRESTRequest {
    let request: HTTPRequest

    /// - Parameter idempotencySuffix: appended to the HTTP request's `Idempotency-Key` (each call
    ///   of a batch gets its own record).
    /// - Throws: 400 `invalid_request` listing every bad argument.
    init(tool: MCPTool, arguments: JSONObject, context: RequestContext, idempotencySuffix: String?) throws(APIError) {
        var issues = Issues()
        for (name, _) in arguments where !tool.arguments.contains(where: { $0.name == name }) {
            let known = tool.arguments.map(\.name).joined(separator: ", ")
            issues.add(name, "is not an argument of \(tool.name)" + (known.isEmpty ? "" : " (\(known))"))
        }
        var path = tool.template
        var query: [String] = []
        var body = JSONObject()
        for argument in tool.arguments {
            guard let value = arguments[argument.name], value != .null else {
                if argument.isRequired, argument.placement == .path { issues.add(argument.name, "is required") }
                continue
            }
            switch argument.placement {
            case .path:
                guard let text = value.stringValue, !text.isEmpty else {
                    issues.add(argument.name, "must be a non-empty string")
                    continue
                }
                guard !MemoryInput.reservedIDs.contains(text) else {
                    issues.add(argument.name, "'\(text)' is a route name, never a memory id")
                    continue
                }
                path = path.replacingOccurrences(of: "{\(argument.restName)}", with: Self.percentEncoded(text))
            case .query:
                guard let text = value.stringValue else {
                    issues.add(argument.name, "must be a string")
                    continue
                }
                query.append("\(argument.restName)=\(Self.percentEncoded(text))")
            case .body:
                body[argument.restName] = value
            }
        }
        try issues.check()

        let outer = context.request
        var headers = HTTPHeaders()
        for name in ["Authorization", "X-API-Key"] {
            if let value = outer.headers[name] { headers.add(name, value) }
        }
        for value in outer.headers.values("X-Forwarded-For") { headers.add("X-Forwarded-For", value) }
        if let key = outer.headers["Idempotency-Key"] { headers.add("Idempotency-Key", key + (idempotencySuffix ?? "")) }
        let hasBody = tool.method == "POST" || tool.method == "PUT"
        if hasBody { headers.add("Content-Type", "application/json") }
        request = HTTPRequest(
            method: tool.method, target: query.isEmpty ? path : path + "?" + query.joined(separator: "&"),
            version: outer.version, headers: headers, body: hasBody ? JSONValue.object(body).jsonBytes : [],
            peerAddress: outer.peerAddress, requestID: outer.requestID, receivedAt: .now)
    }

    /// Percent-encodes every byte but the unreserved ones (RFC 3986), for a path segment or a
    /// query value.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A REST answer as an MCP tool result.
enum MCPToolResult {
    /// A key refused as a credential (401; 403 for a suspended tenant or a forbidden address):
    /// not a tool's failure but the whole request's.
    static func isCredentialRefusal(_ response: HTTPResponse) -> Bool {
        if response.status == 401 { return true }
        guard response.status == 403, let code = (try? JSONParser.parse(response.body))?["error"]?["code"]?.stringValue
        else { return false }
        return code == "tenant_suspended" || code == "ip_not_allowed"
    }

    /// `{content: [{type: text, text}], structuredContent, isError, _meta: {request_id}}`.
    static func result(of response: HTTPResponse, tool: MCPTool) -> JSONValue {
        let envelope = try? JSONParser.parse(response.body)
        let requestID = envelope?["meta"]?["request_id"]?.stringValue ?? ""
        var meta: JSONObject = ["request_id": .string(requestID)]
        if response.headers["Idempotent-Replayed"] == "true" { meta["idempotent_replayed"] = true }
        guard response.status < 400, envelope?["success"] == .bool(true), let data = envelope?["data"] else {
            let error = envelope?["error"]?.objectValue ?? ["code": "internal_error", "message": "internal error"]
            return failure(error, tool: tool, meta: meta)
        }
        let structured: JSONValue = data.objectValue != nil ? data : ["value": data]
        return [
            "content": [["type": "text", "text": .string(String(decoding: data.jsonBytes, as: UTF8.self))]],
            "structuredContent": structured,
            "isError": false,
            "_meta": .object(meta),
        ]
    }

    /// An error found before the REST request was made, as a tool result.
    static func failure(_ error: APIError, tool: MCPTool, requestID: String) -> JSONValue {
        let envelope = (try? JSONParser.parse(Envelope.error(error, requestID: requestID)))?["error"]?.objectValue
        return failure(envelope ?? JSONObject(), tool: tool, meta: ["request_id": .string(requestID)])
    }

    /// `isError: true`; the text carries the envelope's code and message, `structuredContent` its
    /// `error` object. REST field names are shown as the tool's argument names (`context` → `query`).
    private static func failure(_ error: JSONObject, tool: MCPTool, meta: JSONObject) -> JSONValue {
        var error = error
        let renames = tool.arguments.filter { $0.restName != $0.name }.map { ($0.restName, $0.name) }
        if var message = error["message"]?.stringValue {
            for (rest, name) in renames where message.hasPrefix(rest + ":") {
                message = name + message.dropFirst(rest.count)
            }
            error["message"] = .string(message)
        }
        if let details = error["details"]?.arrayValue {
            error["details"] = .array(details.map { detail in
                guard var object = detail.objectValue, let field = object["field"]?.stringValue,
                      let name = renames.first(where: { $0.0 == field })?.1 else { return detail }
                object["field"] = .string(name)
                return .object(object)
            })
        }
        let code = error["code"]?.stringValue ?? "internal_error"
        var text = "\(code): \(error["message"]?.stringValue ?? "")"
        for detail in error["details"]?.arrayValue ?? [] {
            if let field = detail["field"]?.stringValue, let message = detail["message"]?.stringValue {
                text += "\n- \(field): \(message)"
            }
        }
        if let retryAfter = error["retry_after"]?.intValue { text += "\nretry after \(retryAfter) s" }
        return [
            "content": [["type": "text", "text": .string(text)]],
            "structuredContent": ["error": .object(error)],
            "isError": true,
            "_meta": .object(meta),
        ]
    }
}
