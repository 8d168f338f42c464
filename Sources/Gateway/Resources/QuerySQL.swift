/// Builds the one statement that answers `POST /v1/query`, from fixed fragments chosen by the
/// request's shape. Request data only ever travels as parameters:
///
/// | parameter | value |
/// |---|---|
/// | `$1` `$2` | org id, env |
/// | `$3` | the context |
/// | `$4` | the text search configuration's oid (bigint; unused for `english`) |
/// | `$5` | space id (text, or unused) |
/// | `$6` | unused (was the filters document; kept so the numbering stays) |
/// | `$7` | as_of (text cast to timestamptz, or unused) |
/// | `$8` `$9` `$10` | temporal boost, relevance threshold, max memories |
/// | `$11`… | the metadata filter's keys and values (`MetadataFilter.sql`) |
///
/// The statement returns one row: the response `data` as JSON text, and the shown memory ids.
/// The scoring is documented in `docs/scoring.md`; keep the two in step.
///
/// Top-k without scoring every match (issue 15): a memory holding every term scores ≥ 0.5 and
/// every partial match < 0.5, so the full matches (the AND of the terms, found by the GIN index)
/// are scored first, without the per-term counting a partial match needs (each holds all `n`
/// terms exactly). When only full matches can pass, or when at least `max_memories` of them
/// exist, the partial matches are never read; otherwise the statement falls back to scoring every
/// match. Scores, ties and order are the same as scoring everything
/// (`QueryRankingEquivalenceTests` compares with the old statement).
struct QuerySQL: Sendable {
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

    /// Full matches are scored on their own first (see above). Hybrid search holds terms by
    /// trigram similarity, which no index finds, and `below_threshold` counts every match: both
    /// score everything.
    var scoresFullMatchesFirst: Bool { !hybridSearch && !countBelowThreshold }

    /// Trigram similarity at which a query word matches a memory word (contract: 0.25).
    static let trigramThreshold = "0.25"
    /// Recency halves every 30 days (2,592,000 seconds).
    static let recencyHalfLifeSeconds = "2592000.0"

    var text: String {
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
            \(ranking)
            SELECT json_build_object(
                       'memories', (SELECT coalesce(json_agg(json_build_object(
                                        'id', r.memory_id, 'text', r.text,
                                        'relevance_score', least(1.0, greatest(0.0, r.score)),
                                        \(metadata)'space_id', r.space_id,
                                        'created_at', gw_time(r.created_at)) \(order)), '[]'::json)
                                      FROM ranked r),
                       'query_context', $3::text\(below))::text,
                   (SELECT coalesce(array_agg(r.memory_id \(order)), '{}'::text[]) FROM ranked r)
            """
    }
}

/// The statement's parts, each a fragment of SQL built from the request's shape (never its data).
extension QuerySQL {
    /// The text search configuration: `english`'s is a constant, any other is `$4`.
    private var configuration: String { usesStoredVectors ? "'english'::regconfig" : "$4::bigint::oid::regconfig" }
    /// An immutable expression of parameters: folded to a constant tsquery at planning.
    private var anyQuery: String { "gw_any_query(\(configuration), $3::text)" }
    /// Without hybrid search a term is held only exactly, so the memories holding every term
    /// are those matching the AND of the terms: the GIN index finds just those.
    private var allQuery: String { "gw_all_query(\(configuration), $3::text)" }
    /// ... and those holding n - 1 of them (and more), the OR of the ANDs leaving one term out.
    private var allButOneQuery: String { "gw_all_but_one_query(\(configuration), $3::text)" }
    private var memoryVector: String { usesStoredVectors ? "m.tsv" : "to_tsvector(\(configuration), m.text)" }
    private var versionVector: String { "to_tsvector(\(configuration), v.text)" }
    /// The instant recency is measured from.
    private var reference: String { asOf ? "$7::timestamptz" : "now()" }
    /// The answer's order (ties broken as the contract says).
    private var order: String { "ORDER BY r.score DESC, r.valid_from DESC, r.created_at DESC, r.memory_id DESC" }

    /// The scope, filter and match conditions on `alias`'s rows.
    private func conditions(_ alias: String, vector: String, filter: String?, query: String, excluding: String?) -> String {
        var parts: [String] = []
        if space { parts.append("AND \(alias).space_id = $5::text") }
        if let filter { parts.append("AND \(filter)") }
        // Without hybrid search only memories holding a term can match: let the GIN index find
        // them. With it, any memory may hold a term by trigram similarity, so all are scored.
        if !hybridSearch { parts.append("AND \(vector) @@ \(query)") }
        if let excluding { parts.append("AND NOT \(vector) @@ \(excluding)") }
        return parts.joined(separator: "\n       ")
    }

    /// The scoped memories (and, with `as_of`, versions) whose vector matches `query` (and not
    /// `excluding`).
    private func candidates(_ query: String, excluding: String? = nil) -> String {
        var text = """
            SELECT m.memory_id, m.text, m.metadata, m.space_id, m.created_at, m.updated_at AS valid_from,
                   \(memoryVector) AS doc
              FROM memories m
             WHERE m.org_id = $1 AND m.env = $2
                   AND \(MemoryObject.isLive())
                   \(asOf ? "AND m.updated_at <= $7::timestamptz" : "")
                   \(conditions("m", vector: memoryVector, filter: memoryFilter, query: query, excluding: excluding))
            """
        if asOf {
            text += """

                UNION ALL
                SELECT v.memory_id, v.text, v.metadata, v.space_id, v.created_at, v.valid_from,
                       \(versionVector)
                  FROM memory_versions v
                 WHERE v.org_id = $1 AND v.env = $2
                   AND v.valid_from <= $7::timestamptz AND v.superseded_at > $7::timestamptz
                   AND NOT EXISTS (SELECT 1 FROM memories e WHERE e.org_id = $1 AND e.env = $2
                                     AND e.memory_id = v.memory_id AND NOT \(MemoryObject.isLive("e")))
                       \(conditions("v", vector: versionVector, filter: versionFilter, query: query, excluding: excluding))
                """
        }
        return text
    }

    /// Whether query term `t` is held by trigram similarity (hybrid search only).
    private var fuzzy: String {
        hybridSearch
            ? """
              EXISTS (SELECT 1 FROM qwords qw, unnest(a.words) AS mw
                                   WHERE qw.lexeme = t AND similarity(qw.word, mw) >= \(Self.trigramThreshold))
              """
            : "false"
    }
    /// A memory's words, for trigram matching (hybrid search only).
    private var words: String {
        hybridSearch
            ? "ARRAY(SELECT DISTINCT w FROM unnest(regexp_split_to_array(lower(c.text), '[^[:alnum:]]+')) AS w WHERE w <> '')"
            : "'{}'::text[]"
    }

    /// The score of the rows of `source` (columns of `cand` plus held, exact, n), with only
    // the columns the answer needs (a narrow row keeps sorts and CTEs in memory). One text
    // for every way in, so a memory scores bit for bit the same whichever way it is found.
    private func scored(_ source: String) -> String {
        """
        SELECT s.memory_id, s.text, s.metadata, s.space_id, s.created_at, s.valid_from,
               CASE WHEN s.held = s.n THEN 0.5 + 0.5 * s.quality
                    ELSE 0.5 * (s.held - 0.1 * (1.0 - s.quality)) / s.n END AS score
          FROM (SELECT s0.*,
                       greatest(0.0, least(1.0,
                           (1.0 - $8::float8) * (0.6 * s0.rank + 0.2 * s0.web + 0.2 * s0.exact::float8 / s0.n)
                           + $8::float8 * s0.recency)) AS quality
                  FROM (SELECT h.*,
                               ts_rank_cd(h.doc, q.any_q, 32)::float8 AS rank,
                               CASE WHEN h.doc @@ q.web_q THEN 1.0::float8 ELSE 0.0::float8 END AS web,
                               -- The exponent is capped: 0.5^1000 is 0 for ranking, and a larger one underflows.
                               power(0.5::float8, least(greatest(extract(epoch FROM (\(reference) - h.valid_from))::float8, 0.0)
                                                        / \(Self.recencyHalfLifeSeconds), 1000.0)) AS recency
                          FROM (\(source)) h CROSS JOIN q) s0) s
        """
    }

    /// The best `max_memories` of `relation` (passing the threshold unless `threshold` is
    /// false), best first: a top-N sort, which keeps only that many rows.
    private func best(_ relation: String, threshold: Bool = true, gate: String = "") -> String {
        """
        SELECT f.* FROM \(relation) f
         WHERE \(threshold ? "f.score >= $9::float8" : "true")\(gate)
         ORDER BY f.score DESC, f.valid_from DESC, f.created_at DESC, f.memory_id DESC
         LIMIT $10::int
        """
    }

    /// Every match: held terms counted per memory; partial matches too far under the threshold
    /// are counted (below_threshold) but never scored.
    private var everyMatch: String {
        """
        cand AS (
        \(candidates(onlyFullMatchesPass && !countBelowThreshold ? allQuery : anyQuery))
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
        final AS (
        \(scored("SELECT memory_id, text, metadata, space_id, created_at, valid_from, doc, held, exact, n FROM matched WHERE viable"))
        )
        """
    }

    /// The `ranked` CTE and what it needs: the best `max_memories` passing the threshold.
    private var ranking: String {
        if !scoresFullMatchesFirst {
            return """
                \(everyMatch),
                ranked AS (
                \(best("final"))
                )
                """
        } else {
            // Every full match holds all n terms exactly: held = exact = n without counting.
            let fullTop = """
                full_cand AS (
                \(candidates(allQuery))
                ),
                full_top AS MATERIALIZED (
                \(best("(\(scored("SELECT c.*, q.n::bigint AS held, q.n::bigint AS exact, q.n FROM full_cand c CROSS JOIN q WHERE q.n > 0")))"))
                )
                """
            if onlyFullMatchesPass {
                // relevance_threshold >= 0.5: a partial match (< 0.5) can never pass.
                return """
                    \(fullTop),
                    ranked AS (SELECT * FROM full_top)
                    """
            } else {
                // Every full match passes (0.5 > threshold) and outranks every partial one, and a
                // memory holding n - 1 terms outranks every one holding fewer. So: the full matches
                // when there are max_memories of them (full_top is then full); else those and the
                // n - 1 band when together they are enough, or when no partial match can pass;
                // else every match. Each gate is a constant for the plan's one-time filters: one
                // branch is ever executed, and a band is read only when a gate asks for it.
                let enoughFull = "(SELECT count(*) FROM full_top) >= $10::int"
                let enoughBand = """
                    ((SELECT count(*) FROM full_top) + (SELECT count(*) FROM band_top) >= $10::int
                           OR (SELECT q.n < 2 OR 0.5 * (q.n - 1)::float8 / q.n < $9::float8 FROM q))
                    """
                // The band's best max_memories regardless of the threshold: the threshold keeps a
                // prefix of the score order, so the answer's band rows are among them, and their
                // count (with the full matches') says whether any lower band could show.
                return """
                    \(fullTop),
                    band_cand AS (
                    \(candidates(allButOneQuery, excluding: allQuery))
                    ),
                    band_top AS MATERIALIZED (
                    \(best("(\(scored("""
                        SELECT c.*, (q.n - 1)::bigint AS held, (q.n - 1)::bigint AS exact, q.n FROM band_cand c CROSS JOIN q
                         WHERE q.n > 1 AND 0.5 * (q.n - 1)::float8 / q.n >= $9::float8
                        """)))", threshold: false))
                    ),
                    \(everyMatch),
                    ranked AS (
                    (SELECT f.* FROM full_top f WHERE \(enoughFull))
                    UNION ALL
                    (\(best("(SELECT * FROM full_top UNION ALL SELECT * FROM band_top)",
                            gate: " AND NOT \(enoughFull) AND \(enoughBand)")))
                    UNION ALL
                    (\(best("final", gate: " AND NOT \(enoughFull) AND NOT \(enoughBand)")))
                    )
                    """
            }
        }
    }
}
