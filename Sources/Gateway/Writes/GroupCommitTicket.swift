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
    /// A create that can be a row of the group's multi-row insert (then `work` runs only if that
    /// insert does not take).
    let insert: GroupedInsert?
    /// The row the group's multi-row insert returned for ``insert``.
    var row: PostgresRow?
    /// Set when the group's multi-row insert failed as a whole: the write runs again alone.
    var retriesAlone = false
    /// Set when this ticket's thread is to lead (commit) `group`, of which it is the first.
    var group: [GroupCommitTicket]?
    /// Signalled once: the group is done, or this thread is to lead the next one.
    let signal = DispatchSemaphore(value: 0)

    init(insert: GroupedInsert? = nil, work: @escaping (PostgresConnection) throws -> Void) {
        self.insert = insert
        self.work = work
    }
}
