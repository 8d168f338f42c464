import PostgresStore

/// One API key as read by ``selectList`` from `api_keys`: the key object of the contract (never
/// the key itself, which only its creation shows).
struct KeyRow: Sendable, Equatable {
    /// The select list over `api_keys`; its column names are what ``init(_:)`` reads.
    static let selectList = """
        key_id, name, key_prefix, environment, scopes, rate_limit_per_minute, allowed_ips::text[] AS allowed_ips,
        gw_time(created_at) AS created_at, gw_time(expires_at) AS expires_at,
        gw_time(last_used_at) AS last_used_at, gw_time(revoked_at) AS revoked_at
        """

    /// `key_id`.
    var id: String?
    /// The key's name.
    var name: String?
    /// The key's first characters, safe to show and log.
    var keyPrefix: String?
    /// `live` or `test`.
    var environment: String?
    /// The scope names.
    var scopes: [String]
    /// The key's own per-minute limit, `nil` for the tenant's.
    var rateLimitPerMinute: Int64?
    /// The addresses or CIDRs allowed, `nil` for any.
    var allowedIPs: [String]?
    /// `gw_time` texts of the key's instants; `nil` where unset.
    var createdAt: String?, expiresAt: String?, lastUsedAt: String?, revokedAt: String?

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        id = row.string("key_id")
        name = row.string("name")
        keyPrefix = row.string("key_prefix")
        environment = row.string("environment")
        scopes = row.stringArray("scopes") ?? []
        rateLimitPerMinute = row.int("rate_limit_per_minute")
        allowedIPs = row.stringArray("allowed_ips")
        createdAt = row.string("created_at")
        expiresAt = row.string("expires_at")
        lastUsedAt = row.string("last_used_at")
        revokedAt = row.string("revoked_at")
    }

    /// The key object of the contract; `key` is the full key, shown once (at creation).
    func json(key: String? = nil) -> JSONObject {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var object = JSONObject()
        object["id"] = text(id)
        object["name"] = text(name)
        if let key { object["key"] = .string(key) }
        object["key_prefix"] = text(keyPrefix)
        object["environment"] = text(environment)
        object["scopes"] = .array(scopes.map(JSONValue.string))
        object["rate_limit_per_minute"] = rateLimitPerMinute.map { .int($0) } ?? .null
        object["allowed_ips"] = allowedIPs.map { .array($0.map(JSONValue.string)) } ?? .null
        object["created_at"] = text(createdAt)
        object["expires_at"] = text(expiresAt)
        object["last_used_at"] = text(lastUsedAt)
        object["revoked_at"] = text(revokedAt)
        return object
    }
}
