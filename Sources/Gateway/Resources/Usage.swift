import Foundation
import PostgresStore

/// `GET /v1/usage`, `/v1/usage/history` and `/v1/usage/projection` (read scope).
///
/// Each shows the calling key's environment unless `?environment=live|test` says otherwise. The
/// counts are what the usage recorders have flushed (every instance, at most ~0.5 s behind), so a
/// request never shows in its own response: it is counted after it was answered. For
/// `environment=test` the quota fields show the same effective plan quotas as live (so a test
/// integration sees the numbers it will see live), although test traffic never counts against
/// them, and `alerts` is empty (alerts are about live traffic only).
enum Usage {
    /// The longest history range, in days (rows).
    static let maxHistoryDays = 366
    /// The default history range: the 30 days ending today.
    static let defaultHistoryDays = 30

    // MARK: - GET /v1/usage

    static func summary(_ context: RequestContext) throws -> APIResponse {
        let env = try environment(context)
        let principal = context.tenant
        let period = UsageMath.period(of: Date())
        let rows = try context.pool.query(
            """
            WITH c AS (
                SELECT key_id, endpoint, requests, rate_limited FROM usage_counters
                 WHERE org_id = $1 AND env = $2 AND day BETWEEN $3::date AND $4::date
            )
            SELECT \(UsageSummaryRow.selectList)
            """,
            [.text(principal.orgID), .text(env), .text(UTCDate.format(period.start)), .text(UTCDate.format(period.end))])
        guard let row = rows.first.map(UsageSummaryRow.init) else { throw APIError.internalError }
        let used = row.requests
        let stored = row.memories
        let quota = principal.monthlyQuota
        var requests = JSONObject()
        requests["used"] = .int(used)
        requests["quota"] = .int(quota)
        requests["remaining"] = .int(max(0, quota - used))
        requests["percent"] = .number(UsageMath.percent(used, of: quota))
        var memories = JSONObject()
        memories["stored"] = .int(stored)
        memories["quota"] = .int(principal.maxMemories)
        memories["percent"] = .number(UsageMath.percent(stored, of: principal.maxMemories))
        var data = JSONObject()
        data["period"] = UsageMath.periodJSON(start: period.start, end: period.end)
        data["environment"] = .string(env)
        data["requests"] = .object(requests)
        data["memories"] = .object(memories)
        // Storage counts both environments (the quota is the tenant's), exact as of this request.
        let storedBytes = row.storageBytes
        let (quotaBytes, overflow) = max(0, row.maxStorageMB).multipliedReportingOverflow(by: StorageAccounting.bytesPerMB)
        var storage = JSONObject()
        storage["bytes"] = .int(storedBytes)
        storage["quota_bytes"] = .int(overflow ? .max : quotaBytes)
        storage["percent"] = .number(UsageMath.percent(storedBytes, of: overflow ? .max : quotaBytes))
        data["storage"] = .object(storage)
        data["rate_limited"] = .int(row.rateLimited)
        data["by_endpoint"] = try fragment(row.byEndpoint, default: .object(JSONObject()))
        data["by_key"] = try fragment(row.byKey, default: .array([]))
        data["alerts"] = try fragment(row.alerts, default: .array([]))
        return APIResponse(json: .object(data))
    }

    // MARK: - GET /v1/usage/history

    /// `from`/`to` (inclusive dates; `to` defaults to today UTC, `from` to 29 days before `to`),
    /// at most 366 days; `key_id` narrows to one key of the tenant (404 when the tenant has no
    /// such key). One row per day, zeros included. `format=csv` or `Accept: text/csv` → CSV.
    static func history(_ context: RequestContext) throws -> APIResponse {
        let env = try environment(context)
        let asCSV = try CSV.isRequested(context)
        let range = try historyRange(from: context.query["from"], to: context.query["to"], today: Date())
        let principal = context.tenant
        let keyID = context.query["key_id"]
        if let keyID {
            guard Identifiers.isValid(keyID, maxLength: 64) else {
                throw APIError.invalidField("key_id", "must be an API key id such as key_…")
            }
            let keys = try context.pool.query("SELECT 1 FROM api_keys WHERE org_id = $1 AND key_id = $2",
                                              [.text(principal.orgID), .text(keyID)])
            if keys.isEmpty { throw APIError.notFound("api key") }
        }
        let rows = try context.pool.query(
            """
            SELECT \(HistoryDay.selectList)
              FROM generate_series($3::date, $4::date, interval '1 day') AS d(day)
              LEFT JOIN usage_counters u
                ON u.org_id = $1 AND u.env = $2 AND u.day = d.day::date AND ($5::text IS NULL OR u.key_id = $5)
             GROUP BY d.day ORDER BY d.day
            """,
            [.text(principal.orgID), .text(env), .text(UTCDate.format(range.from)), .text(UTCDate.format(range.to)),
             keyID.map { .text($0) } ?? .null])
        let days = rows.map { HistoryDay($0) }
        if asCSV {
            let csv = CSV.document(
                header: ["date", "requests", "rate_limited", "errors"],
                rows: days.map { [$0.date, String($0.requests), String($0.rateLimited), String($0.errors)] })
            return APIResponse(status: 200, contentType: CSV.contentType, bytes: Array(csv.utf8))
        }
        let list: [JSONValue] = days.map { day in
            .object(JSONObject([("date", .string(day.date)), ("requests", .int(day.requests)),
                                ("rate_limited", .int(day.rateLimited)), ("errors", .int(day.errors))]))
        }
        return APIResponse(json: .object(JSONObject([("days", .array(list))])))
    }

    /// One day of history.
    struct HistoryDay: Sendable, Equatable {
        var date: String
        var requests: Int64
        var rateLimited: Int64
        var errors: Int64
    }

    /// Validates `from`/`to` and applies the defaults. Throws one 400 listing every problem.
    static func historyRange(from: String?, to: String?, today: Date) throws(APIError) -> (from: UTCDate.Civil, to: UTCDate.Civil) {
        var issues = Issues()
        var fromDay: UTCDate.Civil?
        var toDay: UTCDate.Civil?
        // Year 0000 parses as a date but exists in no calendar PostgreSQL knows: refused here.
        if let from {
            fromDay = UTCDate.parseDay(from).flatMap { $0.year >= 1 ? $0 : nil }
            if fromDay == nil { issues.add("from", "must be a date YYYY-MM-DD (years 0001-9999)") }
        }
        if let to {
            toDay = UTCDate.parseDay(to).flatMap { $0.year >= 1 ? $0 : nil }
            if toDay == nil { issues.add("to", "must be a date YYYY-MM-DD (years 0001-9999)") }
        }
        try issues.check()
        let end = toDay ?? UTCDate.civil(today)
        let start = fromDay ?? UTCDate.civil(daysSinceEpoch: UTCDate.daysSinceEpoch(end) - (defaultHistoryDays - 1))
        let count = UTCDate.daysSinceEpoch(end) - UTCDate.daysSinceEpoch(start) + 1
        if count < 1 {
            throw APIError.invalidField("from", "must not be after to")
        }
        if count > maxHistoryDays {
            throw APIError.invalidField("to", "the range covers \(count) days; at most \(maxHistoryDays)")
        }
        return (start, end)
    }

    // MARK: - GET /v1/usage/projection

    static func projection(_ context: RequestContext) throws -> APIResponse {
        let env = try environment(context)
        let principal = context.tenant
        let now = Date()
        let period = UsageMath.period(of: now)
        let rows = try context.pool.query(
            """
            SELECT \(PlanPriceRow.selectList)
              FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.org_id = $1
            """,
            [.text(principal.orgID), .text(env), .text(UTCDate.format(period.start)), .text(UTCDate.format(period.end))])
        guard let row = rows.first.map(PlanPriceRow.init) else { throw APIError.notFound("account") }
        let price = PlanPrice(baseCents: row.priceCents, overageCentsPer1000: row.overageCentsPer1000,
                              monthlyQuota: principal.monthlyQuota, isHardQuota: row.isHardQuota ?? principal.hardQuota)
        let elapsed = Int64(now.timeIntervalSince1970.rounded(.down)) - period.startSeconds
        let data = projectionJSON(
            requestsToDate: row.requests, elapsedSeconds: elapsed, periodSeconds: period.seconds, price: price,
            period: UsageMath.periodJSON(start: period.start, end: period.end))
        return APIResponse(json: data)
    }

    /// The projection's `data`, pure: linear extrapolation of the requests to date over the whole
    /// period, priced like billing (base not prorated; overage half-up once).
    static func projectionJSON(requestsToDate: Int64, elapsedSeconds: Int64, periodSeconds: Int64,
                               price: PlanPrice, period: JSONValue) -> JSONValue {
        let projected = UsageMath.projectedRequests(
            requestsToDate: requestsToDate, elapsedSeconds: elapsedSeconds, periodSeconds: periodSeconds)
        return .object(JSONObject([
            ("period", period),
            ("requests_to_date", .int(requestsToDate)),
            ("projected_requests", .int(projected)),
            ("projected_percent", .number(UsageMath.percent(projected, of: price.monthlyQuota))),
            ("projected_cost", Charge.of(requests: projected, price: price).json),
            ("method", .string(UsageMath.projectionMethod)),
        ]))
    }

    // MARK: - Shared

    /// `environment` query parameter, else the calling key's. A test key sees test data only
    /// (contract v1.1): asking for `live` with one is 403, not an empty or a live answer.
    static func environment(_ context: RequestContext) throws(APIError) -> String {
        guard let value = context.query["environment"] else { return context.tenant.env }
        guard value == "live" || value == "test" else {
            throw APIError.invalidField("environment", "must be live or test")
        }
        if value == "live", context.tenant.environment == .test {
            throw APIError(status: 403, code: "insufficient_scope",
                           message: "a test key sees test usage only; use a live key for environment=live")
        }
        return value
    }

    private static func fragment(_ text: String?, default empty: JSONValue) throws -> JSONValue {
        guard let text else { return empty }
        return try JSONParser.parse(Array(text.utf8))
    }
}
