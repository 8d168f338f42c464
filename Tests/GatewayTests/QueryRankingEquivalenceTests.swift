import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// Top-k without scoring every match (issue 15) answers exactly as scoring every match did: on a
/// fixed corpus, every query (terms, thresholds, max_memories, spaces, filters, boost, languages,
/// as_of, hybrid search, below_threshold) gets the same ids, order, scores and counts from
/// `QuerySQL` as from the old statement kept in `ReferenceQuerySQL`.
@Suite struct QueryRankingEquivalenceTests {
    let gateway = TestGateway.shared

    /// A fixed corpus: 240 memories of 1-12 words over eight terms (skewed, so some queries have
    /// more full matches than max_memories and some fewer), repeated words (ranks differ), stop
    /// words, three spaces, two topics, equal texts and equal times (ties).
    func seed(_ orgID: String) throws {
        let words = ["apple", "apple", "apple", "river", "river", "stone", "cloud", "maple", "tiger", "ocean",
                     "piano", "the", "of", "and", "apples", "rivers"]
        var state: UInt64 = 15
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var texts: [String] = []
        for i in 0..<240 {
            if i % 9 == 8, let earlier = texts.last {
                texts.append(earlier)  // an equal text: equal score, order by time then id
                continue
            }
            texts.append((0...next(12)).map { _ in words[next(words.count)] }.joined(separator: " "))
        }
        for (i, text) in texts.enumerated() {
            let space = ["s_a", "s_b", nil][i % 3]
            _ = try gateway.running.services.pool.query(
                """
                INSERT INTO memories (org_id, env, memory_id, text, metadata, space_id, created_at, updated_at)
                VALUES ($1, 'live', $2, $3, $4::jsonb, $5::text,
                        timestamptz '2026-01-01 00:00:00+00' + make_interval(days => $6::int),
                        timestamptz '2026-01-01 00:00:00+00' + make_interval(days => $7::int))
                """,
                [.text(orgID), .text(String(format: "mem_eq%03d", i)), .text(text),
                 .jsonb("{\"topic\": \"\(i % 4 == 0 ? "work" : "home")\", \"n\": \(i)}"),
                 space.map { .text($0) } ?? .null, .int(Int64(i % 7)), .int(Int64(i % 7 + i % 5))])
        }
    }

    /// Both statements' answers (data JSON, shown ids) in one transaction, so `now()` is the same.
    func answers(_ body: String, orgID: String) throws -> (new: [String?], old: [String?]) {
        guard case .object(let object) = try JSONParser.parse(body) else { throw APIError.internalError }
        let request = try QueryRequest(object)
        let configuration = request.language == QueryRequest.defaultLanguage
            ? 0 : try gateway.running.services.pool.query(
                "SELECT oid::bigint FROM pg_ts_config WHERE cfgname = $1", [.text(request.language)]).first?.int(0) ?? 0
        let (sql, parameters) = Query.statement(request, orgID: orgID, env: "live", configuration: configuration)
        let reference = ReferenceQuerySQL(
            usesStoredVectors: sql.usesStoredVectors, hybridSearch: sql.hybridSearch, asOf: sql.asOf, space: sql.space,
            memoryFilter: sql.memoryFilter, versionFilter: sql.versionFilter, includeMetadata: sql.includeMetadata,
            countBelowThreshold: sql.countBelowThreshold, onlyFullMatchesPass: sql.onlyFullMatchesPass)
        return try gateway.running.services.pool.transaction { connection in
            let new = try connection.query(sql.text, parameters, prepared: false)
            let old = try connection.query(reference.text, parameters, prepared: false)
            return ([new.first?.string(0), new.first?.string(1)], [old.first?.string(0), old.first?.string(1)])
        }
    }

    @Test func topKAnswersExactlyAsScoringEveryMatch() throws {
        let orgID = try gateway.createTenant().orgID
        try seed(orgID)
        let contexts = ["apple", "apple river", "apple river stone", "tiger piano", "ocean cloud maple",
                        "the apple of the ocean", "\\\"apple river\\\" -stone", "apple OR piano", "zzzz",
                        "the and of", "apples rivers", "stone tiger piano ocean", "apple river zzzz",
                        // 18 terms: more than the n - 1 band is built for
                        "apple river stone cloud maple tiger ocean piano q1 q2 q3 q4 q5 q6 q7 q8 q9 q10"]
        let variants = ["", ", \"space_id\": \"s_a\"", ", \"filters\": {\"topic\": \"work\"}",
                        ", \"temporal_boost\": 0.4", ", \"language\": \"simple\"",
                        ", \"as_of\": \"2026-01-09T00:00:00Z\"", ", \"hybrid_search\": true",
                        ", \"count_below_threshold\": true", ", \"include_metadata\": false"]
        var compared = 0, onlyFull = 0, withPartial = 0
        for context in contexts {
            for threshold in ["0", "0.3", "0.5", "0.9"] {
                for max in [1, 5, 20] {
                    for variant in variants {
                        let body = "{\"context\": \"\(context)\", \"relevance_threshold\": \(threshold), \"max_memories\": \(max)\(variant)}"
                        let (new, old) = try answers(body, orgID: orgID)
                        #expect(new == old, "\(body)")
                        compared += 1
                        // Which branch the answer needed: all shown full matches, or partial ones too.
                        if threshold == "0", variant.isEmpty, let data = new[0],
                           case .object(let object) = try JSONParser.parse(data),
                           let shown = object["memories"]?.arrayValue, shown.count == max {
                            let scores = shown.compactMap { $0["relevance_score"]?.doubleValue }
                            if scores.allSatisfy({ $0 >= 0.5 }) { onlyFull += 1 } else { withPartial += 1 }
                        }
                    }
                }
            }
        }
        #expect(compared == contexts.count * 4 * 3 * variants.count)
        // The corpus reaches both ways: enough full matches, and too few (partials fill up).
        #expect(onlyFull > 0 && withPartial > 0, "\(onlyFull) \(withPartial)")
    }
}
