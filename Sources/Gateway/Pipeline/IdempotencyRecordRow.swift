import PostgresStore

extension IdempotencyRecord {
    /// The select list of a key's record over `idempotency_keys`; `$4` is the request's fingerprint.
    static let selectList = """
        fingerprint = $4 AS fingerprint_matches, status, headers AS location, body,
        extract(epoch FROM clock_timestamp() - started_at)::float8 AS age_seconds
        """

    /// Decodes a row holding ``selectList``.
    init(_ row: PostgresRow) {
        self.init(fingerprintMatches: row.bool("fingerprint_matches") == true,
                  status: row.int("status").flatMap { Int(exactly: $0) }, location: row.string("location"),
                  body: row.bytes("body") ?? [],
                  age: .milliseconds(Idempotency.milliseconds(fromSeconds: row.double("age_seconds") ?? 0)))
    }
}
