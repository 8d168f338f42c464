import PostgresStore

/// The one row of the search statement (`QuerySQL.text`): the response `data` as `json` text and
/// the ids of the memories it shows.
///
/// The statement's two columns are unnamed expressions, so PostgreSQL names them after their
/// outermost function: `json_build_object` and `coalesce`.
struct QueryResultRow: Sendable, Equatable {
    /// The response `data`, PostgreSQL `json` text (with spaces), `nil` if NULL.
    var body: [UInt8]?
    /// The ids of the memories shown, in rank order.
    var memoryIDs: [String]

    /// Decodes the search statement's row.
    init(_ row: PostgresRow) {
        body = row.raw("json_build_object")
        memoryIDs = row.stringArray("coalesce") ?? []
    }
}
