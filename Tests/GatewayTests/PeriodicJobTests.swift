@testable import Gateway
import Foundation
import Synchronization
import Testing

/// The loop the sweepers and the storage fold share.
@Suite struct PeriodicJobTests {
    private struct Failure: Error {}

    @Test func workRunsEveryIntervalAFailingRunIsRetriedAndStopEndsTheThread() throws {
        let runs = Atomic<Int>(0)
        let job = PeriodicJob(name: "test-job", interval: .milliseconds(10), failure: "test job failed")
        job.start {
            // Every other run fails: the next one still comes.
            if runs.add(1, ordering: .relaxed).newValue % 2 == 1 { throw Failure() }
        }
        #expect(eventually(timeout: .seconds(10)) { runs.load(ordering: .relaxed) >= 5 })
        #expect(!job.isStopped)
        job.stop()
        #expect(job.isStopped)
        let after = runs.load(ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(runs.load(ordering: .relaxed) == after)
    }

    @Test func stoppingAJobNeverStartedReturnsAtOnce() {
        let job = PeriodicJob(name: "test-job", interval: .seconds(60), failure: "unused")
        job.stop(deadline: .seconds(30))
        #expect(job.isStopped)
    }
}
