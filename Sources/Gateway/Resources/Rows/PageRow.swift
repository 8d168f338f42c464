import PostgresStore

/// The columns ``MemoryPage/sizeCut(_:order:cutParameter:)`` appends to every row of a page.
struct PageRow: Sendable, Equatable {
    /// How many rows the statement inside the cut had (`gw_fetched`): more than came back means
    /// the byte cut was hit.
    var fetched: Int

    /// Decodes the appended columns of a row of a size-cut page.
    init(_ row: PostgresRow) {
        fetched = Int(clamping: row.int("gw_fetched") ?? 0)
    }

    /// `gw_fetched` of the first row of `rows`, 0 for an empty page.
    static func fetched(_ rows: some Collection<PostgresRow>) -> Int {
        rows.first.map { PageRow($0).fetched } ?? 0
    }
}
