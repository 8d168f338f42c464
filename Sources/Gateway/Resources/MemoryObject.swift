import PostgresStore

/// The memory object of the contract and the SQL that reads it:
/// `{"id", "text", "metadata", "space_id", "source", "version", "created_at", "updated_at", "expires_at"}`.
///
/// Rows are read with ``columns`` (a fixed column order) and turned into JSON in Swift, so the
/// output is compact and `metadata` keeps the numbers PostgreSQL stored.
enum MemoryObject {
    /// The select list for a memory row aliased `m`; ``json(_:offset:)`` reads it.
    static let columns =
        "m.memory_id, m.text, m.metadata::text, m.space_id, m.source, m.version, "
        + "gw_time(m.created_at), gw_time(m.updated_at), gw_time(m.expires_at)"

    /// How many columns ``columns`` has.
    static let columnCount = 9

    /// The condition that the memory aliased `alias` has not expired: an expired memory is gone for
    /// every read from the instant it expires, whether or not the sweeper has deleted it yet.
    /// `now()` is the transaction's start, so one statement (or one export snapshot) sees one instant.
    static func isLive(_ alias: String = "m") -> String {
        "(\(alias).expires_at IS NULL OR \(alias).expires_at > now())"
    }

    /// The memory object of a row selected with ``columns`` starting at column `offset`.
    static func json(_ row: PostgresRow, offset: Int = 0) -> JSONObject {
        var object = JSONObject()
        object["id"] = .string(row.string(offset) ?? "")
        object["text"] = .string(row.string(offset + 1) ?? "")
        object["metadata"] = parseMetadata(row.string(offset + 2))
        object["space_id"] = row.string(offset + 3).map(JSONValue.string) ?? .null
        object["source"] = .string(row.string(offset + 4) ?? "api")
        object["version"] = .int(row.int(offset + 5) ?? 1)
        object["created_at"] = .string(row.string(offset + 6) ?? "")
        object["updated_at"] = .string(row.string(offset + 7) ?? "")
        object["expires_at"] = row.string(offset + 8).map(JSONValue.string) ?? .null
        return object
    }

    /// Stored `jsonb` text as a JSON value (`{}` if it were ever unreadable).
    static func parseMetadata(_ text: String?) -> JSONValue {
        guard let text, let value = try? JSONParser.parse(Array(text.utf8)) else { return .object(JSONObject()) }
        return value
    }

    /// The select list of one history version, from the union built by ``historySQL``.
    static let versionColumns =
        "v.version, v.text, v.metadata::text, gw_time(v.valid_from), gw_time(v.superseded_at), "
        + "v.is_current, v.request_id, v.key_prefix"

    /// Every version of the memories matching `$1` (org), `$2` (env) and `condition` on `memory_id`
    /// (written against the bare column name), current one included, as relation `v`
    /// `(memory_id, version, text, metadata, valid_from, superseded_at, is_current, request_id, key_prefix)`.
    /// An expired memory has no history (as if deleted).
    static func historySQL(condition: String) -> String {
        """
        (SELECT memory_id, version, text, metadata, updated_at AS valid_from, NULL::timestamptz AS superseded_at,
                true AS is_current, request_id, key_prefix
           FROM memories m WHERE org_id = $1 AND env = $2 AND \(condition) AND \(isLive())
         UNION ALL
         SELECT memory_id, version, text, metadata, valid_from, superseded_at, false, request_id, key_prefix
           FROM memory_versions h WHERE org_id = $1 AND env = $2 AND \(condition)
            AND NOT EXISTS (SELECT 1 FROM memories e WHERE e.org_id = $1 AND e.env = $2
                              AND e.memory_id = h.memory_id AND NOT \(isLive("e")))) v
        """
    }

    /// One entry of `versions`, from a row selected with ``versionColumns`` at `offset`.
    static func versionJSON(_ row: PostgresRow, offset: Int = 0) -> JSONValue {
        var object = JSONObject()
        object["version"] = .int(row.int(offset) ?? 1)
        object["text"] = .string(row.string(offset + 1) ?? "")
        object["metadata"] = parseMetadata(row.string(offset + 2))
        object["valid_from"] = .string(row.string(offset + 3) ?? "")
        object["superseded_at"] = row.string(offset + 4).map(JSONValue.string) ?? .null
        object["is_current"] = .bool(row.bool(offset + 5) ?? false)
        object["request_id"] = row.string(offset + 6).map(JSONValue.string) ?? .null
        object["key_prefix"] = row.string(offset + 7).map(JSONValue.string) ?? .null
        return .object(object)
    }
}
