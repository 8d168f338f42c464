import PostgresStore

/// One space as read by ``selectList``: the space object of the contract,
/// `{"id", "name", "description", "memory_count", "created_at", "updated_at"}`.
struct SpaceRow: Sendable, Equatable {
    /// The select list over a space relation aliased `s`, `memory_count` counted live.
    static let selectList = """
        s.space_id AS space_id, s.name AS name, s.description AS description,
        (SELECT count(*) FROM memories m WHERE m.org_id = s.org_id AND m.env = s.env AND m.space_id = s.space_id
                                      AND \(MemoryObject.isLive())) AS memory_count,
        gw_time(s.created_at) AS created_at, gw_time(s.updated_at) AS updated_at
        """

    /// `space_id`.
    var id: String
    /// The space's name.
    var name: String
    /// Its description, if any.
    var description: String?
    /// How many live memories it holds.
    var memoryCount: Int64
    /// `gw_time` texts of its creation and last change.
    var createdAt: String, updatedAt: String

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        id = row.string("space_id") ?? ""
        name = row.string("name") ?? ""
        description = row.string("description")
        memoryCount = row.int("memory_count") ?? 0
        createdAt = row.string("created_at") ?? ""
        updatedAt = row.string("updated_at") ?? ""
    }

    /// The space object of the contract.
    var json: JSONValue {
        var object = JSONObject()
        object["id"] = .string(id)
        object["name"] = .string(name)
        object["description"] = description.map(JSONValue.string) ?? .null
        object["memory_count"] = .int(memoryCount)
        object["created_at"] = .string(createdAt)
        object["updated_at"] = .string(updatedAt)
        return .object(object)
    }
}
