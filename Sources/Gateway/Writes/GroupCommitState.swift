/// The decisions of group commit, as data: which writes commit together, and when. No I/O, no
/// clock, no locks; `GroupCommitter` performs the actions under its lock.
///
/// The window is "while a commit is in flight": a write arriving when fewer than `maxInFlight`
/// groups are committing starts a group of its own at once (an idle gateway adds no latency);
/// otherwise it queues, and when a group finishes, the queue (up to `maxBatch`) becomes the next
/// group. Under load the groups grow by themselves to what arrived during one commit.
///
/// Invariants: `0 ≤ inFlight ≤ maxInFlight`; the queue is empty unless `inFlight == maxInFlight`;
/// every submitted ticket is handed out in exactly one group, in arrival order.
struct GroupCommitState<Ticket> {
    /// How many writes share a commit and how many commits run at once.
    struct Limits: Sendable {
        /// Most writes in one transaction. Bounded so one group holds its locks briefly and stays
        /// under PostgreSQL's 64 cached subtransactions per backend (each write is a savepoint).
        var maxBatch: Int
        /// Groups committing at once, each on its own connection: with 2, one group's statements
        /// run while the other's WAL flush is in progress.
        var maxInFlight: Int

        init(maxBatch: Int = 32, maxInFlight: Int = 2) {
            precondition(maxBatch >= 1 && maxInFlight >= 1, "group commit needs room for one write")
            self.maxBatch = maxBatch
            self.maxInFlight = maxInFlight
        }
    }

    /// What the owner does after a write is submitted.
    enum SubmitAction {
        /// Commit this group now, on the submitting thread.
        case commit([Ticket])
        /// Wait: a later ``GroupCommitState/groupFinished()`` hands the ticket out in a group.
        case wait
    }

    /// What the owner does after a group's commit is done.
    enum FinishAction {
        /// Commit this group next, led by its first ticket's thread.
        case commit([Ticket])
        /// Nothing is waiting.
        case none
    }

    private enum State {
        case idle
        case committing(inFlight: Int, queued: [Ticket])
    }

    let limits: Limits
    private var state = State.idle
    /// Groups handed out since the start (one transaction each).
    private(set) var groupsStarted = 0
    /// Writes handed out in those groups.
    private(set) var writesStarted = 0

    init(limits: Limits) {
        self.limits = limits
    }

    /// Groups committing now.
    var inFlight: Int {
        switch state {
        case .idle: 0
        case .committing(let inFlight, _): inFlight
        }
    }

    /// Writes waiting for a group.
    var queuedCount: Int {
        switch state {
        case .idle: 0
        case .committing(_, let queued): queued.count
        }
    }

    /// A write arrived.
    mutating func submitted(_ ticket: Ticket) -> SubmitAction {
        switch state {
        case .idle:
            state = .committing(inFlight: 1, queued: [])
            return start([ticket])
        case .committing(let inFlight, var queued):
            if inFlight < limits.maxInFlight {
                precondition(queued.isEmpty, "writes queued while a commit slot was free")
                state = .committing(inFlight: inFlight + 1, queued: [])
                return start([ticket])
            }
            queued.append(ticket)
            state = .committing(inFlight: inFlight, queued: queued)
            return .wait
        }
    }

    /// A group's commit is done (committed or failed): its slot goes to the queue, if any.
    mutating func groupFinished() -> FinishAction {
        switch state {
        case .idle:
            preconditionFailure("a group finished while none was committing")
        case .committing(let inFlight, let queued):
            if queued.isEmpty {
                state = inFlight == 1 ? .idle : .committing(inFlight: inFlight - 1, queued: [])
                return .none
            }
            let group = Array(queued.prefix(limits.maxBatch))
            state = .committing(inFlight: inFlight, queued: Array(queued.dropFirst(group.count)))
            groupsStarted += 1
            writesStarted += group.count
            return .commit(group)
        }
    }

    private mutating func start(_ group: [Ticket]) -> SubmitAction {
        groupsStarted += 1
        writesStarted += group.count
        return .commit(group)
    }
}
