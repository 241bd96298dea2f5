-- Who wrote the state rows, counted: a node's reads take the states its own ingest writers
-- published (with no read of the rows' versions) while nothing else has written a state
-- since (`shared::published`).
--
-- Each statement that writes `tracker_state` or `counter_state` counts one write. An ingest
-- writer's connection names its node and lane (`trackd.node`, `trackd.lane`, set when it
-- connects) and counts in its own row of `state_writes`, which no other connection updates,
-- so writers never wait on each other here. Every other writer (the API's counter changes,
-- the admin commands, SQL by hand) counts on a sequence, which never waits either; nextval
-- is not undone by a rollback, which only makes a reader take the rows' versions a while.
CREATE TABLE state_writes (
    node TEXT NOT NULL,
    lane INTEGER NOT NULL,
    writes BIGINT NOT NULL,
    PRIMARY KEY (node, lane)
);

CREATE SEQUENCE state_writes_elsewhere;

CREATE FUNCTION count_state_writes() RETURNS trigger AS $$
DECLARE
    writer TEXT := coalesce(current_setting('trackd.node', true), '');
BEGIN
    IF writer = '' THEN
        PERFORM nextval('state_writes_elsewhere');
    ELSE
        INSERT INTO state_writes (node, lane, writes)
        VALUES (writer, coalesce(nullif(current_setting('trackd.lane', true), '')::int, 0), 1)
        ON CONFLICT (node, lane) DO UPDATE SET writes = state_writes.writes + 1;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tracker_state_writes
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tracker_state
    FOR EACH STATEMENT EXECUTE FUNCTION count_state_writes();
CREATE TRIGGER counter_state_writes
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON counter_state
    FOR EACH STATEMENT EXECUTE FUNCTION count_state_writes();
