-- Who wrote the state rows, counted: a node's reads take the states its own ingest writers
-- published (with no read of the rows' versions) while nothing else has written a state
-- since (`shared::published`).
--
-- An ingest writer's commit counts itself in its own row of `state_writes` (its node and
-- lane), in the statement that reads its transaction's ID (`VERSION_AND_FOREIGN`); no other
-- connection updates that row, so writers never wait on each other here. Every other
-- statement that writes `tracker_state` or `counter_state` (the API's counter changes, the
-- admin commands, SQL by hand) counts on a sequence, through a trigger, which never waits
-- either; nextval is not undone by a rollback, which only makes a reader take the rows'
-- versions a while. An ingest writer's connection names its node (`trackd.node`, set when it
-- connects), and the trigger passes its statements by. Counting each of a writer's
-- statements through the trigger instead cost a plpgsql call apiece, 5.5 % of the machine's
-- CPU under (d)'s ingest on PostgreSQL (BENCHMARKS.md).
CREATE TABLE state_writes (
    node TEXT NOT NULL,
    lane INTEGER NOT NULL,
    writes BIGINT NOT NULL,
    PRIMARY KEY (node, lane)
);

CREATE SEQUENCE state_writes_elsewhere;

CREATE FUNCTION count_state_writes_elsewhere() RETURNS trigger AS $$
BEGIN
    PERFORM nextval('state_writes_elsewhere');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tracker_state_writes
    AFTER INSERT OR UPDATE OR DELETE ON tracker_state FOR EACH STATEMENT
    WHEN (coalesce(current_setting('trackd.node', true), '') = '')
    EXECUTE FUNCTION count_state_writes_elsewhere();
CREATE TRIGGER tracker_state_truncated AFTER TRUNCATE ON tracker_state
    FOR EACH STATEMENT EXECUTE FUNCTION count_state_writes_elsewhere();
CREATE TRIGGER counter_state_writes
    AFTER INSERT OR UPDATE OR DELETE ON counter_state FOR EACH STATEMENT
    WHEN (coalesce(current_setting('trackd.node', true), '') = '')
    EXECUTE FUNCTION count_state_writes_elsewhere();
CREATE TRIGGER counter_state_truncated AFTER TRUNCATE ON counter_state
    FOR EACH STATEMENT EXECUTE FUNCTION count_state_writes_elsewhere();
