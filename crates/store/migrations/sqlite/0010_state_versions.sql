-- PostgreSQL's state rows record the version (transaction ID) that wrote them, for the states
-- a node keeps in memory. SQLite's one writer publishes what it commits, and the one other
-- write of these rows withdraws its tracker's (`Published::invalidate`): it needs no version.
SELECT 1;
