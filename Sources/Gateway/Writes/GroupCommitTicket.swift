import Foundation
import PostgresStore

/// One write waiting to be committed in a group: its work, and what became of it.
///
/// `@unchecked Sendable` because the fields cross threads without a lock: the thread committing the
/// ticket's group runs `work` and writes `failure` (or, handing on the commit slot, `group`) while
/// the submitting thread is blocked in `signal.wait()`; it signals only afterwards, and the
/// submitting thread reads them only after its wait returns. No other thread touches a ticket.
final class GroupCommitTicket: @unchecked Sendable {
    /// The write's statements, run inside its savepoint of the group's transaction.
    let work: (PostgresConnection) throws -> Void
    /// Set once the group is done: nil when the work committed, else what undid it.
    var failure: (any Error)?
    /// Set when this ticket's thread is to lead (commit) `group`, of which it is the first.
    var group: [GroupCommitTicket]?
    /// Signalled once: the group is done, or this thread is to lead the next one.
    let signal = DispatchSemaphore(value: 0)

    init(work: @escaping (PostgresConnection) throws -> Void) {
        self.work = work
    }
}
