-- Tracker state: one row per tracker that has sent anything, the newest of everything its
-- points reported (trackd_core::state::TrackerState as JSON; fields added later read as their
-- defaults from older rows). Ingest rewrites the rows of a batch's trackers in the
-- transaction that stores the batch's points, so a reader sees points and state of the same
-- commit; under MVCC readers never wait for that writer.
--
-- No foreign key to trackers, as for points: trackers are never hard-deleted, and the check
-- would cost a lookup per tracker per batch.
--
-- Every batch updates its trackers' rows. Free room in each page (fillfactor) lets
-- PostgreSQL write the new row version beside the old one without touching the index (a HOT
-- update), so the table and its index do not bloat at the rate devices report.
CREATE TABLE tracker_state (
    tracker_id BIGINT PRIMARY KEY,
    state TEXT NOT NULL
) WITH (fillfactor = 70);
