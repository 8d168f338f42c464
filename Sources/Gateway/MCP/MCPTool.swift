import Auth

/// One MCP tool: its name, the scope that lists it, its input's JSON Schema, and the REST request
/// it stands for. A tool call is turned into that REST request and run through the pipeline, so
/// the REST handler does the validation and the work (the MCP endpoint is a second front door,
/// not a second implementation).
struct MCPTool: Sendable {
    /// Where an argument goes in the REST request.
    enum Placement: Sendable {
        /// The `{id}` of the path; required, a string, never a route name.
        case path
        /// A query-string parameter; a string.
        case query
        /// A member of the JSON body, passed through for the handler to validate.
        case body
    }

    /// One argument of the tool.
    struct Argument: Sendable {
        var name: String
        /// The REST field it becomes (`query` → `context`); the REST validation names that field,
        /// which is mapped back to `name` in the error.
        var restName: String
        var placement: Placement
        var isRequired: Bool
        /// The JSON Schema of the argument, with its description.
        var schema: JSONValue
    }

    var name: String
    var title: String
    var description: String
    var scope: ScopeSet
    /// The REST method and path template (`{id}` filled from the `path` argument).
    var method: String
    var template: String
    var arguments: [Argument]
    /// MCP tool annotations (hints for clients: read-only, destructive, idempotent).
    var annotations: JSONObject

    /// The `usage.by_endpoint` key of a call: `MCP <tool name>`.
    var endpoint: String { "MCP \(name)" }

    /// The tool as `tools/list` shows it.
    var listing: JSONValue {
        var properties = JSONObject()
        for argument in arguments { properties[argument.name] = argument.schema }
        let required = arguments.filter(\.isRequired).map { JSONValue.string($0.name) }
        var schema: JSONObject = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !required.isEmpty { schema["required"] = .array(required) }
        return [
            "name": .string(name), "title": .string(title), "description": .string(description),
            "inputSchema": .object(schema), "annotations": .object(annotations),
        ]
    }
}

extension MCPTool {
    /// The contract's seven tools, in the order `tools/list` shows them.
    static let all: [MCPTool] = [search, get, list, store, update, extract, delete]

    /// The tool named `name`, whatever the caller's scopes.
    static func named(_ name: String) -> MCPTool? {
        all.first { $0.name == name }
    }

    private static func string(_ description: String, maxLength: Int? = nil, minLength: Int? = nil) -> JSONValue {
        var schema: JSONObject = ["type": "string", "description": .string(description)]
        if let minLength { schema["minLength"] = .int(minLength) }
        if let maxLength { schema["maxLength"] = .int(maxLength) }
        return .object(schema)
    }

    private static let memoryID = Argument(
        name: "id", restName: "id", placement: .path, isRequired: true,
        schema: string("The memory's id (as returned by memory_store, memory_search or memory_list).",
                       maxLength: MemoryInput.maxMemoryIDLength, minLength: 1))

    private static func spaceID(_ placement: Placement, _ description: String) -> Argument {
        Argument(name: "space_id", restName: "space_id", placement: placement, isRequired: false,
                 schema: [
                     "type": "string", "description": .string(description), "pattern": "^[A-Za-z0-9_-]{1,64}$",
                 ])
    }

    private static let metadata = Argument(
        name: "metadata", restName: "metadata", placement: .body, isRequired: false,
        schema: [
            "type": "object",
            "description": "Flat facts about the memory (at most 64 keys, 16 KiB): values are strings, numbers, booleans, null or arrays of them.",
        ])

    static let search = MCPTool(
        name: "memory_search", title: "Search memories",
        description: "Full-text search of the stored memories, best first, each with a relevance_score in [0, 1]. "
            + "A memory holding every word of the query scores at least 0.5 (the default threshold); "
            + "lower relevance_threshold (e.g. 0.1) for loose natural-language questions.",
        scope: .read, method: "POST", template: "/v1/query",
        arguments: [
            Argument(name: "query", restName: "context", placement: .body, isRequired: true,
                     schema: string("What to look for, in words (1-2000 characters).", maxLength: 2000, minLength: 1)),
            Argument(name: "max_memories", restName: "max_memories", placement: .body, isRequired: false,
                     schema: ["type": "integer", "minimum": 1, "maximum": 100,
                              "description": "At most this many memories (default 20)."]),
            spaceID(.body, "Search only this space."),
            Argument(name: "filters", restName: "filters", placement: .body, isRequired: false,
                     schema: ["type": "object",
                              "description": "Only memories whose metadata contains this object (e.g. {\"topic\": \"language\"})."]),
            Argument(name: "relevance_threshold", restName: "relevance_threshold", placement: .body, isRequired: false,
                     schema: ["type": "number", "minimum": 0, "maximum": 1,
                              "description": "Leave out memories scoring below this (default 0.5)."]),
        ],
        annotations: ["readOnlyHint": true, "openWorldHint": false])

    static let get = MCPTool(
        name: "memory_get", title: "Get a memory",
        description: "One memory by its id: text, metadata, space, version and times.",
        scope: .read, method: "GET", template: "/v1/memories/{id}", arguments: [memoryID],
        annotations: ["readOnlyHint": true, "openWorldHint": false])

    static let list = MCPTool(
        name: "memory_list", title: "List memories",
        description: "The stored memories, newest first, 50 a page; pass next_cursor back as cursor for the next page.",
        scope: .read, method: "GET", template: "/v1/memories",
        arguments: [
            spaceID(.query, "Only memories of this space."),
            Argument(name: "cursor", restName: "cursor", placement: .query, isRequired: false,
                     schema: string("The next_cursor of the previous page.")),
        ],
        annotations: ["readOnlyHint": true, "openWorldHint": false])

    static let store = MCPTool(
        name: "memory_store", title: "Store a memory",
        description: "Stores one small fact (\"User prefers Python for data work\") and returns it with its id.",
        scope: .write, method: "POST", template: "/v1/memories",
        arguments: [
            Argument(name: "text", restName: "text", placement: .body, isRequired: true,
                     schema: string("The fact, 1-50000 characters.", maxLength: MemoryInput.maxTextLength, minLength: 1)),
            metadata,
            spaceID(.body, "The space to file it in (created on first use)."),
            Argument(name: "expires_at", restName: "expires_at", placement: .body, isRequired: false,
                     schema: ["type": "string", "format": "date-time",
                              "description": "When the memory is forgotten (RFC 3339, in the future)."]),
        ],
        annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false])

    static let update = MCPTool(
        name: "memory_update", title: "Update a memory",
        description: "Replaces a memory's text and/or metadata; its version goes up by one and the old version is kept in its history.",
        scope: .write, method: "PUT", template: "/v1/memories/{id}",
        arguments: [
            memoryID,
            Argument(name: "text", restName: "text", placement: .body, isRequired: false,
                     schema: string("The new text.", maxLength: MemoryInput.maxTextLength, minLength: 1)),
            metadata,
        ],
        annotations: ["readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": false])

    static let extract = MCPTool(
        name: "memory_extract", title: "Extract memories",
        description: "Splits content into atomic statements (lines, then sentences) and stores each one not already stored in that space.",
        scope: .write, method: "POST", template: "/v1/query/extract",
        arguments: [
            Argument(name: "content", restName: "content", placement: .body, isRequired: true,
                     schema: string("The text or conversation, 1-200000 characters.", maxLength: 200_000, minLength: 1)),
            Argument(name: "content_type", restName: "content_type", placement: .body, isRequired: false,
                     schema: ["type": "string", "enum": ["text", "conversation"],
                              "description": "conversation: lines 'Speaker: words', only the user's lines are kept (default text)."]),
            spaceID(.body, "The space to store them in."),
        ],
        annotations: ["readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false])

    static let delete = MCPTool(
        name: "memory_delete", title: "Delete a memory",
        description: "Deletes one memory by its id.",
        scope: .delete, method: "DELETE", template: "/v1/memories/{id}", arguments: [memoryID],
        annotations: ["readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false])
}
