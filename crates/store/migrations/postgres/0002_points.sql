-- Points: what devices sent, one row per tracker and fix time (Unix ms). A retransmitted
-- record has the same key and is skipped on insert. Keyed by tracker first: the Citus plan
-- shards by tracker_id and partitions by time.
--
-- No foreign key to trackers: trackers are never hard-deleted, so the reference cannot
-- dangle, and the check would cost a lookup on every ingested row (and a distributed
-- table cannot reference a table sharded otherwise).
--
-- A point without a position has NULL in every position column; one with a position has
-- lat, lng, valid and lbs (the rest of the position is optional). The GSM cell is likewise
-- all four columns or none. The checks keep what a broken decoder might produce out.
--
-- Columns run from 8-byte to 1-byte to variable width: PostgreSQL aligns each field, so
-- this order wastes no padding in rows there will be billions of.
CREATE TABLE points (
    tracker_id BIGINT NOT NULL,
    time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    lat DOUBLE PRECISION CHECK (lat BETWEEN -90 AND 90),
    lng DOUBLE PRECISION CHECK (lng BETWEEN -180 AND 180),
    altitude DOUBLE PRECISION,
    speed DOUBLE PRECISION,
    heading DOUBLE PRECISION,
    hdop DOUBLE PRECISION,
    inputs BIGINT,
    outputs BIGINT,
    lac BIGINT,
    cell_id BIGINT,
    satellites INTEGER,
    battery_level INTEGER CHECK (battery_level BETWEEN 0 AND 100),
    gsm_signal INTEGER CHECK (gsm_signal BETWEEN 0 AND 100),
    mcc INTEGER,
    mnc INTEGER,
    valid BOOLEAN,
    lbs BOOLEAN,
    ignition BOOLEAN,
    motion BOOLEAN,
    buffered BOOLEAN NOT NULL,
    hardware_key TEXT,
    -- JSON object: readings keyed by Navixy input name. Text, as in SQLite: stored and
    -- returned whole, never queried inside.
    io TEXT NOT NULL,
    -- JSON array of alarm names.
    alarms TEXT NOT NULL,
    PRIMARY KEY (tracker_id, time),
    CHECK ((lng IS NULL) = (lat IS NULL) AND (valid IS NULL) = (lat IS NULL)
        AND (lbs IS NULL) = (lat IS NULL)),
    CHECK (lat IS NOT NULL OR (altitude IS NULL AND speed IS NULL AND heading IS NULL
        AND satellites IS NULL AND hdop IS NULL)),
    CHECK ((mnc IS NULL) = (mcc IS NULL) AND (lac IS NULL) = (mcc IS NULL)
        AND (cell_id IS NULL) = (mcc IS NULL))
);
