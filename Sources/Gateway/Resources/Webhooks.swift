import Auth
import PostgresStore

/// `/v1/webhooks` (admin scope): subscriptions of the calling key's tenant and environment, a
/// test event, and the delivery history. `{"id", "url", "events", "description", "created_at"}`;
/// `secret` only in the creation response.
enum Webhooks {
    static let maxDescriptionLength = 500
    /// Delivery history page size bounds.
    static let defaultDeliveryLimit = 50
    static let maxDeliveryLimit = 100
    private static let deliveriesCursorKind = "deliveries.v1"

    /// `POST /v1/webhooks` `{url, events, description?}` → 201 with the secret, once.
    static func create(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let configuration = context.services.configuration.webhooks
        var body = BodyReader(try context.jsonBody())
        let url = body.string("url", required: true, length: 1...WebhookTarget.maxLength)
        var events: [String] = []
        if let names = body.stringArray("events", required: true) {
            if names.isEmpty || names.count > 20 {
                body.issues.add("events", "must list 1-20 event types (\"*\" for all)")
            } else if let unknown = names.first(where: { $0 != WebhookEvent.all && !WebhookEvent.types.contains($0) }) {
                body.issues.add("events", "'\(unknown.prefix(64))' is not an event type; one of "
                                    + (WebhookEvent.types + [WebhookEvent.all]).joined(separator: ", "))
            } else {
                for name in names where !events.contains(name) { events.append(name) }
            }
        }
        let description = body.string("description", length: 0...maxDescriptionLength)
        try body.issues.check()
        guard let url else { throw APIError.invalidField("url", "is required") }
        let target: WebhookTarget
        switch WebhookTarget.parse(url) {
        case .success(let parsed): target = parsed
        case .failure(let error): throw APIError.invalidField("url", error.message)
        }
        do {
            _ = try WebhookAddressGuard(allowsPrivate: configuration.allowsPrivateAddresses).addresses(for: target)
        } catch {
            throw APIError.invalidField("url", error.message)
        }
        let secret = WebhookSignature.makeSecret()
        let webhookID = Identifier.make(prefix: "whk")
        let object: JSONObject = try context.pool.transaction { connection in
            // Serialises a tenant environment's creations, so two at once cannot both be the 20th.
            _ = try connection.query("SELECT pg_advisory_xact_lock(hashtextextended('webhooks:' || $1 || ':' || $2, 0))",
                                     [.text(principal.orgID), .text(principal.env)])
            let count = try connection.query("SELECT count(*) AS count FROM webhooks WHERE org_id = $1 AND env = $2",
                                             [.text(principal.orgID), .text(principal.env)])
            if (count.first?.int("count") ?? 0) >= Int64(configuration.maxPerEnvironment) {
                throw APIError.conflict("a tenant environment has at most \(configuration.maxPerEnvironment) webhooks; delete one first")
            }
            let rows = try connection.query(
                """
                INSERT INTO webhooks AS w (org_id, env, webhook_id, url, events, description, secret)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                RETURNING \(WebhookRow.selectList)
                """,
                [.text(principal.orgID), .text(principal.env), .text(webhookID), .text(url), .textArray(events),
                 description.map(PostgresValue.text) ?? .null, .text(secret)])
            guard let row = rows.first else { throw APIError.internalError }
            try notifyChanged(connection, principal: principal)
            return WebhookRow(row).json
        }
        context.services.webhooks.invalidate(orgID: principal.orgID, env: principal.env)
        var shown = object
        shown["secret"] = .string(secret)
        var replay = object
        replay["secret"] = .null
        var response = APIResponse(status: 201, json: .object(shown), headers: [("Location", "/v1/webhooks/\(webhookID)")])
        response.replayData = JSONValue.object(replay).jsonBytes
        return response
    }

    /// `GET /v1/webhooks`: `{webhooks: […]}`, newest first (at most 20).
    static func list(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let rows = try context.pool.query(
            "SELECT \(WebhookRow.selectList) FROM webhooks w WHERE w.org_id = $1 AND w.env = $2 ORDER BY w.created_at DESC, w.webhook_id DESC",
            [.text(principal.orgID), .text(principal.env)])
        var data = JSONObject()
        data["webhooks"] = .array(rows.map { .object(WebhookRow($0).json) })
        return APIResponse(json: .object(data))
    }

    /// `GET /v1/webhooks/{id}`.
    static func get(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let rows = try context.pool.query(
            "SELECT \(WebhookRow.selectList) FROM webhooks w WHERE w.org_id = $1 AND w.env = $2 AND w.webhook_id = $3",
            [.text(principal.orgID), .text(principal.env), .text(context.parameter("id"))])
        guard let row = rows.first else { throw APIError.notFound("webhook") }
        return APIResponse(json: .object(WebhookRow(row).json))
    }

    /// `DELETE /v1/webhooks/{id}`: `{id, deleted: true}`; its undelivered events are dropped.
    static func delete(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let webhookID = context.parameter("id")
        try context.pool.transaction { connection in
            let rows = try connection.query(
                "DELETE FROM webhooks WHERE org_id = $1 AND env = $2 AND webhook_id = $3 RETURNING webhook_id",
                [.text(principal.orgID), .text(principal.env), .text(webhookID)])
            guard !rows.isEmpty else { throw APIError.notFound("webhook") }
            try notifyChanged(connection, principal: principal)
        }
        context.services.webhooks.invalidate(orgID: principal.orgID, env: principal.env)
        var data = JSONObject()
        data["id"] = .string(webhookID)
        data["deleted"] = .bool(true)
        return APIResponse(json: .object(data))
    }

    /// `POST /v1/webhooks/{id}/test`: queues a `webhook.test` event (data: the webhook) for this
    /// webhook alone, whatever it subscribes to. 202 `{event_id, type, webhook_id}`.
    static func test(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let webhookID = context.parameter("id")
        let eventID: String = try context.pool.transaction { connection in
            let rows = try connection.query(
                "SELECT \(WebhookRow.selectList) FROM webhooks w WHERE w.org_id = $1 AND w.env = $2 AND w.webhook_id = $3",
                [.text(principal.orgID), .text(principal.env), .text(webhookID)])
            guard let row = rows.first else { throw APIError.notFound("webhook") }
            let id = try context.services.webhooks.record(
                connection, orgID: principal.orgID, env: principal.env, type: WebhookEvent.webhookTest,
                data: .object(WebhookRow(row).json), onlyWebhook: webhookID)
            guard let id else { throw APIError.internalError }
            return id
        }
        var data = JSONObject()
        data["event_id"] = .string(eventID)
        data["type"] = .string(WebhookEvent.webhookTest)
        data["webhook_id"] = .string(webhookID)
        return APIResponse(status: 202, json: .object(data))
    }

    /// `GET /v1/webhooks/{id}/deliveries`: newest first, `limit` (1-100, 50) and `cursor`;
    /// `{deliveries: [{id, event_id, type, attempt, status, response_status, error, at}], next_cursor}`.
    static func deliveries(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let webhookID = context.parameter("id")
        var issues = Issues()
        var limit = defaultDeliveryLimit
        if let text = context.query["limit"] {
            if let value = Int(text), (1...maxDeliveryLimit).contains(value) { limit = value } else {
                issues.add("limit", "must be an integer in 1...\(maxDeliveryLimit)")
            }
        }
        var before = Int64.max
        if let cursor = context.query["cursor"] {
            if let fields = Cursor.decode(cursor, orgID: principal.orgID, env: principal.env), fields.count == 3,
               fields[0] == deliveriesCursorKind, fields[1] == webhookID, let seq = Int64(fields[2]) {
                before = seq
            } else {
                issues.add("cursor", "is not a valid cursor")
            }
        }
        try issues.check()
        let rows = try context.pool.query(
            """
            SELECT \(WebhookDeliveryRow.selectList),
                   (SELECT 1 FROM webhooks w WHERE w.org_id = $1 AND w.env = $2 AND w.webhook_id = $3) AS webhook_exists
              FROM (SELECT 1) one
              LEFT JOIN webhook_deliveries d
                ON d.org_id = $1 AND d.env = $2 AND d.webhook_id = $3 AND d.seq < $4
             ORDER BY d.seq DESC NULLS LAST LIMIT $5
            """,
            [.text(principal.orgID), .text(principal.env), .text(webhookID), .int(before), .int(Int64(limit + 1))])
        guard let first = rows.first, first.int("webhook_exists") != nil else { throw APIError.notFound("webhook") }
        let found = rows.compactMap { WebhookDeliveryRow(ifPresent: $0) }
        let items = found.prefix(limit).map(\.json)
        var data = JSONObject()
        data["deliveries"] = .array(items)
        if found.count > limit, let last = found.prefix(limit).last, let seq = last.seq {
            data["next_cursor"] = .string(Cursor.encode([deliveriesCursorKind, webhookID, String(seq)],
                                                        orgID: principal.orgID, env: principal.env))
        } else {
            data["next_cursor"] = .null
        }
        return APIResponse(json: .object(data))
    }

    /// Tells every instance (at commit) that this tenant environment's webhooks changed.
    private static func notifyChanged(_ connection: PostgresConnection, principal: Principal) throws {
        _ = try connection.query(
            "SELECT pg_notify($1, $2)",
            [.text(GatewayApp.eventsChannel), .text(WebhookOutbox.notification(orgID: principal.orgID, env: principal.env))])
    }
}
