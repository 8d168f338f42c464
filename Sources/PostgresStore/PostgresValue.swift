import Foundation

/// A statement parameter. Sent in text format with an explicit type, so PostgreSQL never guesses.
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case timestamp(Date)
    /// A JSON document, already serialized.
    case jsonb(String)
    case bytea([UInt8])
    case textArray([String])
}
