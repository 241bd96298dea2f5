-- Points move from a WITHOUT ROWID table clustered by (tracker_id, time) to a rowid table in
-- arrival order, with the key as a unique index beside it.
--
-- Clustered, a commit from N trackers rewrites N table leaves of ~25 rows each, and as the
-- table grows those pages dominate the commit: WAL writes, then checkpoints copying them
-- back. In arrival order a commit appends its rows to a few pages at the end of the table
-- and dirties only index leaves, whose entries are a tenth of a row's size. Measured on
-- this machine with 4,700-row commits from 10,000 trackers, after 5.9 million rows: insert
-- 39 -> 29 ms, COMMIT 143 -> 35 ms (BENCHMARKS.md, "points in arrival order").
--
-- The price: a tracker's history is spread over more table pages, so a long range read of
-- recent points visits more of them. The rows already stored are copied in key order and
-- stay together. PostgreSQL's heap has always been laid out this way.
--
-- ON CONFLICT (tracker_id, time) DO NOTHING uses the unique index as it used the key.
CREATE TABLE points_by_arrival (
    tracker_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    lat REAL CHECK (lat BETWEEN -90 AND 90),
    lng REAL CHECK (lng BETWEEN -180 AND 180),
    altitude REAL,
    speed REAL,
    heading REAL,
    satellites INTEGER,
    hdop REAL,
    valid INTEGER CHECK (valid IN (0, 1)),
    lbs INTEGER CHECK (lbs IN (0, 1)),
    ignition INTEGER CHECK (ignition IN (0, 1)),
    motion INTEGER CHECK (motion IN (0, 1)),
    battery_level INTEGER CHECK (battery_level BETWEEN 0 AND 100),
    inputs INTEGER,
    outputs INTEGER,
    gsm_signal INTEGER CHECK (gsm_signal BETWEEN 0 AND 100),
    mcc INTEGER,
    mnc INTEGER,
    lac INTEGER,
    cell_id INTEGER,
    hardware_key TEXT,
    -- JSON object: readings keyed by Navixy input name.
    io TEXT NOT NULL,
    -- JSON array of alarm names.
    alarms TEXT NOT NULL,
    buffered INTEGER NOT NULL CHECK (buffered IN (0, 1)),
    CHECK ((lng IS NULL) = (lat IS NULL) AND (valid IS NULL) = (lat IS NULL)
        AND (lbs IS NULL) = (lat IS NULL)),
    CHECK (lat IS NOT NULL OR (altitude IS NULL AND speed IS NULL AND heading IS NULL
        AND satellites IS NULL AND hdop IS NULL)),
    CHECK ((mnc IS NULL) = (mcc IS NULL) AND (lac IS NULL) = (mcc IS NULL)
        AND (cell_id IS NULL) = (mcc IS NULL))
) STRICT;

INSERT INTO points_by_arrival SELECT * FROM points ORDER BY tracker_id, time;
DROP TABLE points;
ALTER TABLE points_by_arrival RENAME TO points;
CREATE UNIQUE INDEX points_key ON points (tracker_id, time);
