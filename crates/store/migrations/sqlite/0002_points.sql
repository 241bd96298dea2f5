-- Points: what devices sent, one row per tracker and fix time (Unix ms). A retransmitted
-- record has the same key and is skipped on insert.
--
-- WITHOUT ROWID makes the primary key the table's own B-tree, so a tracker's points sit
-- together in time order: a range read is one seek and a scan, and a commit dirties about
-- one page per tracker it touches instead of a rowid page plus an index page.
--
-- No foreign key to trackers: trackers are never hard-deleted, so the reference cannot
-- dangle, and the check would cost a lookup on every ingested row.
--
-- A point without a position has NULL in every position column; one with a position has
-- lat, lng, valid and lbs (the rest of the position is optional). The GSM cell is likewise
-- all four columns or none. The checks keep what a broken decoder might produce out.
CREATE TABLE points (
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
    PRIMARY KEY (tracker_id, time),
    CHECK ((lng IS NULL) = (lat IS NULL) AND (valid IS NULL) = (lat IS NULL)
        AND (lbs IS NULL) = (lat IS NULL)),
    CHECK (lat IS NOT NULL OR (altitude IS NULL AND speed IS NULL AND heading IS NULL
        AND satellites IS NULL AND hdop IS NULL)),
    CHECK ((mnc IS NULL) = (mcc IS NULL) AND (lac IS NULL) = (mcc IS NULL)
        AND (cell_id IS NULL) = (mcc IS NULL))
) STRICT, WITHOUT ROWID;
