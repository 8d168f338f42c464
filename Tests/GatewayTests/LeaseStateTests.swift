import Testing
@testable import Gateway

/// The lease state machine without sockets: exact at small limits, growth while spent early,
/// local admissions and their headers, give-back of an expired lease, one fetch at a time.
@Suite struct LeaseStateTests {
    let start = ContinuousClock.now

    @Test func smallLimitsKeepTheExactPerRequestDecision() {
        #expect(LeaseState.maximumLease(limit: 10) == 1)
        #expect(LeaseState.maximumLease(limit: 60) == 1)
        #expect(LeaseState.maximumLease(limit: 600) == 2)
        #expect(LeaseState.maximumLease(limit: 100_000) == 416)
        var lease = LeaseState(orgID: "a", limit: 10)
        for step in 0..<5 {
            let now = start + .milliseconds(step)
            let result1 = lease.request(now: now)
            #expect(result1 == .fetch(want: 1, giveBack: nil))
            lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 5, resetSeconds: 30, now: now)
        }
    }

    @Test func theLeaseGrowsWhileSpentBeforeItExpiresUpToTheMaximum() {
        var lease = LeaseState(orgID: "a", limit: 2_400)  // maximum 10
        var wants: [Int] = []
        var now = start
        for _ in 0..<6 {
            guard case .fetch(let want, _) = lease.request(now: now) else { Issue.record("expected a fetch"); return }
            wants.append(want)
            lease.granted(want, keyTat: 100, tenantTat: 200, remaining: 50, resetSeconds: 10, now: now)
            for _ in 1..<want {
                let spent = lease.request(now: now)  // spend it
                #expect(spent != .single)
            }
            now += .milliseconds(10)
        }
        #expect(wants == [1, 2, 4, 8, 10, 10])
    }

    @Test func localAdmissionsCountDownTheRemainingTheInstanceKnows() {
        var lease = LeaseState(orgID: "a", limit: 2_400)
        _ = lease.request(now: start)
        lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 100, resetSeconds: 1, now: start)
        _ = lease.request(now: start)  // grows to 2
        lease.granted(2, keyTat: 7, tenantTat: 9, remaining: 97, resetSeconds: 3, now: start)
        // The fetching request used one of the two; one is left: the bucket's 97 plus it.
        let result2 = lease.request(now: start + .milliseconds(1))
        #expect(result2 == .admit(remaining: 97, resetSeconds: 3))
        #expect(lease.tokens == 0)
    }

    @Test func anExpiredLeaseGivesItsUnusedTokensBackAndShrinks() {
        var lease = LeaseState(orgID: "a", limit: 24_000)  // maximum 100
        _ = lease.request(now: start)
        lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 100, resetSeconds: 1, now: start)
        guard case .fetch(let want, nil) = lease.request(now: start) else { Issue.record("expected a fetch"); return }
        lease.granted(want, keyTat: 11, tenantTat: 22, remaining: 90, resetSeconds: 2, now: start)
        let later = start + LeaseState.expiry + .milliseconds(1)
        let result3 = lease.request(now: later)
        #expect(result3 == .fetch(want: 1, giveBack: .init(tokens: want - 1, keyTat: 11, tenantTat: 22)))
    }

    @Test func onlyOneRequestFetchesAtATimeTheOthersAreDecidedExactly() {
        var lease = LeaseState(orgID: "a", limit: 2_400)
        let result4 = lease.request(now: start)
        #expect(result4 == .fetch(want: 1, giveBack: nil))
        let result5 = lease.request(now: start)
        #expect(result5 == .single)
        lease.refused()
        let result6 = lease.request(now: start)
        #expect(result6 == .fetch(want: 1, giveBack: nil))
    }

    @Test func aRefusalStartsTheNextLeaseSmall() {
        var lease = LeaseState(orgID: "a", limit: 2_400)
        _ = lease.request(now: start)
        lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 10, resetSeconds: 1, now: start)
        let result7 = lease.request(now: start)
        #expect(result7 == .fetch(want: 2, giveBack: nil))
        lease.refused()
        let result8 = lease.request(now: start)
        #expect(result8 == .fetch(want: 1, giveBack: nil))
    }

    @Test func aLeaseSpentOnlyLateKeepsItsSizeAndTokensLeftAtExpiryAreCounted() {
        var lease = LeaseState(orgID: "a", limit: 2_400)
        _ = lease.request(now: start)
        lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 10, resetSeconds: 1, now: start)
        let late = start + LeaseState.expiry * 0.75
        let kept = lease.request(now: late)
        #expect(kept == .fetch(want: 1, giveBack: nil))
        lease.granted(1, keyTat: nil, tenantTat: nil, remaining: 10, resetSeconds: 1, now: late)
        let grown = lease.request(now: late + .milliseconds(1))
        #expect(grown == .fetch(want: 2, giveBack: nil))
        lease.granted(2, keyTat: 1, tenantTat: 2, remaining: 10, resetSeconds: 1, now: late)
        let expired = lease.request(now: late + LeaseState.expiry)
        #expect(expired == .fetch(want: 1, giveBack: .init(tokens: 1, keyTat: 1, tenantTat: 2)))
        #expect(lease.expiredTokens == 1)
    }
}
