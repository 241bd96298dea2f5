-- The indexes of live device IDs and phones were partial on `corrupted = 0`, but the shared
-- queries say `NOT corrupted` (PostgreSQL's spelling, and its indexes'). SQLite uses a
-- partial index only when the query repeats its condition, so finding a device's trackers
-- (every device login, every registration) and checking a phone scanned every tracker or
-- source. The same indexes, with the condition as the queries say it: the same rows, since
-- `corrupted` is 0 or 1.
DROP INDEX sources_live_device_id;
DROP INDEX sources_live_phone;
CREATE UNIQUE INDEX sources_live_device_id ON sources (device_id) WHERE NOT corrupted;
CREATE UNIQUE INDEX sources_live_phone ON sources (phone) WHERE NOT corrupted;
