-- Each account's trackers have a revision that every change to them, or to their devices'
-- sources, counts up in the same transaction (triggers, so no write path can forget it). A
-- reader that keeps an account's trackers in memory (`tracker_cache`) checks one row to know
-- they are still what the tables hold, whichever node wrote last. No row means revision 0.
CREATE TABLE tracker_revisions (
    user_id BIGINT PRIMARY KEY,
    revision BIGINT NOT NULL
);

INSERT INTO tracker_revisions (user_id, revision)
SELECT DISTINCT user_id, 1 FROM trackers;

CREATE FUNCTION bump_tracker_revision(account BIGINT) RETURNS void AS $$
    INSERT INTO tracker_revisions (user_id, revision) VALUES (account, 1)
    ON CONFLICT (user_id) DO UPDATE SET revision = tracker_revisions.revision + 1;
$$ LANGUAGE sql;

-- The old account and the new one: a tracker moved between accounts changes both.
CREATE FUNCTION trackers_revision() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_tracker_revision(OLD.user_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.user_id <> OLD.user_id) THEN
        PERFORM bump_tracker_revision(NEW.user_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER trackers_revision AFTER INSERT OR UPDATE OR DELETE ON trackers
    FOR EACH ROW EXECUTE FUNCTION trackers_revision();

-- A tracker is read with its source's columns (`tracker_select!`).
CREATE FUNCTION sources_revision() RETURNS trigger AS $$
BEGIN
    PERFORM bump_tracker_revision(user_id)
        FROM (SELECT DISTINCT user_id FROM trackers WHERE source_id = NEW.id) accounts;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sources_revision AFTER UPDATE ON sources
    FOR EACH ROW EXECUTE FUNCTION sources_revision();
