import Testing

@testable import PostgresStore

/// The pool's state machine, event by event, with plain values for connections and a manual clock
/// (instants at fixed offsets; nothing sleeps, no PostgreSQL).
@Suite struct PoolStateMachineTests {
    typealias Pool = PoolState<String>
    let t0 = ContinuousClock.now
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0 + .milliseconds(milliseconds) }

    @Test func opensConnectionsLazilyUpToTheSizeThenQueues() {
        var pool = Pool(maximumSize: 2)
        guard case .connect = pool.lease(1, now: at(0), deadline: at(100)) else { Issue.record("no connect"); return }
        guard case .connect = pool.lease(2, now: at(0), deadline: at(100)) else { Issue.record("no connect"); return }
        guard case .wait(let until) = pool.lease(3, now: at(0), deadline: at(100)) else { Issue.record("no wait"); return }
        #expect(until == at(100))
        #expect(pool.statistics == PoolStatistics(size: 2, inUse: 2, idle: 0, waiting: 1, totalLeaseTimeouts: 0))
    }

    @Test func aReleasedConnectionIsParkedAndLeasedAgainMostRecentFirst() {
        var pool = Pool(maximumSize: 2)
        _ = pool.lease(1, now: at(0), deadline: at(100))
        _ = pool.lease(2, now: at(0), deadline: at(100))
        guard case .none = pool.release("a") else { Issue.record("not parked"); return }
        guard case .none = pool.release("b") else { Issue.record("not parked"); return }
        #expect(pool.statistics.idle == 2 && pool.statistics.inUse == 0)
        guard case .use(let connection) = pool.lease(3, now: at(1), deadline: at(100)) else { Issue.record("no use"); return }
        #expect(connection == "b")
    }

    @Test func aReleaseGoesToTheOldestWaiterNotToALaterArrival() {
        var pool = Pool(maximumSize: 1)
        _ = pool.lease(1, now: at(0), deadline: at(1000))
        _ = pool.lease(2, now: at(0), deadline: at(1000))
        _ = pool.lease(3, now: at(1), deadline: at(1000))
        guard case .wake = pool.release("a") else { Issue.record("no wake"); return }
        // A request arriving now queues behind the waiters instead of taking the connection.
        guard case .wait = pool.lease(4, now: at(2), deadline: at(1000)) else { Issue.record("jumped the queue"); return }
        // Request 3 woke too (every waiter is woken) but was not served: it waits on.
        guard case .wait = pool.waitEnded(3, now: at(2)) else { Issue.record("3 was served"); return }
        guard case .use(let connection) = pool.waitEnded(2, now: at(2)) else { Issue.record("2 not served"); return }
        #expect(connection == "a")
        #expect(pool.statistics.inUse == 1 && pool.statistics.waiting == 2)
    }

    @Test func aFailedConnectHandsItsSlotToTheOldestWaiter() {
        var pool = Pool(maximumSize: 1)
        _ = pool.lease(1, now: at(0), deadline: at(1000))
        _ = pool.lease(2, now: at(0), deadline: at(1000))
        guard case .wake = pool.release(nil) else { Issue.record("no wake"); return }
        guard case .connect = pool.waitEnded(2, now: at(1)) else { Issue.record("no slot"); return }
        #expect(pool.statistics.inUse == 1 && pool.statistics.waiting == 0)
    }

    @Test func aWaiterTimesOutAtItsDeadlineAndIsCounted() {
        var pool = Pool(maximumSize: 1)
        _ = pool.lease(1, now: at(0), deadline: at(1000))
        _ = pool.lease(2, now: at(0), deadline: at(300))
        guard case .wait = pool.waitEnded(2, now: at(299)) else { Issue.record("gave up early"); return }
        guard case .timedOut = pool.waitEnded(2, now: at(300)) else { Issue.record("no timeout"); return }
        #expect(pool.statistics == PoolStatistics(size: 1, inUse: 1, idle: 0, waiting: 0, totalLeaseTimeouts: 1))
        // With nobody waiting, the release parks the connection.
        guard case .none = pool.release("a") else { Issue.record("not parked"); return }
        #expect(pool.statistics.idle == 1)
    }

    @Test func aRequestWhoseDeadlineAlreadyPassedTimesOutWithoutQueueing() {
        var pool = Pool(maximumSize: 1)
        _ = pool.lease(1, now: at(0), deadline: at(100))
        guard case .timedOut = pool.lease(2, now: at(100), deadline: at(100)) else { Issue.record("queued"); return }
        #expect(pool.statistics.waiting == 0 && pool.statistics.totalLeaseTimeouts == 1)
    }

    @Test func aConnectionGivenJustBeforeTheDeadlineIsStillTaken() {
        var pool = Pool(maximumSize: 1)
        _ = pool.lease(1, now: at(0), deadline: at(1000))
        _ = pool.lease(2, now: at(0), deadline: at(100))
        _ = pool.release("a")
        // The waiter wakes after its deadline, but it was served first: the connection is not lost.
        guard case .use("a") = pool.waitEnded(2, now: at(500)) else { Issue.record("connection lost"); return }
        #expect(pool.statistics.totalLeaseTimeouts == 0)
    }

    @Test func closingFailsWaitersAndNewLeasesAndHandsBackParkedAndReturnedConnections() {
        var pool = Pool(maximumSize: 2)
        _ = pool.lease(1, now: at(0), deadline: at(1000))
        _ = pool.lease(2, now: at(0), deadline: at(1000))
        _ = pool.release("a")
        _ = pool.lease(3, now: at(0), deadline: at(1000))  // takes "a"
        _ = pool.lease(4, now: at(0), deadline: at(1000))  // waits
        _ = pool.release("b")  // to waiter 4
        _ = pool.lease(5, now: at(0), deadline: at(1000))  // waits
        #expect(pool.close().isEmpty)
        guard case .closed = pool.waitEnded(5, now: at(1)) else { Issue.record("waiter not failed"); return }
        guard case .use("b") = pool.waitEnded(4, now: at(1)) else { Issue.record("served waiter lost its connection"); return }
        guard case .closed = pool.lease(6, now: at(1), deadline: at(1000)) else { Issue.record("lease after close"); return }
        guard case .close("a") = pool.release("a") else { Issue.record("returned connection not closed"); return }
        guard case .none = pool.release(nil) else { Issue.record("slot"); return }
        #expect(pool.statistics.inUse == 0)
    }

    @Test func closeReturnsTheParkedConnections() {
        var pool = Pool(maximumSize: 2)
        _ = pool.lease(1, now: at(0), deadline: at(100))
        _ = pool.release("a")
        #expect(pool.close() == ["a"])
        #expect(pool.statistics.idle == 0)
    }

    @Test func aSizeBelowOneMeansOne() {
        var pool = Pool(maximumSize: 0)
        #expect(pool.maximumSize == 1)
        guard case .connect = pool.lease(1, now: at(0), deadline: at(100)) else { Issue.record("no connect"); return }
    }

    @Test func aReleaseWithoutALeaseIsABugThatTraps() async {
        await #expect(processExitsWith: .failure) {
            var pool = PoolState<String>(maximumSize: 1)
            _ = pool.release("a")
        }
    }

    @Test func waitingWithoutALeaseIsABugThatTraps() async {
        await #expect(processExitsWith: .failure) {
            var pool = PoolState<String>(maximumSize: 1)
            _ = pool.waitEnded(9, now: .now)
        }
    }
}
