/// The SQLSTATE codes the store reacts to, in one place (PostgreSQL manual, appendix A).
public enum SQLState {
    /// Class 08: connection exception.
    public static let connectionExceptionClass = "08"
    /// Class 22: data exception (invalid text representation, bad JSON, division by zero...).
    public static let dataExceptionClass = "22"
    public static let characterNotInRepertoire = "22021"
    public static let notNullViolation = "23502"
    public static let foreignKeyViolation = "23503"
    public static let uniqueViolation = "23505"
    public static let checkViolation = "23514"
    public static let inFailedSQLTransaction = "25P02"
    public static let invalidStatementName = "26000"
    public static let featureNotSupported = "0A000"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let undefinedTable = "42P01"
    public static let undefinedObject = "42704"
    public static let tooManyConnections = "53300"
    /// `57014` query_canceled: `statement_timeout` fired, or a cancel request.
    public static let queryCanceled = "57014"
    public static let adminShutdown = "57P01"
    public static let crashShutdown = "57P02"
    public static let cannotConnectNow = "57P03"
}
