import Testing

@testable import Gateway

/// What a stored `Idempotency-Key` record means for a new request, with the limits shrunk.
@Suite struct IdempotencyRecordTests {
    static let limits = IdempotencyRecord.Limits(takeoverAfter: .milliseconds(60), expiresAfter: .milliseconds(1000))

    static func record(matches: Bool = true, status: Int? = nil, age: Duration) -> IdempotencyRecord {
        IdempotencyRecord(fingerprintMatches: matches, status: status, location: "/v1/memories/m1", body: [1], age: age)
    }

    func decide(_ record: IdempotencyRecord?) -> IdempotencyRecord.Decision {
        IdempotencyRecord.decide(record, limits: Self.limits)
    }

    @Test func aKeyWithoutARecordIsClaimed() {
        #expect(decide(nil) == .claim)
    }

    @Test func aCompletedSameRequestIsReplayedUntilTheRecordExpires() {
        #expect(decide(Self.record(status: 201, age: .milliseconds(999)))
            == .replay(status: 201, location: "/v1/memories/m1", body: [1]))
        #expect(decide(Self.record(status: 201, age: .milliseconds(1000))) == .expired)
    }

    @Test func anotherRequestUnderTheKeyIsAConflictUntilTheRecordExpires() {
        #expect(decide(Self.record(matches: false, status: 201, age: .zero)) == .conflict)
        #expect(decide(Self.record(matches: false, status: nil, age: .milliseconds(500))) == .conflict)
        #expect(decide(Self.record(matches: false, status: 201, age: .milliseconds(1000))) == .expired)
    }

    @Test func aSameRequestInFlightWaitsUntilTheTakeoverLimitThenTakesOver() {
        #expect(decide(Self.record(age: .zero)) == .wait)
        #expect(decide(Self.record(age: .milliseconds(59))) == .wait)
        #expect(decide(Self.record(age: .milliseconds(60))) == .takeover)
    }

    @Test func theDefaultLimitsAreTheContracts() {
        let limits = IdempotencyRecord.Limits()
        #expect(limits.takeoverAfter == .seconds(60))
        #expect(limits.expiresAfter == .seconds(86_400))
    }

    @Test(arguments: [(-5.0, 0 as Int64), (.nan, 0), (.infinity, 0), (1.5, 1500), (1e30, .max)])
    func anAgeInSecondsBecomesMillisecondsWithoutTrapping(_ seconds: Double, _ expected: Int64) {
        #expect(Idempotency.milliseconds(fromSeconds: seconds) == expected)
    }
}
