import Foundation
import Testing
@testable import Gateway

/// Money, overage pricing and the billing report's two forms, with fixed inputs (no database).
@Suite struct BillingPricingTests {
    static let starter = PlanPrice(baseCents: 1900, overageCentsPer1000: 50, monthlyQuota: 100_000, isHardQuota: false)
    static let professional = PlanPrice(baseCents: 9900, overageCentsPer1000: 30, monthlyQuota: 1_000_000,
                                        isHardQuota: false)
    static let free = PlanPrice(baseCents: 0, overageCentsPer1000: 0, monthlyQuota: 10_000, isHardQuota: true)

    @Test(arguments: [
        (Int64(0), "0.00"), (1, "0.01"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (1900, "19.00"),
        (9900, "99.00"), (123_456, "1234.56"), (-120, "-1.20"),
    ])
    func moneyIsWrittenWithTwoDecimals(cents: Int64, text: String) {
        #expect(Money(cents: cents).decimalString == text)
    }

    @Test(arguments: [
        // requests over, cents per 1000, expected cents (half-up once)
        (Int64(0), Int64(50), Int64(0)), (1, 50, 0), (9, 50, 0), (10, 50, 1), (29, 50, 1), (30, 50, 2),
        (1000, 50, 50), (1010, 50, 51), (1, 30, 0), (16, 30, 0), (17, 30, 1), (50, 30, 2), (1000, 30, 30),
        (1_000_000, 30, 30_000),
    ])
    func overageRoundsHalfUpToTheCent(requests: Int64, price: Int64, cents: Int64) {
        #expect(Money.perThousand(requests: requests, centsPer1000: price).cents == cents)
    }

    @Test func overageStaysExactForHugeCounts() {
        let requests = Int64.max / 10
        let money = Money.perThousand(requests: requests, centsPer1000: 50)
        #expect(money.cents == requests / 1000 * 50 + (requests % 1000 * 50 + 500) / 1000)
    }

    @Test func starterAtTheQuotaHasNoOverage() {
        let charge = Charge.of(requests: 100_000, price: Self.starter)
        #expect(charge.overageRequests == 0)
        #expect(charge.base.decimalString == "19.00")
        #expect(charge.overage.decimalString == "0.00")
        #expect(charge.total.decimalString == "19.00")
    }

    @Test func starterOneOverRoundsToZeroCents() {
        let charge = Charge.of(requests: 100_001, price: Self.starter)
        #expect(charge.overageRequests == 1)
        #expect(charge.overage.decimalString == "0.00")
        #expect(charge.total.decimalString == "19.00")
    }

    @Test func starterTenOverRoundsHalfUpToOneCent() {
        let charge = Charge.of(requests: 100_010, price: Self.starter)
        #expect(charge.overageRequests == 10)
        #expect(charge.overage.decimalString == "0.01")
        #expect(charge.total.decimalString == "19.01")
    }

    @Test func starterThousandOverIsFiftyCents() {
        let charge = Charge.of(requests: 101_000, price: Self.starter)
        #expect(charge.overage.decimalString == "0.50")
        #expect(charge.total.decimalString == "19.50")
    }

    @Test func professionalAtThresholds() {
        #expect(Charge.of(requests: 1_000_000, price: Self.professional).overage.cents == 0)
        let one = Charge.of(requests: 1_000_001, price: Self.professional)
        #expect(one.overageRequests == 1)
        #expect(one.overage.decimalString == "0.00")
        // 17 × 30 / 1000 = 0.51 cents → 1 cent; 16 → 0.48 → 0.
        #expect(Charge.of(requests: 1_000_016, price: Self.professional).overage.cents == 0)
        #expect(Charge.of(requests: 1_000_017, price: Self.professional).overage.cents == 1)
        let many = Charge.of(requests: 2_000_000, price: Self.professional)
        #expect(many.overageRequests == 1_000_000)
        #expect(many.overage.decimalString == "300.00")
        #expect(many.total.decimalString == "399.00")
    }

    @Test func freePlanNeverHasOverage() {
        let charge = Charge.of(requests: 50_000, price: Self.free)
        #expect(charge.overageRequests == 0)
        #expect(charge.total.decimalString == "0.00")
    }

    @Test func chargeJSONHasDecimalStringsAndCurrency() {
        let json = Charge.of(requests: 100_010, price: Self.starter).json
        #expect(json["base"]?.stringValue == "19.00")
        #expect(json["overage"]?.stringValue == "0.01")
        #expect(json["total"]?.stringValue == "19.01")
        #expect(json["currency"]?.stringValue == "USD")
    }

    @Test(arguments: ["2026-01", "1999-12", "2024-02"])
    func acceptsPeriods(text: String) {
        #expect(Billing.parsePeriod(text) != nil)
    }

    @Test func periodBoundsAreTheCalendarMonth() throws {
        let bounds = try #require(Billing.parsePeriod("2024-02"))
        #expect(UTCDate.format(bounds.start) == "2024-02-01")
        #expect(UTCDate.format(bounds.end) == "2024-02-29")
    }

    @Test(arguments: ["", "2026", "2026-1", "2026-13", "2026-00", "2026-01-01", "26-01", "2026/01", "abcd-ef", " 2026-01", "0000-01"])
    func rejectsPeriods(text: String) {
        #expect(Billing.parsePeriod(text) == nil)
    }

    @Test func csvQuotesNamesWithCommasAndQuotes() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        #expect(CSV.document(header: ["a", "b"], rows: [["1", "x,y"]]) == "a,b\r\n1,\"x,y\"\r\n")
    }

    @Test func reportJSONAndCSVAgree() throws {
        let report = Billing.Report(period: "2026-03", rows: [
            Billing.Row(tenantID: "org_1", name: "Acme, \"Inc\"", plan: "starter", requests: 100_010, rateLimited: 4,
                        quota: 100_000, memoriesStored: 12, charge: .of(requests: 100_010, price: Self.starter)),
            Billing.Row(tenantID: "org_2", name: "Free one", plan: "free", requests: 7, rateLimited: 0,
                        quota: 10_000, memoriesStored: 0, charge: .of(requests: 7, price: Self.free)),
        ])
        let json = Billing.json(report)
        #expect(json["period"]?.stringValue == "2026-03")
        let csvRows = parseCSV(Billing.csv(report))
        #expect(csvRows.first == Billing.csvHeader)
        let tenants = try #require(json["tenants"]?.arrayValue)
        #expect(tenants.count == 2)
        #expect(csvRows.count == 3)
        for (index, tenant) in tenants.enumerated() {
            #expect(csvRow(from: tenant) == csvRows[index + 1])
        }
        #expect(tenants[0]["overage_requests"]?.intValue == 10)
        #expect(tenants[0]["total"]?.stringValue == "19.01")
    }
}

/// The JSON row as the CSV row it must equal, in the CSV header's column order.
func csvRow(from tenant: JSONValue) -> [String] {
    Billing.csvHeader.map { column in
        guard let value = tenant[column] else { return "<missing>" }
        if let text = value.stringValue { return text }
        return value.numberValue?.text ?? "<\(value)>"
    }
}

/// A strict RFC 4180 reader for tests: CRLF records, quoted fields with doubled quotes.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var characters = Array(text.unicodeScalars)[...]
    while let c = characters.popFirst() {
        if inQuotes {
            if c == "\"" {
                if characters.first == "\"" {
                    field.unicodeScalars.append("\"")
                    characters.removeFirst()
                } else {
                    inQuotes = false
                }
            } else {
                field.unicodeScalars.append(c)
            }
        } else if c == "\"" {
            inQuotes = true
        } else if c == "," {
            row.append(field)
            field = ""
        } else if c == "\r" && characters.first == "\n" {
            characters.removeFirst()
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.unicodeScalars.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}
