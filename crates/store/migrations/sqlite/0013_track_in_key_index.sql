-- PostgreSQL's migration 13 carries the track's columns in its key index. SQLite's key index
-- (migration 7) is left narrow: carrying them there cost most of what storing points in
-- arrival order gained for ingest, and SQLite reads a track from its consecutive rows of a
-- message at about its target without them (BENCHMARKS.md).
SELECT 1;
