import Testing

@testable import Auth

@Suite struct GCRATests {
    let second: Int64 = 1_000_000
    let start: Int64 = 1_764_000_000_000_000

    @Test(arguments: [1, 2, 7, 10, 60, 300, 1000, 7746, 100_000])
    func idleBucketAdmitsABurstOfExactlyTheLimit(limit: Int) {
        var tat: Int64? = nil
        for index in 0..<limit {
            let decision = GCRA.decide(tat: tat, now: start, limitPerMinute: limit)
            #expect(decision.allowed, "request \(index + 1) of \(limit)")
            #expect(decision.remaining == limit - index - 1)
            #expect(decision.retryAfterSeconds == 0)
            tat = decision.newTAT
        }
        let refused = GCRA.decide(tat: tat, now: start, limitPerMinute: limit)
        #expect(!refused.allowed)
        #expect(refused.newTAT == tat)
        #expect(refused.remaining == 0)
        #expect(refused.retryAfterSeconds >= 1)
    }

    @Test func firstRequestFromIdle() {
        let decision = GCRA.decide(tat: nil, now: start, limitPerMinute: 60)
        #expect(decision == GCRA.Decision(allowed: true, newTAT: start + second, remaining: 59, resetSeconds: 1, retryAfterSeconds: 0))
        // A stale TAT in the past is the same as idle.
        #expect(GCRA.decide(tat: start - 3600 * second, now: start, limitPerMinute: 60) == decision)
    }

    @Test func tenPerMinuteKnownPoints() {
        // T = 6 s, tau = 54 s.
        var tat: Int64? = nil
        for _ in 0..<10 { tat = GCRA.decide(tat: tat, now: start, limitPerMinute: 10).newTAT }
        #expect(tat == start + 60 * second)

        let refused = GCRA.decide(tat: tat, now: start, limitPerMinute: 10)
        #expect(refused == GCRA.Decision(allowed: false, newTAT: start + 60 * second, remaining: 0, resetSeconds: 60, retryAfterSeconds: 6))

        // 1 µs before a token is back: still refused, retry rounds up to 1 s.
        let almost = GCRA.decide(tat: tat, now: start + 6 * second - 1, limitPerMinute: 10)
        #expect(!almost.allowed)
        #expect(almost.retryAfterSeconds == 1)
        #expect(almost.resetSeconds == 55)

        // Exactly one emission interval later one request is admitted and none remain.
        let admitted = GCRA.decide(tat: tat, now: start + 6 * second, limitPerMinute: 10)
        #expect(admitted == GCRA.Decision(allowed: true, newTAT: start + 66 * second, remaining: 0, resetSeconds: 60, retryAfterSeconds: 0))

        // Halfway through the next interval: refused, 3 s to wait.
        let mid = GCRA.decide(tat: admitted.newTAT, now: start + 9 * second, limitPerMinute: 10)
        #expect(!mid.allowed)
        #expect(mid.retryAfterSeconds == 3)
        #expect(mid.resetSeconds == 57)
    }

    @Test func refillsAtTheLimitPerSixtySeconds() {
        // 60/min: one per second. Drain, wait 10 s, exactly 10 more are admitted.
        var tat: Int64? = nil
        for _ in 0..<60 { tat = GCRA.decide(tat: tat, now: start, limitPerMinute: 60).newTAT }
        let later = start + 10 * second
        var admitted = 0
        while true {
            let decision = GCRA.decide(tat: tat, now: later, limitPerMinute: 60)
            guard decision.allowed else { break }
            admitted += 1
            tat = decision.newTAT
        }
        #expect(admitted == 10)
    }

    @Test func remainingReflectsPartialRefill() {
        // 60/min drained, then 30.5 s idle: 30 whole tokens back; this request takes one.
        var tat: Int64? = nil
        for _ in 0..<60 { tat = GCRA.decide(tat: tat, now: start, limitPerMinute: 60).newTAT }
        let decision = GCRA.decide(tat: tat, now: start + 30 * second + second / 2, limitPerMinute: 60)
        #expect(decision.allowed)
        #expect(decision.remaining == 29)
        #expect(decision.resetSeconds == 31)  // 30.5 s of debt, rounded up
    }

    @Test func fullBucketResetsAfterAMinute() {
        var tat: Int64? = nil
        for _ in 0..<300 { tat = GCRA.decide(tat: tat, now: start, limitPerMinute: 300).newTAT }
        let after = GCRA.decide(tat: tat, now: start + 60 * second, limitPerMinute: 300)
        #expect(after.allowed)
        #expect(after.remaining == 299)
        #expect(after.resetSeconds == 1)  // 0.2 s, rounded up
    }

    @Test func steadyRateAtTheLimitIsAlwaysAdmitted() {
        var tat: Int64? = nil
        for index in 0..<500 {
            let decision = GCRA.decide(tat: tat, now: start + Int64(index) * 6 * second, limitPerMinute: 10)
            #expect(decision.allowed)
            tat = decision.newTAT
        }
    }

    @Test func nonDividingLimitsUseIntegerIntervals() {
        let p = GCRA.Parameters(limitPerMinute: 7)
        #expect(p.emissionInterval == 8_571_428)
        #expect(p.burstTolerance == 6 * 8_571_428)
        let q = GCRA.Parameters(limitPerMinute: 60)
        #expect(q.emissionInterval == second)
        #expect(q.burstTolerance == 59 * second)  // 60 s − T
        #expect(GCRA.Parameters(limitPerMinute: 100_000_000).emissionInterval == 1)
    }

    @Test func zeroLimitRefusesEverything() {
        let decision = GCRA.decide(tat: nil, now: start, limitPerMinute: 0)
        #expect(!decision.allowed)
        #expect(decision.newTAT == start)
        #expect(decision.retryAfterSeconds == 60)
    }

    @Test func sqlPathMatchesTheSwiftPath() {
        // The store decides `allowed` and the stored TAT in SQL; the headers come from `decision`.
        var tat: Int64? = nil
        var now = start
        for step in 0..<400 {
            now += Int64((step * 7919) % 3) * 450_000
            let direct = GCRA.decide(tat: tat, now: now, limitPerMinute: 17)
            let p = GCRA.Parameters(limitPerMinute: 17)
            let tat0 = max(tat ?? now, now)
            let allowed = tat0 - now <= p.burstTolerance  // the SQL condition
            let stored = allowed ? tat0 + p.emissionInterval : (tat ?? now)
            #expect(GCRA.decision(allowed: allowed, storedTAT: stored, now: now, limitPerMinute: 17) == direct)
            tat = direct.newTAT
        }
    }
}
