-- Tracker state: one row per tracker that has sent anything, the newest of everything its
-- points reported (trackd_core::state::TrackerState as JSON; fields added later read as their
-- defaults from older rows). Ingest rewrites the rows of a batch's trackers in the
-- transaction that stores the batch's points, so a reader sees points and state of the same
-- commit; under WAL readers never wait for that writer.
--
-- No foreign key to trackers, as for points: trackers are never hard-deleted, and the check
-- would cost a lookup per tracker per batch.
CREATE TABLE tracker_state (
    tracker_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL
) STRICT;
