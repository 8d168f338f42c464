-- Query and extraction helpers.

-- The key under which extraction compares statements: lower case, punctuation removed, runs of
-- white space collapsed to one space, trimmed. "I like Tea!" and "i  like tea" share a key.
CREATE FUNCTION gw_statement_key(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT btrim(regexp_replace(regexp_replace(lower(t), '[[:punct:]]+', '', 'g'), '[[:space:]]+', ' ', 'g')) $$;

-- Extraction looks up "is this statement already stored in this space" by the md5 of its key
-- (the key itself may be too long for a btree entry).
CREATE INDEX memories_statement ON memories (org_id, env, space_id, md5(gw_statement_key(text)));
