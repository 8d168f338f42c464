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

    /// The memory object of the contract. `metadata` is forwarded as stored (see ``JSONValue/verbatim(_:)``).
    var json: JSONObject {
        var object = JSONObject()
        object["id"] = .string(id)
        object["text"] = .string(text)
        object["metadata"] = MemoryObject.metadataValue(metadata)
        object["space_id"] = spaceID.map(JSONValue.string) ?? .null
        object["source"] = .string(source)
        object["version"] = .int(version)
        object["created_at"] = .string(createdAt)
        object["updated_at"] = .string(updatedAt)
        object["expires_at"] = expiresAt.map(JSONValue.string) ?? .null
        return object
    }
}
