import PostgresStore

/// The SQL pieces shared by the statements that read memories: the liveness condition and the
/// history relation. Rows decode with ``MemoryRow`` and ``MemoryVersionRow``.
enum MemoryObject {
    /// ``MemoryRow/selectList``, under the name the fused GET (`Memories+Fused.swift`) uses.
    static let columns = MemoryRow.selectList

    /// The condition that the memory aliased `alias` has not expired: an expired memory is gone for
    /// every read from the instant it expires, whether or not the sweeper has deleted it yet.
    /// `now()` is the transaction's start, so one statement (or one export snapshot) sees one instant.
    static func isLive(_ alias: String = "m") -> String {
        "(\(alias).expires_at IS NULL OR \(alias).expires_at > now())"
    }

    /// Stored `jsonb` text as a JSON value (`{}` if it were ever unreadable).
    static func metadataValue(_ text: String) -> JSONValue {
        guard let value = try? JSONParser.parse(Array(text.utf8)) else { return .object(JSONObject()) }
        return value
    }

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
}
