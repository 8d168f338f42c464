/// The rows of one statement's result, copied out of the `PGresult` (text format), so they outlive it
/// and cross threads freely.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public typealias Element = PostgresRow
    public typealias Index = Int

    /// The result's column names, in order.
    public var columnNames: [String] { storage.columnNames }
    /// Rows inserted, updated, deleted, selected... as reported by the command tag (`PQcmdTuples`); 0 when none.
    public var affectedRows: Int

    let storage: ResultStorage

    init(affectedRows: Int, storage: ResultStorage) {
        self.affectedRows = affectedRows
        self.storage = storage
    }

    /// A result with no rows and no columns (an empty query, a command).
    static func empty(affectedRows: Int = 0) -> PostgresRows {
        PostgresRows(
            affectedRows: affectedRows,
            storage: ResultStorage(columnNames: [], rowCount: 0, bytes: [], starts: [], lengths: []))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < storage.rowCount, "row index \(position) out of range")
        return PostgresRow(storage: storage, row: position)
    }

    /// The index of the first column with this name, `nil` if there is none.
    public func columnIndex(named name: String) -> Int? {
        storage.column(named: name)
    }
}

/// All values of a result in one buffer: value (row r, column c) is `lengths[r * columnCount + c]`
/// bytes at `starts[...]`, a length of -1 meaning SQL NULL. Immutable after init.
final class ResultStorage: Sendable {
    let columnNames: [String]
    let rowCount: Int
    let columnCount: Int
    let bytes: [UInt8]
    let starts: [Int]
    let lengths: [Int]

    init(columnNames: [String], rowCount: Int, bytes: [UInt8], starts: [Int], lengths: [Int]) {
        self.columnNames = columnNames
        self.rowCount = rowCount
        self.columnCount = columnNames.count
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
    }

    /// The first column named `name`. Select lists are a dozen columns, so a linear scan of the
    /// names costs less than building a dictionary per result.
    func column(named name: String) -> Int? {
        columnNames.firstIndex(of: name)
    }
}
