import Foundation
import Testing
@testable import Gateway

/// Percent, projection and history-range arithmetic with fixed inputs.
@Suite struct UsageMathTests {
    @Test(arguments: [
        (Int64(0), Int64(100), "0.00"), (1, 3, "33.33"), (2, 3, "66.67"), (1, 8, "12.50"), (80, 100, "80.00"),
        (100, 100, "100.00"), (150, 100, "150.00"), (1, 10_000, "0.01"), (1, 100_000, "0.00"),
        (1, 20_000, "0.01"), (12_345, 10_000, "123.45"), (0, 0, "0.00"), (5, 0, "100.00"),
    ])
    func percentHasTwoDecimalsRoundedHalfUp(used: Int64, quota: Int64, text: String) throws {
        let number = UsageMath.percent(used, of: quota)
        #expect(number.text == text)
        // It is a JSON number, not a string.
        let parsed = try JSONParser.parse(Array(JSONValue.object(JSONObject([("p", .number(number))])).jsonBytes))
        #expect(parsed["p"]?.numberValue?.text == text)
    }

    @Test func projectionIsLinearOverTheElapsedFraction() {
        let month: Int64 = 30 * 86_400
        // Half the period elapsed: double.
        #expect(UsageMath.projectedRequests(requestsToDate: 500, elapsedSeconds: month / 2, periodSeconds: month) == 1000)
        // A third: triple, rounded half-up (100 / (1/3)) = 300.
        #expect(UsageMath.projectedRequests(requestsToDate: 100, elapsedSeconds: month / 3, periodSeconds: month) == 300)
        // 10 days of 30: 7 → 21.
        #expect(UsageMath.projectedRequests(requestsToDate: 7, elapsedSeconds: 10 * 86_400, periodSeconds: month) == 21)
        // 1 of 3 equal parts done → 1 request projects 3; 1 request over 7 of 30 days = 4.2857 → 4.
        #expect(UsageMath.projectedRequests(requestsToDate: 1, elapsedSeconds: 7 * 86_400, periodSeconds: month) == 4)
        // 1 request over 4 of 30 days = 7.5 → 8 (half-up).
        #expect(UsageMath.projectedRequests(requestsToDate: 1, elapsedSeconds: 4 * 86_400, periodSeconds: month) == 8)
        // The whole period elapsed (or more): what was used.
        #expect(UsageMath.projectedRequests(requestsToDate: 42, elapsedSeconds: month, periodSeconds: month) == 42)
        #expect(UsageMath.projectedRequests(requestsToDate: 42, elapsedSeconds: month * 2, periodSeconds: month) == 42)
    }

    @Test func projectionUsesAtLeastOneHourElapsed() {
        let month: Int64 = 31 * 86_400
        // 10 requests in the first second would project 26.8 million; the one-hour floor gives 7440.
        #expect(UsageMath.projectedRequests(requestsToDate: 10, elapsedSeconds: 1, periodSeconds: month) == 7440)
        #expect(UsageMath.projectedRequests(requestsToDate: 10, elapsedSeconds: 0, periodSeconds: month) == 7440)
        #expect(UsageMath.projectedRequests(requestsToDate: 0, elapsedSeconds: 0, periodSeconds: month) == 0)
    }

    @Test func projectionJSONPricesTheProjection() {
        let starter = PlanPrice(baseCents: 1900, overageCentsPer1000: 50, monthlyQuota: 100_000, isHardQuota: false)
        let month: Int64 = 30 * 86_400
        // 60,000 in 15 of 30 days → 120,000 projected: 20,000 over × 0.50/1000 = 10.00.
        let data = Usage.projectionJSON(requestsToDate: 60_000, elapsedSeconds: month / 2, periodSeconds: month,
                                        price: starter, period: "p")
        #expect(data["requests_to_date"]?.intValue == 60_000)
        #expect(data["projected_requests"]?.intValue == 120_000)
        #expect(data["projected_percent"]?.numberValue?.text == "120.00")
        #expect(data["projected_cost"]?["base"]?.stringValue == "19.00")
        #expect(data["projected_cost"]?["overage"]?.stringValue == "10.00")
        #expect(data["projected_cost"]?["total"]?.stringValue == "29.00")
        #expect(data["projected_cost"]?["currency"]?.stringValue == "USD")
        #expect(data["method"]?.stringValue?.hasPrefix("linear") == true)
    }

    @Test func projectionOfAFreePlanHasNoOverage() {
        let free = PlanPrice(baseCents: 0, overageCentsPer1000: 0, monthlyQuota: 10_000, isHardQuota: true)
        let data = Usage.projectionJSON(requestsToDate: 9000, elapsedSeconds: 10 * 86_400, periodSeconds: 30 * 86_400,
                                        price: free, period: "p")
        #expect(data["projected_requests"]?.intValue == 27_000)
        #expect(data["projected_percent"]?.numberValue?.text == "270.00")
        #expect(data["projected_cost"]?["total"]?.stringValue == "0.00")
    }

    @Test func periodIsTheUTCCalendarMonth() {
        // 2024-02-29T23:59:59.9Z is still February (leap year).
        let date = Date(timeIntervalSince1970: 1_709_251_199.9)
        let period = UsageMath.period(of: date)
        #expect(UTCDate.format(period.start) == "2024-02-01")
        #expect(UTCDate.format(period.end) == "2024-02-29")
        #expect(period.seconds == 29 * 86_400)
        #expect(period.startSeconds == 1_706_745_600)
        let march = UsageMath.period(of: Date(timeIntervalSince1970: 1_709_251_200))
        #expect(UTCDate.format(march.start) == "2024-03-01")
    }

    // MARK: - History range

    static let today = Date(timeIntervalSince1970: 1_709_251_199)  // 2024-02-29

    @Test func historyDefaultsToThirtyDaysEndingToday() throws {
        let range = try Usage.historyRange(from: nil, to: nil, today: Self.today)
        #expect(UTCDate.format(range.to) == "2024-02-29")
        #expect(UTCDate.format(range.from) == "2024-01-31")
    }

    @Test func historyToAloneEndsThere() throws {
        let range = try Usage.historyRange(from: nil, to: "2024-01-10", today: Self.today)
        #expect(UTCDate.format(range.from) == "2023-12-12")
    }

    @Test func historyAllows366Days() throws {
        let range = try Usage.historyRange(from: "2023-01-01", to: "2024-01-01", today: Self.today)
        #expect(UTCDate.daysSinceEpoch(range.to) - UTCDate.daysSinceEpoch(range.from) + 1 == 366)
        #expect(throws: APIError.self) { try Usage.historyRange(from: "2022-12-31", to: "2024-01-01", today: Self.today) }
    }

    @Test func historyOneDayIsFine() throws {
        let range = try Usage.historyRange(from: "2024-02-01", to: "2024-02-01", today: Self.today)
        #expect(range.from == range.to)
    }

    @Test(arguments: [
        ("2024-02-02", "2024-02-01"), ("2024-13-01", nil), ("2024-02-30", nil), ("20240201", nil),
        (nil, "yesterday"), ("", nil), ("2024-02-01T00:00:00Z", nil),
    ] as [(String?, String?)])
    func historyRejectsBadRanges(from: String?, to: String?) {
        #expect(throws: APIError.self) { try Usage.historyRange(from: from, to: to, today: Self.today) }
    }
}
