import CLibPQ
import Foundation

/// Results and errors of a connection: rows copied out of a `PGresult`, errors mapped by SQLSTATE,
/// a connection that fails without one marked broken.
extension PostgresConnection {
    /// Turns a result into rows or a thrown error, and frees it.
    func rows(from result: OpaquePointer?) throws(StoreError) -> PostgresRows {
        guard let result else {
            throw connectionError(fallback: "no result")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_SINGLE_TUPLE:
            return Self.copyRows(result)
        case PGRES_EMPTY_QUERY:
            return .empty()
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw error(from: result)
        default:
            // COPY and other states this store never starts: the protocol state is unknown, so the
            // connection is not reused.
            markBroken()
            throw .server(sqlstate: "", message: "unsupported result status \(String(cString: PQresStatus(status)))")
        }
    }

    /// Maps an error result: by SQLSTATE when the server sent one; no SQLSTATE or a dead socket means
    /// the error came from libpq about the connection, which is then unusable.
    func error(from result: OpaquePointer) -> StoreError {
        let sqlstate = Self.field(result, DiagnosticField.sqlstate)
        guard let sqlstate, PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            let message = Self.trimmed(PQresultErrorMessage(result))
            return .unavailable(message.isEmpty ? "connection lost" : message)
        }
        let message = Self.field(result, DiagnosticField.primaryMessage) ?? Self.trimmed(PQresultErrorMessage(result))
        let error = StoreError.classify(
            sqlstate: sqlstate, message: message, constraint: Self.field(result, DiagnosticField.constraintName))
        if case .unavailable = error { markBroken() }
        return error
    }

    /// `.unavailable` with libpq's connection error message. The protocol state is unknown after such a
    /// failure (no result, cannot send), so the connection is marked broken and never reused.
    func connectionError(fallback: String) -> StoreError {
        let message = Self.trimmed(PQerrorMessage(handle))
        markBroken()
        return .unavailable(message.isEmpty ? fallback : message)
    }

    /// `PG_DIAG_*` field codes (character-literal macros, which Swift does not import).
    private enum DiagnosticField {
        static let sqlstate = Int32(UInt8(ascii: "C"))
        static let primaryMessage = Int32(UInt8(ascii: "M"))
        static let constraintName = Int32(UInt8(ascii: "n"))
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func trimmed(_ message: UnsafeMutablePointer<CChar>?) -> String {
        trimmed(UnsafePointer(message))
    }

    /// Copies every value of a result into one Swift buffer.
    private static func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                total += Int(PQgetlength(result, Int32(row), Int32(column)))
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        var starts: [Int] = []
        var lengths: [Int] = []
        starts.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                let (r, c) = (Int32(row), Int32(column))
                starts.append(bytes.count)
                if PQgetisnull(result, r, c) == 1 {
                    lengths.append(-1)
                } else {
                    let length = Int(PQgetlength(result, r, c))
                    lengths.append(length)
                    if length > 0, let value = PQgetvalue(result, r, c) {
                        bytes.append(contentsOf: UnsafeRawBufferPointer(start: value, count: length))
                    }
                }
            }
        }
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
        return PostgresRows(
            affectedRows: affected,
            storage: ResultStorage(columnNames: names, rowCount: rowCount, bytes: bytes, starts: starts, lengths: lengths))
    }
}
