-- The SQL the gateway sends per request, captured from PostgreSQL's log
-- (log_min_duration_statement=0) at the commit of this file, with its parameters replaced by
-- pgbench variables (run.sh builds the pgbench scripts from these sections; keep the markers).
-- Admission ($1 key hash, $2 client address, $3 limiter on) is the statement `SELECT <14 columns>
-- FROM gw_admit($1, $2::inet, true, $3)`; run.sh writes it with the tenant's hash.

-- GET: GET /v1/memories/{id}, admission and read fused in one statement (one round trip).
-- GET
WITH a AS MATERIALIZED (SELECT * FROM gw_admit('HASH', '127.0.0.1'::inet, true, true)), f AS (SELECT m.memory_id, m.text, m.metadata::text, m.space_id, m.source, m.version, gw_time(m.created_at), gw_time(m.updated_at)
	  FROM a JOIN memories m ON m.org_id = a.org_id AND m.env = a.environment AND m.memory_id = 'm' || :n
	 WHERE a.outcome = 'ok' AND 'read' = ANY (a.scopes))
	SELECT a.outcome, a.org_id, a.key_id, a.key_prefix, a.environment, a.scopes, a.rate_limit, a.remaining, a.reset_seconds, a.retry_after, a.plan, a.monthly_quota, a.max_memories, a.hard_quota, f.*
	  FROM a LEFT JOIN f ON true;
-- END

-- POST /v1/query: admission; then BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL
-- statement_timeout = 5000; this statement; COMMIT (five round trips in all).
-- QUERY
WITH terms AS MATERIALIZED (
	    SELECT coalesce(array_agg(DISTINCT l), '{}'::text[]) AS lexemes
	      FROM unnest(tsvector_to_array(to_tsvector('english'::regconfig, :a_ctx::text))) AS l
	),
	q AS MATERIALIZED (
	    SELECT t.lexemes, cardinality(t.lexemes) AS n,
	           gw_any_query('english'::regconfig, :a_ctx::text) AS any_q,
	           CASE WHEN cardinality(t.lexemes) > 0
	                THEN websearch_to_tsquery('english'::regconfig, :a_ctx::text) END AS web_q
	      FROM terms t
	),
	qwords AS MATERIALIZED (
	    SELECT l AS lexeme, lower(d.token) AS word
	      FROM terms, ts_debug('english'::regconfig, :a_ctx::text) AS d, unnest(d.lexemes) AS l
	     WHERE false AND l = ANY (terms.lexemes)
	    UNION
	    SELECT l, l FROM terms, unnest(terms.lexemes) AS l WHERE false
	),
	cand AS (
	SELECT m.memory_id, m.text, m.metadata, m.space_id, m.created_at, m.updated_at AS valid_from,
	       m.tsv AS doc
	  FROM memories m
	 WHERE m.org_id = :a_org_id AND m.env = :a_environment
	       
	       AND m.tsv @@ gw_all_query('english'::regconfig, :a_ctx::text)
	),
	matched AS (
	    SELECT c.*, x.held, x.exact, q.n,
	           -- A partial match scores below 0.5 * held / n, so one under the threshold
	           -- by that bound is counted (below_threshold) but never ranked.
	           (x.held = q.n OR 0.5 * x.held::float8 / q.n >= :thr::float8) AS viable
	      FROM cand c CROSS JOIN q
	     CROSS JOIN LATERAL (
	           SELECT tsvector_to_array(c.doc) AS lex, '{}'::text[] AS words
	           OFFSET 0) a
	     CROSS JOIN LATERAL (
	           SELECT count(*) FILTER (WHERE y.e) AS exact, count(*) FILTER (WHERE y.e OR y.f) AS held
	             FROM (SELECT t = ANY (a.lex) AS e,
	                          -- trigram matching only for terms not held exactly (CASE short-circuits)
	                          CASE WHEN t = ANY (a.lex) THEN false ELSE false END AS f
	                     FROM unnest(q.lexemes) AS t) y) x
	     WHERE q.n > 0 AND x.held > 0
	),
	scored AS (
	    SELECT h.*,
	           ts_rank_cd(h.doc, q.any_q, 32)::float8 AS rank,
	           CASE WHEN h.doc @@ q.web_q THEN 1.0::float8 ELSE 0.0::float8 END AS web,
	           -- The exponent is capped: 0.5^1000 is 0 for ranking, and a larger one underflows.
	           power(0.5::float8, least(greatest(extract(epoch FROM (now() - h.valid_from))::float8, 0.0)
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
	                       (1.0 - :boost::float8) * (0.6 * s0.rank + 0.2 * s0.web + 0.2 * s0.exact::float8 / s0.n)
	                       + :boost::float8 * s0.recency)) AS quality
	              FROM scored s0) s
	),
	ranked AS (
	    SELECT f.*, row_number() OVER (ORDER BY f.score DESC, f.valid_from DESC, f.created_at DESC,
	                                            f.memory_id DESC) AS rn
	      FROM final f
	     WHERE f.score >= :thr::float8
	)
	SELECT json_build_object(
	           'memories', (SELECT coalesce(json_agg(json_build_object(
	                            'id', r.memory_id, 'text', r.text,
	                            'relevance_score', least(1.0, greatest(0.0, r.score)),
	                            'metadata', r.metadata, 'space_id', r.space_id,
	                            'created_at', gw_time(r.created_at)) ORDER BY r.rn), '[]'::json)
	                          FROM ranked r WHERE r.rn <= :maxm::int),
	           'query_context', :a_ctx::text)::text,
	       (SELECT coalesce(array_agg(r.memory_id ORDER BY r.rn), '{}'::text[]) FROM ranked r WHERE r.rn <= :maxm::int)
-- END

-- POST /v1/memories: admission; then this statement, autocommit (two round trips).
-- INSERT
INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix)
	VALUES (:a_org_id, :a_environment, :a_mid, :a_text, :a_metadata::jsonb, NULL, 'api', :a_rid, :a_key_prefix)
	ON CONFLICT DO NOTHING
	RETURNING m.memory_id, m.text, m.metadata::text, m.space_id, m.source, m.version, gw_time(m.created_at), gw_time(m.updated_at)
-- END
