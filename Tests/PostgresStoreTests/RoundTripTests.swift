import Foundation
import PostgresStore
import Testing

/// Every supported parameter type, written and read back, in both statement modes.
@Suite struct RoundTripTests {
    static let texts: [String] = [
        "", "plain", "emoji 😀👍🏽🇫🇷", "CJK 漢字かな한국어", "quote ' \" back\\slash \t tab\nnewline",
        String(repeating: "ab漢😀", count: 12_500),  // 50,000 characters
    ]
    static let arrays: [[String]] = [
        [], ["one"], ["a,b", "q\"uote", "back\\slash", "NULL", "null", "", " spaced ", "{braces}", "😀漢字"],
    ]
    static let timestamps: [Date] = [
        Date(timeIntervalSince1970: 1_795_516_200.123456), Date(timeIntervalSince1970: 0),
        Date(timeIntervalSince1970: -1e-6), Date(timeIntervalSince1970: -2_208_988_800.000001),
        Date(timeIntervalSince1970: 4_102_444_799.999999),
    ]
    static let doubles: [Double] = [0, -1.5, .pi, 1e-300, .greatestFiniteMagnitude, .infinity, -.infinity]

    private func micros(_ date: Date?) -> Int64? {
        date.map { Int64(($0.timeIntervalSinceReferenceDate * 1_000_000).rounded()) + 978_307_200_000_000 }
    }

    @Test(arguments: [true, false])
    func roundTripsEveryType(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("roundtrip")
        try pool.withConnection { connection in
            try connection.execute(
                """
                CREATE TEMP TABLE \(table) (
                    id serial PRIMARY KEY, t text, i int8, d float8, b bool, ts timestamptz, j jsonb, by bytea, arr text[])
                """)
            let insert =
                "INSERT INTO \(table) (t, i, d, b, ts, j, by, arr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
            let select = "SELECT t, i, d, b, ts, j, by, arr FROM \(table) WHERE id = $1"
            func roundTrip(_ values: [PostgresValue]) throws -> PostgresRow {
                let id = try #require(try connection.query(insert, values).first?.int(0))
                let rows = try connection.query(select, [.int(id)])
                #expect(rows.count == 1)
                #expect(rows.columnNames == ["t", "i", "d", "b", "ts", "j", "by", "arr"])
                return try #require(rows.first)
            }

            let nulls = try roundTrip(Array(repeating: .null, count: 8))
            for column in 0..<8 { #expect(nulls.isNull(column)) }
            #expect(nulls.string(0) == nil && nulls.int(1) == nil && nulls.double(2) == nil && nulls.bool(3) == nil)
            #expect(nulls.date(4) == nil && nulls.bytes(6) == nil && nulls.stringArray(7) == nil && nulls.raw(0) == nil)

            for (index, text) in Self.texts.enumerated() {
                let row = try roundTrip([
                    .text(text), .int(index % 2 == 0 ? .max : .min), .double(Self.doubles[index % Self.doubles.count]),
                    .bool(index % 2 == 0), .timestamp(Self.timestamps[index % Self.timestamps.count]),
                    .jsonb(#"{"k": "\#(index)", "arr": [1, 2.5, null, true]}"#),
                    .bytea(index % 2 == 0 ? Array(0...255) : []), .textArray(Self.arrays[index % Self.arrays.count]),
                ])
                #expect(row.string(0) == text)
                #expect(row.isNull(0) == false)
                #expect(row.raw(0) == Array(text.utf8))
                #expect(row.int(1) == (index % 2 == 0 ? .max : .min))
                #expect(row.double(2) == Self.doubles[index % Self.doubles.count])
                #expect(row.bool(3) == (index % 2 == 0))
                #expect(micros(row.date(4)) == micros(Self.timestamps[index % Self.timestamps.count]))
                #expect(row.string(5) == #"{"k": "\#(index)", "arr": [1, 2.5, null, true]}"#)
                #expect(row.bytes(6) == (index % 2 == 0 ? Array(0...255) : []))
                #expect(row.stringArray(7) == Self.arrays[index % Self.arrays.count])
            }
            for (index, date) in Self.timestamps.enumerated() {
                let row = try roundTrip([
                    .text("ts\(index)"), .null, .double(.nan), .null, .timestamp(date), .null, .null, .null,
                ])
                #expect(micros(row.date(4)) == micros(date))
                #expect(row.double(2)?.isNaN == true)
            }
            for array in Self.arrays {
                let row = try roundTrip([.null, .null, .null, .null, .null, .null, .null, .textArray(array)])
                #expect(row.stringArray(7) == array)
            }
        }
    }

    @Test func readsServerSideArraysWithNullElementsAndTimestampsWithMicroseconds() throws {
        let pool = TestDatabase.pool()
        defer { pool.close() }
        let rows = try pool.query(
            """
            SELECT ARRAY['x', NULL, 'NULL', '', 'a"b']::text[], timestamptz '2026-11-24 10:30:00.123456+00',
                   '{}'::text[], NULL::text[], 42::int4, 7::int2, 1.25::numeric
            """)
        let row = try #require(rows.first)
        #expect(row.optionalStringArray(0) == ["x", nil, "NULL", "", "a\"b"])
        #expect(row.stringArray(0) == ["x", "NULL", "", "a\"b"])
        #expect(row.string(1) == "2026-11-24 10:30:00.123456+00")
        #expect(micros(row.date(1)) == 1_795_516_200_123_456)
        #expect(row.stringArray(2) == [])
        #expect(row.stringArray(3) == nil)
        #expect(row.int(4) == 42 && row.int(5) == 7 && row.double(6) == 1.25)
        #expect(rows.affectedRows == 1)
    }

    /// Prepared mode sets them in the startup packet, unnamed (pgbouncer) mode with SET after connecting.
    @Test(arguments: [true, false])
    func sessionsAreUTCAndISO(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared)
        defer { pool.close() }
        let row = try #require(
            try pool.query(
                "SELECT current_setting('TimeZone'), current_setting('DateStyle'), current_setting('client_encoding'), current_setting('statement_timeout')"
            ).first)
        #expect(row.string(0) == "UTC")
        #expect(row.string(1)?.hasPrefix("ISO") == true)
        #expect(row.string(2) == "UTF8")
        #expect(row.string(3) == "30s")
    }

    @Test(arguments: [true, false])
    func preparesOncePerConnectionOnlyInPreparedMode(prepared: Bool) throws {
        let pool = TestDatabase.pool(prepared: prepared, poolSize: 1)
        defer { pool.close() }
        try pool.withConnection { connection in
            for value in 0..<5 {
                let rows = try connection.query("SELECT $1::int8 + 1", [.int(Int64(value))])
                #expect(rows.first?.int(0) == Int64(value) + 1)
            }
            // Same SQL with another parameter type is another statement (types are part of it).
            #expect(try connection.query("SELECT $1::int8 + 1", [.text("41")]).first?.int(0) == 42)
            let count = try connection.query("SELECT count(*) FROM pg_prepared_statements").first?.int(0)
            // In prepared mode: the two variants, plus this query itself.
            #expect(count == (prepared ? 3 : 0))
        }
    }

    @Test func reportsAffectedRows() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("affected")
        try pool.withConnection { connection in
            try connection.execute("CREATE TEMP TABLE \(table) (n int8)")
            #expect(try connection.query("INSERT INTO \(table) SELECT generate_series(1, 5)").affectedRows == 5)
            #expect(try connection.query("UPDATE \(table) SET n = n + 1 WHERE n > $1", [.int(2)]).affectedRows == 3)
            let rows = try connection.query("SELECT n FROM \(table) ORDER BY n")
            #expect(rows.map { $0.int(0) } == [1, 2, 4, 5, 6])
            #expect(rows.affectedRows == 5)
            #expect(try connection.query("DELETE FROM \(table) WHERE false").affectedRows == 0)
            #expect(try connection.query("").isEmpty)
        }
    }
}

/// Prepared statements that the server dropped or invalidated are prepared again.
@Suite struct PreparedStatementRecoveryTests {
    @Test func recoversFromDiscardAllAndFromAResultTypeChange() throws {
        let pool = TestDatabase.pool(poolSize: 1)
        defer { pool.close() }
        let table = TestDatabase.uniqueName("replan")
        try pool.withConnection { connection in
            try connection.execute("CREATE TEMP TABLE \(table) (a int8)")
            try connection.query("INSERT INTO \(table) VALUES ($1)", [.int(1)])
            let select = "SELECT * FROM \(table) WHERE a = $1"
            #expect(try connection.query(select, [.int(1)]).columnNames == ["a"])

            try connection.execute("ALTER TABLE \(table) ADD COLUMN b text")
            #expect(try connection.query(select, [.int(1)]).columnNames == ["a", "b"])

            try connection.execute("DEALLOCATE ALL")
            #expect(try connection.query(select, [.int(1)]).count == 1)
            #expect(try connection.query("INSERT INTO \(table) VALUES ($1)", [.int(2)]).affectedRows == 1)
        }
    }
}

/// Decoders read their select list by name, whatever order the columns come in.
@Suite struct ColumnNameTests {
    @Test func valuesAreReadByColumnNameInAnyOrder() throws {
        let pool = TestDatabase.pool()
        defer { pool.close() }
        for select in [
            "SELECT 'x'::text AS name, 42::int8 AS n, true AS flag, NULL::text AS missing",
            "SELECT NULL::text AS missing, true AS flag, 42::int8 AS n, 'x'::text AS name",
        ] {
            let row = try #require(try pool.query(select).first)
            #expect(row.string("name") == "x")
            #expect(row.int("n") == 42)
            #expect(row.bool("flag") == true)
            #expect(row.isNull("missing") && row.string("missing") == nil)
            #expect(row.hasColumn("flag") && !row.hasColumn("absent"))
        }
    }
}
