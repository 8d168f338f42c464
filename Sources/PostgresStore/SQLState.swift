/// The SQLSTATE codes the store reacts to, in one place (PostgreSQL manual, appendix A).
enum SQLState {
    /// Class 08: connection exception.
    static let connectionExceptionClass = "08"
    /// Class 22: data exception (invalid text representation, bad JSON, division by zero...).
    static let dataExceptionClass = "22"
    static let characterNotInRepertoire = "22021"
    static let notNullViolation = "23502"
    static let foreignKeyViolation = "23503"
    static let uniqueViolation = "23505"
    static let checkViolation = "23514"
    static let inFailedSQLTransaction = "25P02"
    static let invalidStatementName = "26000"
    static let featureNotSupported = "0A000"
    static let serializationFailure = "40001"
    static let deadlockDetected = "40P01"
    static let undefinedTable = "42P01"
    static let undefinedObject = "42704"
    static let tooManyConnections = "53300"
    static let adminShutdown = "57P01"
    static let crashShutdown = "57P02"
    static let cannotConnectNow = "57P03"
}
