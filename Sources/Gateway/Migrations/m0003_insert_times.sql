-- A new row's created_at and updated_at come from two calls of gw_now(), which can fall in two
-- different milliseconds: then a memory's created_at, sent back as as_of, found nothing (its first
-- version is valid from updated_at). One instant for both.
CREATE FUNCTION gw_same_insert_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := NEW.created_at;
    RETURN NEW;
END $$;

CREATE TRIGGER memories_insert_times BEFORE INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION gw_same_insert_times();
CREATE TRIGGER spaces_insert_times BEFORE INSERT ON spaces
    FOR EACH ROW EXECUTE FUNCTION gw_same_insert_times();
