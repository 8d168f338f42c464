import PostgresStore

/// The API key object of the contract, read from `api_keys` with `KeyObject.columns`.
enum KeyObject {
    static let columns = """
        key_id, name, key_prefix, environment, scopes, rate_limit_per_minute, allowed_ips::text[],
        gw_time(created_at), gw_time(expires_at), gw_time(last_used_at), gw_time(revoked_at)
        """

    /// `row` holds `columns` from index `offset`; `key` is the full key, shown once.
    static func json(_ row: PostgresRow, offset: Int = 0, key: String? = nil) -> JSONObject {
        func text(_ index: Int) -> JSONValue { row.string(offset + index).map { .string($0) } ?? .null }
        var object = JSONObject()
        object["id"] = text(0)
        object["name"] = text(1)
        if let key { object["key"] = .string(key) }
        object["key_prefix"] = text(2)
        object["environment"] = text(3)
        object["scopes"] = .array((row.stringArray(offset + 4) ?? []).map { .string($0) })
        object["rate_limit_per_minute"] = row.int(offset + 5).map { .number(JSONNumber(Int($0))) } ?? .null
        object["allowed_ips"] = row.stringArray(offset + 6).map { .array($0.map { .string($0) }) } ?? .null
        object["created_at"] = text(7)
        object["expires_at"] = text(8)
        object["last_used_at"] = text(9)
        object["revoked_at"] = text(10)
        return object
    }
}
