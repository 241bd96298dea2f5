-- `track/read` and `track/list` read a tracker's period of points in key order, but the rows
-- lie in the heap in arrival order, a few to a page among other trackers' rows: a day of
-- 10,000 points reported 10 at a time is about 1,440 heap pages. The columns those calls
-- read (`track_point_columns!`) ride in the key index as well, where the same day is about
-- 210 leaf pages in key order, read by an index-only scan: 2.7 ms from shared buffers where
-- the heap took 9 (BENCHMARKS.md). The index is wider for every ingested row, and (c) of the
-- bench copies the table with its indexes, so the raw rate pays the same.
--
-- On a large table this rebuilds the key index: the upgrade takes as long as building it.
ALTER TABLE points DROP CONSTRAINT points_pkey,
    ADD PRIMARY KEY (tracker_id, time)
        INCLUDE (lat, lng, altitude, speed, heading, satellites, valid, lbs, alarms, buffered);

-- An index-only scan reads the heap for every page vacuum has not marked all-visible. A
-- table that is only inserted into is vacuumed after 20 % growth by default: on a table of
-- a month of points, every six days, so yesterday's track would still come from the heap.
-- At 1 % it is vacuumed every seven hours or so, and such a vacuum only visits the pages
-- added since the last one.
ALTER TABLE points SET (autovacuum_vacuum_insert_scale_factor = 0.01);
