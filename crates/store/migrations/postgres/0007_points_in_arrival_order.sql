-- SQLite's points table moves to arrival order with its key as an index (see
-- migrations/sqlite/0007). PostgreSQL's tables are heaps in arrival order already, with the
-- primary key an index beside them: nothing changes here.
SELECT 1;
