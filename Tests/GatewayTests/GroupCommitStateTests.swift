import Testing
@testable import Gateway

/// `GroupCommitState` event by event, without threads or sockets: which writes commit together.
@Suite struct GroupCommitStateTests {
    private typealias State = GroupCommitState<Int>

    private func group(_ action: State.SubmitAction) -> [Int]? {
        if case .commit(let group) = action { return group }
        return nil
    }

    private func group(_ action: State.FinishAction) -> [Int]? {
        if case .commit(let group) = action { return group }
        return nil
    }

    @Test func aWriteOnAnIdleCommitterCommitsAtOnceAlone() {
        var state = State(limits: .init(maxBatch: 8, maxInFlight: 1))
        #expect(group(state.submitted(1)) == [1])
        #expect(state.inFlight == 1)
        #expect(group(state.groupFinished()) == nil)
        #expect(state.inFlight == 0)
        #expect(group(state.submitted(2)) == [2])
    }

    @Test func writesArrivingWhileACommitIsInFlightCommitTogetherNext() {
        var state = State(limits: .init(maxBatch: 8, maxInFlight: 1))
        #expect(group(state.submitted(1)) == [1])
        for ticket in 2...5 {
            guard case .wait = state.submitted(ticket) else {
                Issue.record("ticket \(ticket) should wait for the commit in flight")
                return
            }
        }
        #expect(state.queuedCount == 4)
        #expect(group(state.groupFinished()) == [2, 3, 4, 5])
        #expect(state.inFlight == 1)
        #expect(state.queuedCount == 0)
        #expect(group(state.groupFinished()) == nil)
        #expect(state.inFlight == 0)
    }

    @Test func aGroupHoldsAtMostMaxBatchWritesAndTheRestFollowInOrder() {
        var state = State(limits: .init(maxBatch: 3, maxInFlight: 1))
        _ = state.submitted(0)
        for ticket in 1...7 { _ = state.submitted(ticket) }
        #expect(group(state.groupFinished()) == [1, 2, 3])
        #expect(group(state.groupFinished()) == [4, 5, 6])
        #expect(group(state.groupFinished()) == [7])
        #expect(group(state.groupFinished()) == nil)
        #expect(state.inFlight == 0)
    }

    @Test func upToMaxInFlightGroupsCommitAtOnceBeforeWritesQueue() {
        var state = State(limits: .init(maxBatch: 8, maxInFlight: 2))
        #expect(group(state.submitted(1)) == [1])
        #expect(group(state.submitted(2)) == [2])
        #expect(state.inFlight == 2)
        guard case .wait = state.submitted(3) else {
            Issue.record("a third write should wait while two commits are in flight")
            return
        }
        _ = state.submitted(4)
        // The first group to finish hands its slot to the queue; the other finishes with nothing left.
        #expect(group(state.groupFinished()) == [3, 4])
        #expect(state.inFlight == 2)
        #expect(group(state.groupFinished()) == nil)
        #expect(state.inFlight == 1)
        // A slot is free again: the next write commits at once.
        #expect(group(state.submitted(5)) == [5])
        #expect(group(state.groupFinished()) == nil)
        #expect(group(state.groupFinished()) == nil)
        #expect(state.inFlight == 0)
    }

    @Test(arguments: [(1, 1), (4, 1), (3, 2), (32, 2), (1, 4)])
    func everySubmittedWriteIsHandedOutExactlyOnceInArrivalOrder(maxBatch: Int, maxInFlight: Int) {
        var state = State(limits: .init(maxBatch: maxBatch, maxInFlight: maxInFlight))
        var handedOut: [Int] = []
        var inFlight: [[Int]] = []
        // Interleave arrivals and finishes: two arrivals, then the oldest group in flight finishes.
        for ticket in 0..<100 {
            if let group = group(state.submitted(ticket)) { inFlight.append(group) }
            if ticket % 2 == 1, !inFlight.isEmpty {
                handedOut += inFlight.removeFirst()
                if let next = group(state.groupFinished()) {
                    #expect(next.count <= maxBatch)
                    inFlight.append(next)
                }
            }
            #expect(state.inFlight == inFlight.count)
            #expect(state.inFlight <= maxInFlight)
            #expect(state.queuedCount == 0 || state.inFlight == maxInFlight)
        }
        while !inFlight.isEmpty {
            handedOut += inFlight.removeFirst()
            if let next = group(state.groupFinished()) { inFlight.append(next) }
        }
        #expect(handedOut == Array(0..<100))
        #expect(state.inFlight == 0 && state.queuedCount == 0)
    }
}

extension GroupCommitStateTests {
    @Test func countsGroupsAndWritesHandedOut() {
        var state = State(limits: .init(maxBatch: 2, maxInFlight: 1))
        _ = state.submitted(0)
        for ticket in 1...3 { _ = state.submitted(ticket) }
        #expect(state.groupsStarted == 1 && state.writesStarted == 1)
        _ = state.groupFinished()
        #expect(state.groupsStarted == 2 && state.writesStarted == 3)
        _ = state.groupFinished()
        #expect(state.groupsStarted == 3 && state.writesStarted == 4)
    }
}

/// `GROUP_COMMIT*` settings: off by default, switched and bounded as documented.
@Suite struct GroupCommitConfigurationTests {
    @Test func groupCommitIsOffByDefaultAndSwitchedOnByItsVariable() throws {
        #expect(try GatewayConfiguration.load(environment: [:], arguments: []).groupCommit.isEnabled == false)
        let on = try GatewayConfiguration.load(
            environment: ["GROUP_COMMIT": "on", "GROUP_COMMIT_MAX_BATCH": "60", "GROUP_COMMIT_IN_FLIGHT": "3"],
            arguments: [])
        #expect(on.groupCommit.isEnabled)
        #expect(on.groupCommit.limits.maxBatch == 60 && on.groupCommit.limits.maxInFlight == 3)
        #expect(try GatewayConfiguration.load(environment: ["GROUP_COMMIT": "off"], arguments: []).groupCommit.isEnabled == false)
    }

    @Test(arguments: [("GROUP_COMMIT_MAX_BATCH", "0"), ("GROUP_COMMIT_MAX_BATCH", "61"),
                      ("GROUP_COMMIT_IN_FLIGHT", "0"), ("GROUP_COMMIT_IN_FLIGHT", "x")])
    func outOfRangeGroupCommitSettingsAreRefused(name: String, value: String) {
        #expect(throws: GatewayConfiguration.ConfigurationError.self) {
            try GatewayConfiguration.load(environment: [name: value], arguments: [])
        }
    }
}
