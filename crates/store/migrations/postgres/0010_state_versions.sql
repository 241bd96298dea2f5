-- Each write of a tracker's state or counter state records the writing transaction's ID
-- (the column default, which every write sets: `version = DEFAULT` on update). A node keeps
-- the states its ingest writers committed, with the version they committed them at, and a
-- read of many trackers takes a kept state only while its row still has that version:
-- another node's commit, or a counter change, writes the row in another transaction.
ALTER TABLE tracker_state
    ADD COLUMN version BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
ALTER TABLE counter_state
    ADD COLUMN version BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
