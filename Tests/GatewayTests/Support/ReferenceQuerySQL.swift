@testable import Gateway

/// The query statement as it was before top-k (issue 15), kept verbatim as the reference that
/// `QueryRankingEquivalenceTests` compares the gateway's statement with: it scores every match.
struct ReferenceQuerySQL: Sendable {
    /// The configuration is `english`, whose vectors are stored (`memories.tsv`, GIN-indexed).
    var usesStoredVectors: Bool
    var hybridSearch: Bool
    var asOf: Bool
    var space: Bool
    /// The metadata filter's condition on `m` (memories) and on `v` (versions, for `as_of`),
    /// compiled by `MetadataFilter.sql` with placeholders from `$11`; nil for none.
    var memoryFilter: String?
    var versionFilter: String?
    var includeMetadata: Bool
    var countBelowThreshold: Bool
    /// `relevance_threshold` ≥ 0.5: only memories holding every term can pass (a partial match
    /// scores below 0.5), so without hybrid search the candidates are the AND of the terms.
    var onlyFullMatchesPass = false

    var text: String {
        let configuration = usesStoredVectors ? "'english'::regconfig" : "$4::bigint::oid::regconfig"
        // An immutable expression of parameters: folded to a constant tsquery at planning.
        let anyQuery = "gw_any_query(\(configuration), $3::text)"
        // Without hybrid search a term is held only exactly, so when only full matches can pass
        // (and below-threshold matches need not be counted) the GIN index can find just those.
        let candidateQuery = onlyFullMatchesPass && !countBelowThreshold
            ? "gw_all_query(\(configuration), $3::text)" : anyQuery
        let memoryVector = usesStoredVectors ? "m.tsv" : "to_tsvector(\(configuration), m.text)"
        let versionVector = "to_tsvector(\(configuration), v.text)"

        func conditions(_ alias: String, vector: String, filter: String?) -> String {
            var parts: [String] = []
            if space { parts.append("AND \(alias).space_id = $5::text") }
            if let filter { parts.append("AND \(filter)") }
            // Without hybrid search only memories holding a term can match: let the GIN index find
            // them. With it, any memory may hold a term by trigram similarity, so all are scored.
            if !hybridSearch { parts.append("AND \(vector) @@ \(candidateQuery)") }
            return parts.joined(separator: "\n       ")
        }

        var candidates = """
            SELECT m.memory_id, m.text, m.metadata, m.space_id, m.created_at, m.updated_at AS valid_from,
                   \(memoryVector) AS doc
              FROM memories m
             WHERE m.org_id = $1 AND m.env = $2
                   AND \(MemoryObject.isLive())
                   \(asOf ? "AND m.updated_at <= $7::timestamptz" : "")
                   \(conditions("m", vector: memoryVector, filter: memoryFilter))
            """
        if asOf {
            candidates += """

                UNION ALL
                SELECT v.memory_id, v.text, v.metadata, v.space_id, v.created_at, v.valid_from,
                       \(versionVector)
                  FROM memory_versions v
                 WHERE v.org_id = $1 AND v.env = $2
                   AND v.valid_from <= $7::timestamptz AND v.superseded_at > $7::timestamptz
                   AND NOT EXISTS (SELECT 1 FROM memories e WHERE e.org_id = $1 AND e.env = $2
                                     AND e.memory_id = v.memory_id AND NOT \(MemoryObject.isLive("e")))
                       \(conditions("v", vector: versionVector, filter: versionFilter))
                """
        }

        let fuzzy = hybridSearch
            ? """
              EXISTS (SELECT 1 FROM qwords qw, unnest(a.words) AS mw
                                   WHERE qw.lexeme = t AND similarity(qw.word, mw) >= 0.25)
              """
            : "false"
        let words = hybridSearch
            ? "ARRAY(SELECT DISTINCT w FROM unnest(regexp_split_to_array(lower(c.text), '[^[:alnum:]]+')) AS w WHERE w <> '')"
            : "'{}'::text[]"
        let reference = asOf ? "$7::timestamptz" : "now()"
        let metadata = includeMetadata ? "'metadata', r.metadata, " : ""
        let below = countBelowThreshold
            ? ",\n           'below_threshold', (SELECT count(*) FROM final f WHERE f.score < $9::float8)"
                + " + (SELECT count(*) FROM matched h WHERE NOT h.viable)"
            : ""

        return """
            WITH terms AS MATERIALIZED (
                SELECT coalesce(array_agg(DISTINCT l), '{}'::text[]) AS lexemes
                  FROM unnest(tsvector_to_array(to_tsvector(\(configuration), $3::text))) AS l
            ),
            q AS MATERIALIZED (
                SELECT t.lexemes, cardinality(t.lexemes) AS n,
                       \(anyQuery) AS any_q,
                       CASE WHEN cardinality(t.lexemes) > 0
                            THEN websearch_to_tsquery(\(configuration), $3::text) END AS web_q
                  FROM terms t
            ),
            qwords AS MATERIALIZED (
                SELECT l AS lexeme, lower(d.token) AS word
                  FROM terms, ts_debug(\(configuration), $3::text) AS d, unnest(d.lexemes) AS l
                 WHERE \(hybridSearch ? "true" : "false") AND l = ANY (terms.lexemes)
                UNION
                SELECT l, l FROM terms, unnest(terms.lexemes) AS l WHERE \(hybridSearch ? "true" : "false")
            ),
            cand AS (
            \(candidates)
            ),
            matched AS (
                SELECT c.*, x.held, x.exact, q.n,
                       -- A partial match scores below 0.5 * held / n, so one under the threshold
                       -- by that bound is counted (below_threshold) but never ranked.
                       (x.held = q.n OR 0.5 * x.held::float8 / q.n >= $9::float8) AS viable
                  FROM cand c CROSS JOIN q
                 CROSS JOIN LATERAL (
                       SELECT tsvector_to_array(c.doc) AS lex, \(words) AS words
                       OFFSET 0) a
                 CROSS JOIN LATERAL (
                       SELECT count(*) FILTER (WHERE y.e) AS exact, count(*) FILTER (WHERE y.e OR y.f) AS held
                         FROM (SELECT t = ANY (a.lex) AS e,
                                      -- trigram matching only for terms not held exactly (CASE short-circuits)
                                      CASE WHEN t = ANY (a.lex) THEN false ELSE \(fuzzy) END AS f
                                 FROM unnest(q.lexemes) AS t) y) x
                 WHERE q.n > 0 AND x.held > 0
            ),
            scored AS (
                SELECT h.*,
                       ts_rank_cd(h.doc, q.any_q, 32)::float8 AS rank,
                       CASE WHEN h.doc @@ q.web_q THEN 1.0::float8 ELSE 0.0::float8 END AS web,
                       -- The exponent is capped: 0.5^1000 is 0 for ranking, and a larger one underflows.
                       power(0.5::float8, least(greatest(extract(epoch FROM (\(reference) - h.valid_from))::float8, 0.0)
                                                / 2592000.0, 1000.0)) AS recency
                  FROM matched h CROSS JOIN q
                 WHERE h.viable
            ),
            final AS (
                SELECT s.*,
                       CASE WHEN s.held = s.n THEN 0.5 + 0.5 * s.quality
                            ELSE 0.5 * (s.held - 0.1 * (1.0 - s.quality)) / s.n END AS score
                  FROM (SELECT s0.*,
                               greatest(0.0, least(1.0,
                                   (1.0 - $8::float8) * (0.6 * s0.rank + 0.2 * s0.web + 0.2 * s0.exact::float8 / s0.n)
                                   + $8::float8 * s0.recency)) AS quality
                          FROM scored s0) s
            ),
            ranked AS (
                SELECT f.*, row_number() OVER (ORDER BY f.score DESC, f.valid_from DESC, f.created_at DESC,
                                                        f.memory_id DESC) AS rn
                  FROM final f
                 WHERE f.score >= $9::float8
            )
            SELECT json_build_object(
                       'memories', (SELECT coalesce(json_agg(json_build_object(
                                        'id', r.memory_id, 'text', r.text,
                                        'relevance_score', least(1.0, greatest(0.0, r.score)),
                                        \(metadata)'space_id', r.space_id,
                                        'created_at', gw_time(r.created_at)) ORDER BY r.rn), '[]'::json)
                                      FROM ranked r WHERE r.rn <= $10::int),
                       'query_context', $3::text\(below))::text,
                   (SELECT coalesce(array_agg(r.memory_id ORDER BY r.rn), '{}'::text[]) FROM ranked r WHERE r.rn <= $10::int)
            """
    }
}
