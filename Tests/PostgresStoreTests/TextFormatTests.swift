import Foundation
import Testing

@testable import PostgresStore

/// The text-format codecs, without a server.
@Suite struct TextFormatTests {
    private func parseTimestamp(_ text: String) -> Date? {
        Array(text.utf8).withUnsafeBufferPointer { PostgresTextFormat.parseTimestamp($0) }
    }

    private func parseArray(_ text: String) -> [String?]? {
        Array(text.utf8).withUnsafeBufferPointer { PostgresTextFormat.parseArray($0) }
    }

    private func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSinceReferenceDate * 1_000_000).rounded()) + 978_307_200_000_000
    }

    @Test(arguments: [
        ("2026-11-24 10:30:00.123456+00", Int64(1_795_516_200_123_456)),
        ("2026-11-24 10:30:00+00", 1_795_516_200_000_000),
        ("2026-11-24 12:30:00.5+02", 1_795_516_200_500_000),
        ("2026-11-24 05:00:00-05:30", 1_795_516_200_000_000),
        ("1970-01-01 00:00:00+00", 0),
        ("1969-12-31 23:59:59.999999+00", -1),
        ("2026-11-24T10:30:00.123456Z", 1_795_516_200_123_456),
        ("2000-02-29", 951_782_400_000_000),
        ("0001-01-01 00:00:00+00", -62_135_596_800_000_000),
    ])
    func parsesISOTimestamps(text: String, expectedMicros: Int64) throws {
        let date = try #require(parseTimestamp(text))
        #expect(micros(date) == expectedMicros)
    }

    @Test func parsesInfinityAndRejectsGarbage() {
        #expect(parseTimestamp("infinity") == .distantFuture)
        #expect(parseTimestamp("-infinity") == .distantPast)
        for bad in ["", "2026-13-01 00:00:00+00", "2026-11-24 10:30", "2026-11-24 10:30:00+00 junk", "abc"] {
            #expect(parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func formatsRFC3339WithMicrosecondsInUTC() {
        #expect(
            PostgresTextFormat.formatTimestamp(Date(timeIntervalSince1970: 1_795_516_200.123456))
                == "2026-11-24T10:30:00.123456Z")
        #expect(
            PostgresTextFormat.formatTimestamp(Date(timeIntervalSince1970: -0.000001)) == "1969-12-31T23:59:59.999999Z")
        #expect(PostgresTextFormat.formatTimestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
    }

    @Test func formattingThenParsingKeepsTheMicrosecond() throws {
        // Years 1900 to 2100: where a Double of seconds since 2001 resolves a microsecond.
        for _ in 0..<10_000 {
            let micros = Int64.random(in: -2_208_988_800_000_000...4_102_444_800_000_000)
            let date = Date(timeIntervalSinceReferenceDate: Double(micros - 978_307_200_000_000) / 1_000_000)
            let parsed = try #require(parseTimestamp(PostgresTextFormat.formatTimestamp(date)))
            #expect(self.micros(parsed) == micros)
        }
    }

    @Test func calendarConversionsAreInverse() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = PostgresTextFormat.civil(fromDays: days)
            #expect(PostgresTextFormat.days(fromCivilYear: y, month: m, day: d) == days)
        }
    }

    @Test func parsesArrayLiterals() {
        #expect(parseArray("{}") == [])
        #expect(parseArray("{a,b}") == ["a", "b"])
        #expect(
            parseArray(#"{"a,b","q\"uote","back\\slash","NULL",NULL,""}"#) == [
                "a,b", "q\"uote", "back\\slash", "NULL", nil, "",
            ])
        #expect(parseArray("[0:1]={x,y}") == ["x", "y"])
        #expect(parseArray("{{1,2},{3,4}}") == nil)
        #expect(parseArray("{a,b") == nil)
        #expect(parseArray("a,b}") == nil)
    }

    @Test func decodesByteaHexAndEscapeFormats() {
        func decode(_ text: String) -> [UInt8]? {
            Array(text.utf8).withUnsafeBufferPointer { PostgresTextFormat.decodeBytea($0) }
        }
        #expect(decode("\\x") == [])
        #expect(decode("\\x00ff7F") == [0, 255, 127])
        #expect(decode("\\x0") == nil)
        #expect(decode("\\xzz") == nil)
        #expect(decode(#"a\\b\000\377"#) == [97, 92, 98, 0, 255])
    }

    @Test func parsesIntegersWithinRange() {
        func parse(_ text: String) -> Int64? {
            Array(text.utf8).withUnsafeBufferPointer { PostgresTextFormat.parseInteger($0) }
        }
        #expect(parse("0") == 0)
        #expect(parse("-42") == -42)
        #expect(parse("9223372036854775807") == .max)
        #expect(parse("-9223372036854775808") == .min)
        #expect(parse("9223372036854775808") == nil)
        #expect(parse("") == nil)
        #expect(parse("-") == nil)
        #expect(parse("1.5") == nil)
    }

    @Test func encodesArraysQuotingEveryElement() throws {
        let encoded = try #require(try PostgresTextFormat.encode(.textArray(["a", "", "q\"", "b\\", "NULL"])))
        #expect(String(decoding: encoded, as: UTF8.self) == #"{"a","","q\"","b\\","NULL"}"#)
    }

    @Test func refusesNULInText() {
        #expect(throws: StoreError.self) { try PostgresTextFormat.encode(.text("a\u{0}b")) }
    }

    @Test func mergesSessionSettingsIntoTheConnectionString() throws {
        let parameters = try PostgresConnection.connectionParameters(
            connectionString: "postgresql://u@h:5433/db?options=-c%20search_path%3Dx&connect_timeout=9",
            connectTimeout: .milliseconds(2500), statementTimeout: .seconds(30))
        let values = Dictionary(parameters.map { ($0.keyword, $0.value) }, uniquingKeysWith: { $1 })
        #expect(values["host"] == "h")
        #expect(values["port"] == "5433")
        #expect(values["dbname"] == "db")
        #expect(values["connect_timeout"] == "3")
        #expect(values["client_encoding"] == "UTF8")
        #expect(values["options"] == "-c search_path=x -c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=30000")
        let forPgbouncer = try PostgresConnection.connectionParameters(
            connectionString: "postgresql://u@h/db", connectTimeout: .seconds(2), statementTimeout: .seconds(30),
            settingsInStartupPacket: false)
        #expect(!forPgbouncer.contains { $0.keyword == "options" })
        #expect(forPgbouncer.contains { $0 == ("client_encoding", "UTF8") })
        #expect(throws: StoreError.self) {
            try PostgresConnection.connectionParameters(
                connectionString: "postgresql://h/db?nonsense=1", connectTimeout: .seconds(2), statementTimeout: nil)
        }
    }
}
