-- A tracker is read with its tag bindings, and an account's trackers kept in memory
-- (`tracker_cache`) are kept with theirs: a change of a binding counts up the revision of
-- the tracker's account (migration 9) in the same transaction. A tag's deletion removes its
-- bindings, and so counts too.
CREATE TRIGGER tag_bindings_insert_revision AFTER INSERT ON tag_bindings BEGIN
    INSERT INTO tracker_revisions (user_id, revision)
    SELECT user_id, 1 FROM trackers WHERE id = NEW.tracker_id
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;

CREATE TRIGGER tag_bindings_update_revision AFTER UPDATE ON tag_bindings BEGIN
    INSERT INTO tracker_revisions (user_id, revision)
    SELECT DISTINCT user_id, 1 FROM trackers WHERE id IN (OLD.tracker_id, NEW.tracker_id)
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;

CREATE TRIGGER tag_bindings_delete_revision AFTER DELETE ON tag_bindings BEGIN
    INSERT INTO tracker_revisions (user_id, revision)
    SELECT user_id, 1 FROM trackers WHERE id = OLD.tracker_id
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;
