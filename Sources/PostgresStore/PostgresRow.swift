import Foundation

/// One result row. Accessors return `nil` for SQL NULL, and also when the text does not parse as the
/// asked type (asking `int` of a text column holding `abc`). Columns are zero-based; an index out of
/// range is a programming error and traps.
public struct PostgresRow: Sendable {
    let storage: ResultStorage
    let row: Int

    /// Calls `body` with the value's bytes, or returns `nil` for NULL.
    private func withValue<T>(_ column: Int, _ body: (UnsafeBufferPointer<UInt8>) -> T?) -> T? {
        precondition(column >= 0 && column < storage.columnCount, "column \(column) out of range")
        let slot = row * storage.columnCount + column
        let length = storage.lengths[slot]
        guard length >= 0 else { return nil }
        let start = storage.starts[slot]
        return storage.bytes.withUnsafeBufferPointer { buffer in
            body(UnsafeBufferPointer(rebasing: buffer[start..<start + length]))
        }
    }

    /// Whether the value is SQL NULL.
    public func isNull(_ column: Int) -> Bool {
        precondition(column >= 0 && column < storage.columnCount, "column \(column) out of range")
        return storage.lengths[row * storage.columnCount + column] < 0
    }

    /// The value as text (any type: its PostgreSQL text representation).
    public func string(_ column: Int) -> String? {
        withValue(column) { String(decoding: $0, as: UTF8.self) }
    }

    /// An integer column (`int2`, `int4`, `int8`).
    public func int(_ column: Int) -> Int64? {
        withValue(column) { PostgresTextFormat.parseInteger($0) }
    }

    /// A floating-point or numeric column; `NaN`, `Infinity` and `-Infinity` included.
    public func double(_ column: Int) -> Double? {
        withValue(column) { bytes in
            switch String(decoding: bytes, as: UTF8.self) {
            case "NaN": return Double.nan
            case "Infinity": return Double.infinity
            case "-Infinity": return -Double.infinity
            case let text: return Double(text)
            }
        }
    }

    /// A `bool` column (`t` / `f`).
    public func bool(_ column: Int) -> Bool? {
        withValue(column) { bytes in
            guard bytes.count == 1 else { return nil }
            switch bytes[0] {
            case UInt8(ascii: "t"): return true
            case UInt8(ascii: "f"): return false
            default: return nil
            }
        }
    }

    /// A `timestamptz` (or `timestamp`, read as UTC, or `date`) column, microseconds preserved.
    /// Sessions use `DateStyle=ISO` and `TimeZone=UTC`; other offsets are honoured too.
    public func date(_ column: Int) -> Date? {
        withValue(column) { PostgresTextFormat.parseTimestamp($0) }
    }

    /// A `bytea` column, decoded from the hex (or escape) text format.
    public func bytes(_ column: Int) -> [UInt8]? {
        withValue(column) { PostgresTextFormat.decodeBytea($0) }
    }

    /// A one-dimensional `text[]` (or other array) column. NULL elements are left out; use
    /// ``optionalStringArray(_:)`` to keep them.
    public func stringArray(_ column: Int) -> [String]? {
        optionalStringArray(column)?.compactMap { $0 }
    }

    /// A one-dimensional array column with NULL elements as `nil`.
    public func optionalStringArray(_ column: Int) -> [String?]? {
        withValue(column) { PostgresTextFormat.parseArray($0) }
    }

    /// The value's raw text bytes.
    public func raw(_ column: Int) -> [UInt8]? {
        withValue(column) { Array($0) }
    }
}

/// Reading by column name: row decoders (`MemoryRow`, `AdmissionRow`, ...) read their select list
/// by the names it declares, so a reordered or extended select list cannot shift a value into the
/// wrong field. A name the result lacks reads as `nil` (and fails an assertion in debug builds,
/// where the tests run): a decoder bug must not take the process down in production.
extension PostgresRow {
    /// The index of the column `name`, `nil` (asserting in debug builds) if the result has none.
    public func column(_ name: String) -> Int? {
        let index = storage.column(named: name)
        assert(index != nil, "no column \(name) in \(storage.columnNames)")
        return index
    }

    /// Whether the result has a column `name` (for decoders of optional columns; no assertion).
    public func hasColumn(_ name: String) -> Bool { storage.column(named: name) != nil }

    public func isNull(_ name: String) -> Bool { column(name).map { isNull($0) } ?? true }
    public func string(_ name: String) -> String? { column(name).flatMap { string($0) } }
    public func int(_ name: String) -> Int64? { column(name).flatMap { int($0) } }
    public func double(_ name: String) -> Double? { column(name).flatMap { double($0) } }
    public func bool(_ name: String) -> Bool? { column(name).flatMap { bool($0) } }
    public func date(_ name: String) -> Date? { column(name).flatMap { date($0) } }
    public func bytes(_ name: String) -> [UInt8]? { column(name).flatMap { bytes($0) } }
    public func stringArray(_ name: String) -> [String]? { column(name).flatMap { stringArray($0) } }
    public func optionalStringArray(_ name: String) -> [String?]? { column(name).flatMap { optionalStringArray($0) } }
    public func raw(_ name: String) -> [UInt8]? { column(name).flatMap { raw($0) } }
}
