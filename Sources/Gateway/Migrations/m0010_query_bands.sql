-- Top-k without scoring every match (issue 15). The memories holding at least n - 1 of a query's
-- n terms are those matching the OR, over each term left out, of the AND of the others: when a
-- query has fewer full matches than max_memories, this band is scored before every match is.
-- Quoted like gw_any_query's lexemes, IMMUTABLE so the planner folds it to a constant tsquery (an
-- index condition on memories_fts). NULL (no band) for fewer than 2 or more than 16 terms: a
-- longer context scores every match instead of building a query of n * (n - 1) lexemes.
CREATE FUNCTION gw_all_but_one_query(cfg regconfig, context text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ WITH l AS (SELECT '''' || replace(replace(x, '\', '\\'), '''', '''''') || '''' AS x, row_number() OVER () AS i
                FROM unnest(tsvector_to_array(to_tsvector(cfg, context))) AS x)
   SELECT CASE WHEN (SELECT count(*) FROM l) BETWEEN 2 AND 16
               THEN (SELECT string_agg('(' || (SELECT string_agg(o.x, ' & ') FROM l o WHERE o.i <> d.i) || ')', ' | ')
                       FROM l d)::tsquery END $$;

-- No JIT for this database's sessions (from their next connection). A query's statement plans
-- branches it will not run (every match, costed over a million memories); their cost crossed
-- jit_above_cost and PostgreSQL spent about 4 s compiling 94 functions for a query that then ran
-- in 80 ms (measured at 1M memories). The gateway's statements are short; none gains from JIT.
-- Skipped where the migrating role may not alter the database.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'jit stays as configured: % may not alter the database', current_user;
END $$;
