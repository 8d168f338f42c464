import Foundation
import PostgresStore

/// `GET /v1/admin/billing?period=YYYY-MM` (operator) and `memory-gateway billing`.
///
/// One row per tenant that existed by the end of the period (suspended ones included: the base
/// price is monthly and not prorated). Each is priced by the plan it had when the period closed
/// (`tenant_plans`, kept by a trigger; the current plan for the current period), with its
/// effective quota (an operator's override as it is now). `requests` and `rate_limited`
/// are the period's live counts; `memories_stored` is the live memory count now (no history is
/// kept either). Money is in integer cents until it is written as `"19.00"`.
enum Billing {
    /// One tenant's bill for the period.
    struct Row: Sendable, Equatable {
        var tenantID: String
        var name: String
        var plan: String
        var requests: Int64
        var rateLimited: Int64
        var quota: Int64
        var memoriesStored: Int64
        var charge: Charge
    }

    /// The report of one period (`YYYY-MM`).
    struct Report: Sendable, Equatable {
        var period: String
        var rows: [Row]
    }

    static let csvHeader = [
        "tenant_id", "name", "plan", "requests", "rate_limited", "quota", "overage_requests", "memories_stored",
        "base", "overage", "total", "currency",
    ]

    static func report(_ context: RequestContext) throws -> APIResponse {
        let asCSV = try CSV.isRequested(context)
        guard let period = context.query["period"] else {
            throw APIError.invalidField("period", "is required (YYYY-MM)")
        }
        let report = try build(pool: context.services.pool, period: period)
        if asCSV {
            return APIResponse(status: 200, contentType: CSV.contentType, bytes: Array(csv(report).utf8))
        }
        return APIResponse(json: json(report))
    }

    /// The first and last day of a `YYYY-MM` period; nil when it is not one.
    static func parsePeriod(_ text: String) -> (start: UTCDate.Civil, end: UTCDate.Civil)? {
        guard text.utf8.count == 7, let first = UTCDate.parseDay(text + "-01"), first.year >= 1 else { return nil }
        return UTCDate.monthBounds(year: first.year, month: first.month)
    }

    /// Builds the report. Throws 400 `invalid_request` for a period that is not `YYYY-MM`.
    static func build(pool: PostgresPool, period: String) throws -> Report {
        guard let bounds = parsePeriod(period) else {
            throw APIError.invalidField("period", "must be a month YYYY-MM")
        }
        let rows = try pool.query(
            """
            SELECT \(Row.selectList)
              FROM tenants t
              -- The plan in effect when the period closed (or now, for the current period).
              LEFT JOIN LATERAL (
                  SELECT tp.plan FROM tenant_plans tp
                   WHERE tp.org_id = t.org_id AND tp.since < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
                   ORDER BY tp.since DESC LIMIT 1) closing ON true
              JOIN plans p ON p.name = coalesce(closing.plan, t.plan)
              LEFT JOIN (SELECT org_id, sum(requests) AS requests, sum(rate_limited) AS rate_limited
                           FROM usage_counters
                          WHERE env = 'live' AND day BETWEEN $1::date AND $2::date
                          GROUP BY org_id) u ON u.org_id = t.org_id
             WHERE t.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
             ORDER BY t.created_at, t.org_id
            """,
            [.text(UTCDate.format(bounds.start)), .text(UTCDate.format(bounds.end))])
        return Report(period: period, rows: rows.map { Row($0) })
    }

    /// The CSV form: a header row, then one RFC 4180 row per tenant, CRLF line ends.
    static func csv(_ report: Report) -> String {
        CSV.document(header: csvHeader, rows: report.rows.map { row in
            [row.tenantID, row.name, row.plan, String(row.requests), String(row.rateLimited), String(row.quota),
             String(row.charge.overageRequests), String(row.memoriesStored), row.charge.base.decimalString,
             row.charge.overage.decimalString, row.charge.total.decimalString, Money.currency]
        })
    }

    /// `{period, tenants: [rows]}` (the API's `data`, and what the CLI prints bare).
    static func json(_ report: Report) -> JSONValue {
        .object(JSONObject([
            ("period", .string(report.period)),
            ("tenants", .array(report.rows.map { row in
                .object(JSONObject([
                    ("tenant_id", .string(row.tenantID)), ("name", .string(row.name)), ("plan", .string(row.plan)),
                    ("requests", .int(row.requests)), ("rate_limited", .int(row.rateLimited)),
                    ("quota", .int(row.quota)), ("overage_requests", .int(row.charge.overageRequests)),
                    ("memories_stored", .int(row.memoriesStored)),
                    ("base", .string(row.charge.base.decimalString)),
                    ("overage", .string(row.charge.overage.decimalString)),
                    ("total", .string(row.charge.total.decimalString)),
                    ("currency", .string(Money.currency)),
                ]))
            })),
        ]))
    }
}
