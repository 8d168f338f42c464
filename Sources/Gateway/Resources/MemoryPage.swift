import PostgresStore

/// Pages bounded in bytes as well as in rows, so no page (list, history, export) holds more than a
/// few MiB in the gateway however long the stored texts are.
///
/// The cut happens twice: PostgreSQL returns only the rows whose preceding rows' stored sizes sum
/// below a cut (``sizeCut(_:order:cutParameter:)``), so the gateway never receives much more than
/// it will show; then the JSON writer stops exactly at the byte budget (escaping can make JSON
/// longer than what is stored).
enum MemoryPage {
    /// The most JSON one list or history response holds (the contract's 4 MiB), envelope included.
    static let maxResponseBytes = 4 << 20
    /// Room kept for what surrounds the items (paging fields, `meta`).
    static let envelopeAllowance = 1024
    /// Stored bytes one export page reads at most (plus one row).
    static let exportPageBytes = 1 << 20

    /// ``MemoryRow/selectList`` over `m`, then `sort_created` (the raw `created_at`) and `gw_size`
    /// (stored bytes of text and metadata, times `sizeFactor`, an SQL expression).
    static func memoryColumns(sizeFactor: String = "1") -> String {
        MemoryRow.selectList + ", m.created_at AS sort_created, "
            + "(octet_length(m.text) + octet_length(m.metadata::text))::bigint * (\(sizeFactor)) AS gw_size"
    }

    /// Wraps `inner` (a statement with a `gw_size` column and a LIMIT) so that only its rows whose
    /// preceding rows' sizes sum below parameter `$cutParameter` come back, ordered by `order`
    /// (unqualified column names of `inner`). Two columns are appended: `gw_before` (that sum)
    /// and `gw_fetched` (how many rows `inner` had: more than came back means the cut was hit),
    /// read by ``PageRow``.
    static func sizeCut(_ inner: String, order: String, cutParameter: Int) -> String {
        """
        SELECT p.* FROM (
            SELECT l.*, sum(l.gw_size) OVER (ORDER BY \(order) ROWS UNBOUNDED PRECEDING) - l.gw_size AS gw_before,
                   count(*) OVER () AS gw_fetched
              FROM (\(inner)) l
        ) p
        WHERE p.gw_before < $\(cutParameter)
        ORDER BY \(order)
        """
    }

    /// Appends `items` to `buffer` as JSON array elements (comma-separated, no brackets), each
    /// written by `write`, while the buffer stays within `limit` bytes; the first item is always
    /// written. Returns how many were.
    static func appendItems<Items: Sequence>(
        _ items: Items, to buffer: inout [UInt8], limit: Int, _ write: (Items.Element, inout [UInt8]) -> Void
    ) -> Int {
        var written = 0
        for item in items {
            let mark = buffer.count
            if written > 0 { buffer.append(UInt8(ascii: ",")) }
            write(item, &buffer)
            if written > 0, buffer.count > limit {
                buffer.removeSubrange(mark...)
                break
            }
            written += 1
        }
        return written
    }
}
