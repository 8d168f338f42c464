import Auth
import Foundation
import PostgresStore

/// `/v1/account/api-keys`: create, list, get, revoke, rotate (admin scope).
enum APIKeys {
    struct NewKey {
        var name: String
        var scopes: [String]
        var environment: KeyEnvironment
        var rateLimit: Int?
        var allowedIPs: [String]?
        var expiresAt: String?
    }

    /// Inserts a key and returns (full key, key object row). Call inside a transaction.
    static func insert(_ connection: PostgresConnection, orgID: String, _ new: NewKey) throws -> (key: String, object: JSONObject) {
        let key = APIKeyMaterial.generate(environment: new.environment)
        let rows = try connection.query(
            """
            INSERT INTO api_keys (org_id, key_id, key_hash, key_prefix, name, environment, scopes,
                                  rate_limit_per_minute, allowed_ips, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[]::cidr[], $10::timestamptz)
            RETURNING \(KeyRow.selectList)
            """,
            [.text(orgID), .text(Identifier.make(prefix: "key")), .bytea(APIKeyMaterial.hash(key)),
             .text(APIKeyMaterial.prefix(key)), .text(new.name), .text(new.environment.rawValue), .textArray(new.scopes),
             new.rateLimit.map { .int(Int64($0)) } ?? .null, new.allowedIPs.map { .textArray($0) } ?? .null,
             new.expiresAt.map { .text($0) } ?? .null])
        guard let row = rows.first else { throw APIError.internalError }
        return (key, KeyRow(row).json(key: key))
    }

    static func create(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        var body = BodyReader(try context.jsonBody())
        let name = body.string("name", required: true, length: 1...100)
        var scopes: [String]?
        if let names = body.stringArray("scopes", required: true) {
            if names.isEmpty {
                body.issues.add("scopes", "must not be empty")
            } else if let set = ScopeSet.parse(names) {
                scopes = set.names
            } else {
                body.issues.add("scopes", "each scope must be one of read, write, delete, admin")
            }
        }
        var environment = KeyEnvironment.live
        if let text = body.string("environment", length: 1...10) {
            if let parsed = KeyEnvironment(rawValue: text) { environment = parsed } else {
                body.issues.add("environment", "must be live or test")
            }
        }
        if context.tenant.environment == .test, environment == .live {
            body.issues.add("environment", "a test key can only create test keys")
        }
        let expiresAt = body.timestamp("expires_at")
        if let expiresAt, let date = UTCDate.parseTimestamp(expiresAt), date <= Date() {
            body.issues.add("expires_at", "must be in the future")
        }
        let rateLimit = body.integer("rate_limit_per_minute", range: 1...1_000_000)
        let allowedIPs = allowedIPList(&body)
        try body.issues.check()
        let tenantLimit = try effectiveRateLimit(context.pool, orgID: principal.orgID)
        if let rateLimit, rateLimit > tenantLimit {
            throw APIError.invalidField("rate_limit_per_minute", "must be at most the tenant's limit of \(tenantLimit)")
        }
        let new = NewKey(name: name ?? "", scopes: scopes ?? [], environment: environment, rateLimit: rateLimit,
                         allowedIPs: allowedIPs, expiresAt: expiresAt)
        let created = try context.pool.transaction { connection in
            try reserveKeySlots(connection, orgID: principal.orgID, environment: environment, adding: 1)
            let created = try insert(connection, orgID: principal.orgID, new)
            try AuditLog.record(connection, orgID: principal.orgID, action: "api_key.created",
                                actorKeyPrefix: principal.keyPrefix, targetType: "api_key",
                                targetID: created.object["id"]?.stringValue, requestID: context.request.requestID)
            try recordEvent(context, connection, WebhookEvent.apiKeyCreated, keyID: created.object["id"]?.stringValue ?? "")
            return created
        }
        var replay = created.object
        replay["key"] = .null
        var response = APIResponse(status: 201, json: .object(created.object),
                                   headers: [("Location", "/v1/account/api-keys/\(created.object["id"]?.stringValue ?? "")")])
        response.replayData = JSONValue.object(replay).jsonBytes
        return response
    }

    /// Most unrevoked, unexpired keys of one tenant and environment.
    static let maxActiveKeys = 1_000

    /// Refuses (409) a change that would leave the tenant more than `maxActiveKeys` active keys in
    /// `environment`, not counting `excluding`. Locks the tenant row first, so concurrent
    /// creations count one after the other. Call inside the transaction, before inserting.
    static func reserveKeySlots(_ connection: PostgresConnection, orgID: String, environment: KeyEnvironment,
                                adding: Int, excluding keyID: String? = nil) throws {
        _ = try connection.query("SELECT 1 FROM tenants WHERE org_id = $1 FOR UPDATE", [.text(orgID)])
        let rows = try connection.query(
            """
            SELECT count(*) AS count FROM api_keys
             WHERE org_id = $1 AND environment = $2 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > clock_timestamp()) AND key_id IS DISTINCT FROM $3
            """,
            [.text(orgID), .text(environment.rawValue), keyID.map { .text($0) } ?? .null])
        let active = rows.first?.int("count") ?? 0
        if active + Int64(adding) > Int64(maxActiveKeys) {
            throw APIError.conflict(
                "the tenant has \(active) active \(environment.rawValue) keys, the most allowed is \(maxActiveKeys); "
                    + "revoke unused keys first")
        }
    }

    /// Records a key event for webhooks of the key's own environment (`KeyRow/environment`):
    /// `data` is the key object as
    /// `GET /v1/account/api-keys/{id}` shows it (never the key), read inside the transaction.
    private static func recordEvent(_ context: RequestContext, _ connection: PostgresConnection, _ type: String,
                                    keyID: String, extra: [(String, JSONValue)] = []) throws {
        let rows = try connection.query(
            "SELECT \(KeyRow.selectList) FROM api_keys WHERE org_id = $1 AND key_id = $2",
            [.text(context.tenant.orgID), .text(keyID)])
        guard let key = rows.first.map(KeyRow.init), let env = key.environment else { return }
        let webhooks = context.services.webhooks
        var object = key.json()
        for (name, value) in extra { object[name] = value }
        try webhooks.record(connection, orgID: context.tenant.orgID, env: env, type: type, data: .object(object))
    }

    static func allowedIPList(_ body: inout BodyReader) -> [String]? {
        guard let list = body.stringArray("allowed_ips") else { return nil }
        var normalized: [String] = []
        for entry in list {
            guard let cidr = CIDR(entry) else {
                body.issues.add("allowed_ips", "'\(entry.prefix(64))' is not an IPv4 or IPv6 address or CIDR")
                return nil
            }
            normalized.append(cidr.description)
        }
        if normalized.isEmpty || normalized.count > 100 {
            body.issues.add("allowed_ips", "must list 1-100 addresses or CIDRs")
            return nil
        }
        return normalized
    }

    /// The tenant's effective per-minute limit: the operator's override, else the plan's.
    static func effectiveRateLimit(_ pool: Database, orgID: String) throws -> Int {
        let rows = try pool.query(
            "SELECT coalesce(t.rate_limit_override, p.rate_limit_per_minute) AS rate_limit FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1",
            [.text(orgID)])
        return Int(clamping: rows.first?.int("rate_limit") ?? 0)
    }

    /// Which keys the caller may see and manage (`$2` is its environment): a live admin key manages
    /// every key of its tenant; a test admin key only test keys, so test credentials never reach
    /// the live world.
    private static let visible = "(environment = 'test' OR $2 = 'live')"

    static func list(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            "SELECT \(KeyRow.selectList) FROM api_keys WHERE org_id = $1 AND \(visible) "
                + "ORDER BY api_keys.created_at DESC, key_id DESC",
            [.text(context.tenant.orgID), .text(context.tenant.env)])
        var data = JSONObject()
        data["api_keys"] = .array(rows.map { .object(KeyRow($0).json()) })
        return APIResponse(json: .object(data))
    }

    static func get(_ context: RequestContext) throws -> APIResponse {
        let rows = try context.pool.query(
            "SELECT \(KeyRow.selectList) FROM api_keys WHERE org_id = $1 AND key_id = $3 AND \(visible)",
            [.text(context.tenant.orgID), .text(context.tenant.env), .text(context.parameter("id"))])
        guard let row = rows.first else { throw APIError.notFound("API key") }
        return APIResponse(json: .object(KeyRow(row).json()))
    }

    static func revoke(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let keyID = context.parameter("id")
        let revokedAt: String = try context.pool.transaction { connection in
            // Lock the tenant so two concurrent revocations cannot both leave it without an admin key.
            _ = try connection.query("SELECT 1 FROM tenants WHERE org_id = $1 FOR UPDATE", [.text(principal.orgID)])
            let rows = try connection.query(
                """
                SELECT gw_time(revoked_at) AS revoked_at, environment = 'live' AND 'admin' = ANY (scopes)
                       AND (expires_at IS NULL OR expires_at > clock_timestamp()) AS is_live_admin
                  FROM api_keys WHERE org_id = $1 AND key_id = $2 AND (environment = 'test' OR $3 = 'live')
                """,
                [.text(principal.orgID), .text(keyID), .text(principal.env)])
            guard let row = rows.first else { throw APIError.notFound("API key") }
            if let already = row.string("revoked_at") { return already }
            if row.bool("is_live_admin") == true {
                let others = try connection.query(
                    """
                    SELECT count(*) AS count FROM api_keys
                     WHERE org_id = $1 AND key_id <> $2 AND environment = 'live' AND 'admin' = ANY (scopes)
                       AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > clock_timestamp())
                    """,
                    [.text(principal.orgID), .text(keyID)])
                if (others.first?.int("count") ?? 0) == 0 {
                    throw APIError.conflict("this is the tenant's last live admin key; create another before revoking it")
                }
            }
            let updated = try connection.query(
                "UPDATE api_keys SET revoked_at = gw_now() WHERE org_id = $1 AND key_id = $2 RETURNING gw_time(revoked_at) AS revoked_at",
                [.text(principal.orgID), .text(keyID)])
            try AuditLog.record(connection, orgID: principal.orgID, action: "api_key.revoked",
                                actorKeyPrefix: principal.keyPrefix, targetType: "api_key", targetID: keyID,
                                requestID: context.request.requestID)
            _ = try connection.query("SELECT pg_notify($1, $2)",
                                     [.text(GatewayApp.eventsChannel), .text("key:" + principal.orgID)])
            try recordEvent(context, connection, WebhookEvent.apiKeyRevoked, keyID: keyID)
            return updated.first?.string("revoked_at") ?? ""
        }
        // This instance at once (its next request must see the change); others on the NOTIFY.
        context.services.admission.changed(orgID: principal.orgID)
        var data = JSONObject()
        data["id"] = .string(keyID)
        data["revoked_at"] = .string(revokedAt)
        return APIResponse(json: .object(data))
    }

    static func rotate(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let keyID = context.parameter("id")
        var body = BodyReader(try context.optionalJSONBody())
        let grace = body.integer("grace_seconds", range: 0...604_800) ?? 86_400
        try body.issues.check()
        let result: (key: String, object: JSONObject, oldExpiresAt: String) = try context.pool.transaction { connection in
            // The tenant first, then the key: the order revocation and creation lock in.
            _ = try connection.query("SELECT 1 FROM tenants WHERE org_id = $1 FOR UPDATE", [.text(principal.orgID)])
            let rows = try connection.query(
                """
                SELECT name, scopes, environment, rate_limit_per_minute, allowed_ips::text[] AS allowed_ips,
                       expires_at::text AS expires_at,
                       revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= clock_timestamp()) AS is_ended
                  FROM api_keys WHERE org_id = $1 AND key_id = $2 AND (environment = 'test' OR $3 = 'live')
                   FOR UPDATE
                """,
                [.text(principal.orgID), .text(keyID), .text(principal.env)])
            guard let row = rows.first else { throw APIError.notFound("API key") }
            if row.bool("is_ended") == true { throw APIError.conflict("a revoked or expired key cannot be rotated") }
            let new = NewKey(
                name: row.string("name") ?? "", scopes: row.stringArray("scopes") ?? [],
                environment: KeyEnvironment(rawValue: row.string("environment") ?? "live") ?? .live,
                rateLimit: row.int("rate_limit_per_minute").map { Int(clamping: $0) },
                allowedIPs: row.stringArray("allowed_ips"), expiresAt: row.string("expires_at"))
            // The new key, and the old one while its grace lasts (none: it ends at once).
            try reserveKeySlots(connection, orgID: principal.orgID, environment: new.environment,
                                adding: grace > 0 ? 2 : 1, excluding: keyID)
            let created = try insert(connection, orgID: principal.orgID, new)
            let expired = try connection.query(
                """
                UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), gw_now() + make_interval(secs => $3))
                 WHERE org_id = $1 AND key_id = $2 RETURNING gw_time(expires_at) AS expires_at
                """,
                [.text(principal.orgID), .text(keyID), .int(Int64(grace))])
            let newID = created.object["id"]?.stringValue ?? ""
            try AuditLog.record(connection, orgID: principal.orgID, action: "api_key.rotated",
                                actorKeyPrefix: principal.keyPrefix, targetType: "api_key", targetID: keyID,
                                details: .object(JSONObject([("new_key_id", .string(newID))])),
                                requestID: context.request.requestID)
            _ = try connection.query("SELECT pg_notify($1, $2)",
                                     [.text(GatewayApp.eventsChannel), .text("key:" + principal.orgID)])
            try recordEvent(context, connection, WebhookEvent.apiKeyRotated, keyID: newID,
                            extra: [("rotated_from", .object(JSONObject([("id", .string(keyID))])))])
            return (created.key, created.object, expired.first?.string("expires_at") ?? "")
        }
        context.services.admission.changed(orgID: principal.orgID)
        var object = result.object
        object["rotated_from"] = .object(JSONObject([("id", .string(keyID)), ("expires_at", .string(result.oldExpiresAt))]))
        var replay = object
        replay["key"] = .null
        var response = APIResponse(status: 201, json: .object(object),
                                   headers: [("Location", "/v1/account/api-keys/\(object["id"]?.stringValue ?? "")")])
        response.replayData = JSONValue.object(replay).jsonBytes
        return response
    }
}
