/// What went wrong talking to PostgreSQL, classified by SQLSTATE (never by message text).
///
/// The gateway maps these once at its edge (`APIError.init(_:requestID:)`, exhaustively):
/// `.unavailable` and `.serializationFailure` to 503, `.invalidInput` to 400, `.uniqueViolation` and
/// `.foreignKeyViolation` to 409, `.checkViolation` (input the handlers should have refused) to 500,
/// `.server` to 500 except `57014` query_canceled (503). Messages are for logs only.
public enum StoreError: Error, Sendable, Equatable {
    /// Cannot connect, the connection was lost, the server is shutting down, or a pool lease timed out.
    case unavailable(String)
    /// `23505` unique_violation.
    case uniqueViolation(constraint: String?)
    /// `23503` foreign_key_violation.
    case foreignKeyViolation(constraint: String?)
    /// `23514` check_violation, and `23502` not_null_violation (whose constraint is usually `nil`).
    case checkViolation(constraint: String?)
    /// `40001` serialization_failure or `40P01` deadlock_detected: the transaction may be retried.
    case serializationFailure
    /// Class `22` (data exception: bad JSON, bad tsquery, invalid text representation, ...) and `42704`
    /// undefined_object (e.g. an unknown text search configuration): the caller sent something invalid.
    case invalidInput(sqlstate: String, message: String)
    /// Any other server error.
    case server(sqlstate: String, message: String)
}

extension StoreError {
    /// Classifies a server error.
    /// - Parameters:
    ///   - sqlstate: the five-character `PG_DIAG_SQLSTATE`.
    ///   - message: the primary message, kept for logs.
    ///   - constraint: `PG_DIAG_CONSTRAINT_NAME`, when the server sent one.
    static func classify(sqlstate: String, message: String, constraint: String?) -> StoreError {
        switch sqlstate {
        case SQLState.uniqueViolation:
            return .uniqueViolation(constraint: constraint)
        case SQLState.foreignKeyViolation:
            return .foreignKeyViolation(constraint: constraint)
        case SQLState.checkViolation, SQLState.notNullViolation:
            return .checkViolation(constraint: constraint)
        case SQLState.serializationFailure, SQLState.deadlockDetected:
            return .serializationFailure
        case SQLState.undefinedObject:
            return .invalidInput(sqlstate: sqlstate, message: message)
        case SQLState.adminShutdown, SQLState.crashShutdown, SQLState.cannotConnectNow,
            SQLState.tooManyConnections:
            return .unavailable("\(sqlstate): \(message)")
        default:
            if sqlstate.hasPrefix(SQLState.dataExceptionClass) {
                return .invalidInput(sqlstate: sqlstate, message: message)
            }
            if sqlstate.hasPrefix(SQLState.connectionExceptionClass) {
                return .unavailable("\(sqlstate): \(message)")
            }
            return .server(sqlstate: sqlstate, message: message)
        }
    }
}
