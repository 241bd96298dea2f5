-- Each account's trackers have a revision that every change to them, or to their devices'
-- sources, counts up in the same transaction (triggers, so no write path can forget it). A
-- reader that keeps an account's trackers in memory (`tracker_cache`) checks one row to know
-- they are still what the tables hold, whichever process or node wrote last. No row means
-- revision 0.
CREATE TABLE tracker_revisions (
    user_id INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL
) STRICT;

INSERT INTO tracker_revisions (user_id, revision)
SELECT DISTINCT user_id, 1 FROM trackers WHERE true;

CREATE TRIGGER trackers_insert_revision AFTER INSERT ON trackers BEGIN
    INSERT INTO tracker_revisions (user_id, revision) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;

-- The old account and the new one: a tracker moved between accounts changes both.
CREATE TRIGGER trackers_update_revision AFTER UPDATE ON trackers BEGIN
    INSERT INTO tracker_revisions (user_id, revision)
    SELECT user_id, 1 FROM (SELECT OLD.user_id AS user_id UNION SELECT NEW.user_id) WHERE true
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;

CREATE TRIGGER trackers_delete_revision AFTER DELETE ON trackers BEGIN
    INSERT INTO tracker_revisions (user_id, revision) VALUES (OLD.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;

-- A tracker is read with its source's columns (`tracker_select!`).
CREATE TRIGGER sources_update_revision AFTER UPDATE ON sources BEGIN
    INSERT INTO tracker_revisions (user_id, revision)
    SELECT DISTINCT user_id, 1 FROM trackers WHERE source_id = NEW.id
    ON CONFLICT (user_id) DO UPDATE SET revision = revision + 1;
END;
