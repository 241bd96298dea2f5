-- A tracker is read with its tag bindings, and an account's trackers kept in memory
-- (`tracker_cache`) are kept with theirs: a change of a binding counts up the revision of
-- the tracker's account (migration 9) in the same transaction. A tag's deletion removes its
-- bindings, and so counts too.
CREATE FUNCTION tag_bindings_revision() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_tracker_revision(user_id) FROM trackers WHERE id = OLD.tracker_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tracker_id <> OLD.tracker_id) THEN
        PERFORM bump_tracker_revision(user_id) FROM trackers WHERE id = NEW.tracker_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tag_bindings_revision AFTER INSERT OR UPDATE OR DELETE ON tag_bindings
    FOR EACH ROW EXECUTE FUNCTION tag_bindings_revision();
