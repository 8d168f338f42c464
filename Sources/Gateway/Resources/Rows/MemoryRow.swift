import PostgresStore

/// One memory as read by ``selectList``: the memory object of the contract,
/// `{"id", "text", "metadata", "space_id", "source", "version", "created_at", "updated_at", "expires_at"}`.
///
/// Every statement that returns memories selects ``selectList`` (over a relation aliased `m`) and
/// decodes here, by column name, so the list and its reader cannot drift apart.
struct MemoryRow: Sendable, Equatable {
    /// The select list over a memory relation aliased `m`; its column names are what ``init(_:)`` reads.
    static let selectList =
        "m.memory_id AS memory_id, m.text AS text, m.metadata::text AS metadata, m.space_id AS space_id, "
        + "m.source AS source, m.version AS version, gw_time(m.created_at) AS created_at, "
        + "gw_time(m.updated_at) AS updated_at, gw_time(m.expires_at) AS expires_at"

    /// `memory_id`.
    var id: String
    /// The memory's text.
    var text: String
    /// The stored `jsonb` as PostgreSQL's text output (valid JSON).
    var metadata: String
    /// The space, if any.
    var spaceID: String?
    /// `api` or `extraction`.
    var source: String
    /// 1 for a new memory, one more per replacement.
    var version: Int64
    /// `gw_time` text of `created_at`.
    var createdAt: String
    /// `gw_time` text of `updated_at`.
    var updatedAt: String
    /// `gw_time` text of `expires_at`, `nil` for a memory that never expires.
    var expiresAt: String?

    /// Decodes a row holding ``selectList`` (other columns may come with it).
    init(_ row: PostgresRow) {
        id = row.string("memory_id") ?? ""
        text = row.string("text") ?? ""
        metadata = row.string("metadata") ?? "{}"
        spaceID = row.string("space_id")
        source = row.string("source") ?? "api"
        version = row.int("version") ?? 1
        createdAt = row.string("created_at") ?? ""
        updatedAt = row.string("updated_at") ?? ""
        expiresAt = row.string("expires_at")
    }

    /// The memory of a row whose ``selectList`` columns come from an outer join: `nil` when the
    /// join found none (`memory_id` is NULL).
    init?(ifPresent row: PostgresRow) {
        guard !row.isNull("memory_id") else { return nil }
        self.init(row)
    }

    /// The memory object of the contract, `metadata` parsed (for webhook payloads and other
    /// values that are built on; a response writes ``write(into:extraMembers:)`` instead).
    var json: JSONObject { members(metadata: MemoryObject.metadataValue(metadata)) }

    /// The memory object's JSON bytes (see ``write(into:extraMembers:)``).
    var jsonBytes: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(128 + text.utf8.count + metadata.utf8.count)
        write(into: &buffer)
        return buffer
    }

    /// Appends the memory object's JSON, the bytes `JSONWriter.write(.object(json))` gives, with
    /// `metadata` passed through as PostgreSQL wrote it (compacted, not parsed: a response only
    /// forwards it). `extraMembers` appends more members (each starting with a comma), as the
    /// export's `versions`.
    func write(into buffer: inout [UInt8], extraMembers: ((inout [UInt8]) -> Void)? = nil) {
        JSONWriter.write(members(metadata: .null), verbatimKey: "metadata", verbatimJSON: metadata, into: &buffer)
        if let extraMembers {
            buffer.removeLast()  // the object's `}`, written again after the extra members
            extraMembers(&buffer)
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// The members in the contract's order, with `metadata` as given.
    private func members(metadata: JSONValue) -> JSONObject {
        var object = JSONObject()
        object["id"] = .string(id)
        object["text"] = .string(text)
        object["metadata"] = metadata
        object["space_id"] = spaceID.map(JSONValue.string) ?? .null
        object["source"] = .string(source)
        object["version"] = .int(version)
        object["created_at"] = .string(createdAt)
        object["updated_at"] = .string(updatedAt)
        object["expires_at"] = expiresAt.map(JSONValue.string) ?? .null
        return object
    }
}
