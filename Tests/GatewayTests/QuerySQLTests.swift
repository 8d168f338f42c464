import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// The query statement's shape: the candidates' OR-query is folded to a constant tsquery at
/// planning (so `tsv @@ …` is an index condition PostgreSQL can estimate), built by PostgreSQL
/// from the context's lexemes, never from the request text.
@Suite struct QuerySQLTests {
    let gateway = TestGateway.shared

    func plan(_ sql: QuerySQL, orgID: String, context: String) throws -> String {
        try gateway.running.services.pool.query(
            "EXPLAIN " + sql.text,
            [.text(orgID), .text("live"), .text(context), .int(0), .text(""), .text(""),
             .text(""), .double(0), .double(0.5), .int(20)]).compactMap { $0.string(0) }.joined(separator: "\n")
    }

    @Test func englishCandidatesFilterOnAConstantTSQuery() throws {
        let sql = QuerySQL(usesStoredVectors: true, hybridSearch: false, asOf: false, space: false,
                           includeMetadata: true, countBelowThreshold: false)
        let text = try plan(sql, orgID: "org_plan", context: "zebra's stripes; DROP TABLE memories")
        #expect(text.contains("tsv @@ '''zebra'' | ''stripe'' | ''drop'' | ''tabl'' | ''memori'''::tsquery")
                || text.contains("::tsquery"), "\(text)")
        #expect(text.contains("memories m"))
    }

    @Test func hybridSearchScoresEveryScopedMemory() throws {
        let sql = QuerySQL(usesStoredVectors: true, hybridSearch: true, asOf: true, space: true,
                           memoryFilter: "m.metadata ? $11::text", versionFilter: "v.metadata ? $11::text",
                           includeMetadata: false, countBelowThreshold: true)
        #expect(sql.text.contains("similarity(qw.word, mw) >= 0.25"))
        #expect(sql.text.contains("memory_versions v"))
        #expect(sql.text.contains("AND m.metadata ? $11::text") && sql.text.contains("AND v.metadata ? $11::text"))
        #expect(!sql.text.contains("'metadata', r.metadata"))
        #expect(sql.text.contains("'below_threshold'"))
    }
}
