-- SQLite's partial indexes of live device IDs and phones take PostgreSQL's condition
-- (`NOT corrupted`, see migrations/sqlite/0008). PostgreSQL's have always had it.
SELECT 1;
