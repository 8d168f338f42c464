/// The isolation level of a transaction started by ``PostgresPool/transaction(isolation:_:)``.
public enum IsolationLevel: Sendable {
    case readCommitted
    case repeatableRead
    case serializable

    /// The `BEGIN` statement that opens a transaction at this level.
    var beginStatement: String {
        switch self {
        case .readCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}
