-- Query and extraction helpers.

-- The key under which extraction compares statements: lower case, punctuation removed, runs of
-- white space collapsed to one space, trimmed. "I like Tea!" and "i  like tea" share a key.
CREATE FUNCTION gw_statement_key(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT btrim(regexp_replace(regexp_replace(lower(t), '[[:punct:]]+', '', 'g'), '[[:space:]]+', ' ', 'g')) $$;

-- Extraction looks up "is this statement already stored in this space" by the md5 of its key
-- (the key itself may be too long for a btree entry).
CREATE INDEX memories_statement ON memories (org_id, env, space_id, md5(gw_statement_key(text)));

-- The OR of the distinct lexemes of to_tsvector(cfg, context) (NULL when there are none): the
-- query's candidates are the memories whose vector matches it. Each lexeme is quoted for tsquery
-- input (quotes and backslashes doubled), so no context can inject query syntax. IMMUTABLE like
-- to_tsvector(regconfig, text): the planner folds it to a constant and estimates it from the
-- tsvector statistics, and `tsv @@ gw_any_query(...)` is an index condition on memories_fts.
CREATE FUNCTION gw_any_query(cfg regconfig, context text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
     FROM unnest(tsvector_to_array(to_tsvector(cfg, context))) AS l $$;

-- The AND of the distinct lexemes of to_tsvector(cfg, context), quoted like gw_any_query's: the
-- candidates of a query that only full matches can pass (relevance_threshold >= 0.5), found by
-- the GIN index instead of scoring every memory holding any term.
CREATE FUNCTION gw_all_query(cfg regconfig, context text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''', ' & ')::tsquery
     FROM unnest(tsvector_to_array(to_tsvector(cfg, context))) AS l $$;
