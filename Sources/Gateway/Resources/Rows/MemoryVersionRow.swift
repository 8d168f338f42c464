import PostgresStore

/// One entry of a memory's `versions` (history and export), as read by ``selectList`` over the
/// relation `v` that ``MemoryObject/historySQL(condition:)`` builds.
struct MemoryVersionRow: Sendable, Equatable {
    /// The select list over `v`; `memory_id` comes first for readers of several memories' history.
    static let selectList =
        "v.memory_id AS memory_id, v.version AS version, v.text AS text, v.metadata::text AS metadata, "
        + "gw_time(v.valid_from) AS valid_from, gw_time(v.superseded_at) AS superseded_at, "
        + "v.is_current AS is_current, v.request_id AS request_id, v.key_prefix AS key_prefix"

    /// The memory this is a version of.
    var memoryID: String
    /// The version number.
    var version: Int64
    /// The text of this version.
    var text: String
    /// The `jsonb` metadata of this version as PostgreSQL's text output.
    var metadata: String
    /// `gw_time` text of when this version became current.
    var validFrom: String
    /// `gw_time` text of when it stopped being current; `nil` while it is.
    var supersededAt: String?
    /// Whether this is the memory's current version.
    var isCurrent: Bool
    /// The request that wrote this version.
    var requestID: String?
    /// The prefix of the key that wrote it.
    var keyPrefix: String?

    /// Decodes a row holding ``selectList`` (or the same names from another list).
    init(_ row: PostgresRow) {
        memoryID = row.string("memory_id") ?? ""
        version = row.int("version") ?? 1
        text = row.string("text") ?? ""
        metadata = row.string("metadata") ?? "{}"
        validFrom = row.string("valid_from") ?? ""
        supersededAt = row.string("superseded_at")
        isCurrent = row.bool("is_current") ?? false
        requestID = row.string("request_id")
        keyPrefix = row.string("key_prefix")
    }

    /// The entry of the contract's `versions` array (no `memory_id`), `metadata` parsed.
    var json: JSONValue { .object(members(metadata: MemoryObject.metadataValue(metadata))) }

    /// Appends the entry's JSON, the bytes of ``json``, with `metadata` passed through as
    /// PostgreSQL wrote it (compacted, not parsed).
    func write(into buffer: inout [UInt8]) {
        JSONWriter.write(members(metadata: .null), verbatimKey: "metadata", verbatimJSON: metadata, into: &buffer)
    }

    /// The members in the contract's order, with `metadata` as given.
    private func members(metadata: JSONValue) -> JSONObject {
        var object = JSONObject()
        object["version"] = .int(version)
        object["text"] = .string(text)
        object["metadata"] = metadata
        object["valid_from"] = .string(validFrom)
        object["superseded_at"] = supersededAt.map(JSONValue.string) ?? .null
        object["is_current"] = .bool(isCurrent)
        object["request_id"] = requestID.map(JSONValue.string) ?? .null
        object["key_prefix"] = keyPrefix.map(JSONValue.string) ?? .null
        return object
    }
}
